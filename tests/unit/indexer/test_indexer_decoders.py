"""Decoders fed logs built with eth-abi; malformed logs give a DecodeError naming the log."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from indexer_unit_logs import TX, addr, make_log, topic_address

from indexer.decoders.erc20 import TRANSFER_TOPIC, decode_transfer
from indexer.decoders.uniswap_v2 import SWAP_V2_TOPIC, SYNC_TOPIC, decode_swap_v2, decode_sync
from indexer.decoders.uniswap_v3 import (
    INITIALIZE_TOPIC,
    SWAP_V3_TOPIC,
    decode_initialize,
    decode_swap_v3,
)
from indexer.decoders.weth import (
    DEPOSIT_TOPIC,
    WITHDRAWAL_TOPIC,
    decode_deposit,
    decode_withdrawal,
)
from indexer.errors import DecodeError

SIGNATURES = {
    TRANSFER_TOPIC: "Transfer(address,address,uint256)",
    DEPOSIT_TOPIC: "Deposit(address,uint256)",
    WITHDRAWAL_TOPIC: "Withdrawal(address,uint256)",
    SWAP_V2_TOPIC: "Swap(address,uint256,uint256,uint256,uint256,address)",
    SYNC_TOPIC: "Sync(uint112,uint112)",
    SWAP_V3_TOPIC: "Swap(address,address,int256,int256,uint160,uint128,int24)",
    INITIALIZE_TOPIC: "Initialize(uint160,int24)",
}
DECODERS = [
    decode_transfer,
    decode_deposit,
    decode_withdrawal,
    decode_swap_v2,
    decode_sync,
    decode_swap_v3,
    decode_initialize,
]


@pytest.mark.parametrize(("topic", "signature"), SIGNATURES.items())
def test_topics_are_the_event_signature_hashes(topic: bytes, signature: str) -> None:
    assert topic == keccak(text=signature)


def test_transfer() -> None:
    log = make_log(
        addr(9),
        [TRANSFER_TOPIC, topic_address(addr(1)), topic_address(addr(2))],
        encode(["uint256"], [2**256 - 1]),
        log_index=7,
    )
    decoded = decode_transfer(log)
    assert (decoded.token, decoded.sender, decoded.recipient) == (addr(9), addr(1), addr(2))
    assert decoded.amount_raw == 2**256 - 1 and decoded.log_index == 7


def test_weth_events() -> None:
    dep = decode_deposit(
        make_log(addr(5), [DEPOSIT_TOPIC, topic_address(addr(1))], encode(["uint256"], [3]))
    )
    wd = decode_withdrawal(
        make_log(addr(5), [WITHDRAWAL_TOPIC, topic_address(addr(1))], encode(["uint256"], [4]))
    )
    assert (dep.owner, dep.amount_raw, wd.owner, wd.amount_raw) == (addr(1), 3, addr(1), 4)


def test_uniswap_v2_swap_and_sync() -> None:
    swap = decode_swap_v2(
        make_log(
            addr(7),
            [SWAP_V2_TOPIC, topic_address(addr(1)), topic_address(addr(2))],
            encode(["uint256"] * 4, [10, 0, 0, 19]),
        )
    )
    assert (swap.amount0_in_raw, swap.amount1_out_raw, swap.recipient) == (10, 19, addr(2))
    sync = decode_sync(
        make_log(addr(7), [SYNC_TOPIC], encode(["uint112", "uint112"], [5, 2**112 - 1]))
    )
    assert (sync.reserve0_raw, sync.reserve1_raw) == (5, 2**112 - 1)


def test_uniswap_v3_swap_signed_amounts() -> None:
    data = encode(
        ["int256", "int256", "uint160", "uint128", "int24"],
        [-(10**18), 2 * 10**18, 2**96, 10**20, -887272],
    )
    swap = decode_swap_v3(
        make_log(addr(8), [SWAP_V3_TOPIC, topic_address(addr(1)), topic_address(addr(2))], data)
    )
    assert (swap.amount0_raw, swap.amount1_raw) == (-(10**18), 2 * 10**18)
    assert (swap.sqrt_price_x96, swap.liquidity, swap.tick) == (2**96, 10**20, -887272)


def test_erc721_transfer_is_not_an_erc20_amount() -> None:
    log = make_log(
        addr(9),
        [TRANSFER_TOPIC, topic_address(addr(1)), topic_address(addr(2)), encode(["uint256"], [5])],
        b"",
        log_index=3,
    )
    with pytest.raises(DecodeError) as caught:
        decode_transfer(log)
    assert caught.value.tx_hash == TX and caught.value.log_index == 3
    assert caught.value.address == addr(9) and "topics" in caught.value.reason


@pytest.mark.parametrize(
    ("log", "decoder", "reason"),
    [
        (
            make_log(addr(1), [SYNC_TOPIC], encode(["uint256", "uint256"], [2**112, 1])),
            decode_sync,
            "uint112",
        ),
        (make_log(addr(1), [SYNC_TOPIC], b"\x00" * 63), decode_sync, "data bytes"),
        (
            make_log(
                addr(1),
                [TRANSFER_TOPIC, b"\xff" * 32, topic_address(addr(2))],
                encode(["uint256"], [1]),
            ),
            decode_transfer,
            "high bytes",
        ),
        (make_log(addr(1), [DEPOSIT_TOPIC], encode(["uint256"], [1])), decode_deposit, "topics"),
        (make_log(addr(1), [], b""), decode_withdrawal, "signature"),
        (
            make_log(
                addr(1),
                [SWAP_V3_TOPIC, topic_address(addr(1)), topic_address(addr(2))],
                encode(["int256", "int256", "uint256", "uint128", "int256"], [1, -1, 2**160, 1, 0]),
            ),
            decode_swap_v3,
            "uint160",
        ),
        (
            make_log(
                addr(1),
                [SWAP_V3_TOPIC, topic_address(addr(1)), topic_address(addr(2))],
                encode(["int256", "int256", "uint160", "uint128", "int256"], [1, -1, 1, 1, 2**23]),
            ),
            decode_swap_v3,
            "int24",
        ),
    ],
)
def test_malformed_logs_name_the_problem(log, decoder, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DecodeError) as caught:
        decoder(log)
    assert reason in caught.value.reason
    assert TX in str(caught.value)


words = st.binary(min_size=32, max_size=32)


@settings(max_examples=300, deadline=None)
@given(
    decoder=st.sampled_from(DECODERS),
    topic0=st.sampled_from([*SIGNATURES, b"\x00" * 32]),
    topics=st.lists(st.one_of(words, st.binary(max_size=40)), max_size=4),
    data=st.one_of(st.binary(max_size=200), st.lists(words, max_size=6).map(b"".join)),
)
def test_fuzzed_logs_decode_or_raise_decode_error(decoder, topic0, topics, data) -> None:  # type: ignore[no-untyped-def]
    log = make_log(addr(1), [topic0, *topics], data)
    try:
        decoder(log)
    except DecodeError as exc:
        assert exc.log_index == log.log_index


def test_uniswap_v3_initialize() -> None:
    data = encode(["uint160", "int24"], [2**96, -5])
    init = decode_initialize(make_log(addr(8), [INITIALIZE_TOPIC], data))
    assert (init.sqrt_price_x96, init.tick) == (2**96, -5)
