"""classify_transaction on synthetic receipts: each rule, leg numbering, and properties
(amounts conserved per wallet and asset, identities unique, re-classifying is identical)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st
from indexer_unit_logs import BLOCK_HASH, TX, addr, make_log, receipt, topic_address

from indexer.classify import PoolProtocol, PoolTokens, TxBundle, classify_transaction
from indexer.decoders.erc20 import TRANSFER_TOPIC
from indexer.decoders.uniswap_v2 import SWAP_V2_TOPIC
from indexer.decoders.uniswap_v3 import SWAP_V3_TOPIC
from indexer.decoders.weth import DEPOSIT_TOPIC
from indexer.records import BlockHeader, NativeTransfer, RawLog
from ledger.events import NATIVE_ASSET, TX_LEVEL, EventKind, LedgerEvent
from ledger.ids import Address, BlockNumber, ChainId

W1, W2, OUT, POOL, POOL2 = addr(1), addr(2), addr(3), addr(50), addr(51)
TKA, TKB, WETH = addr(100), addr(101), addr(102)
OWNED = frozenset({W1, W2})
HEADER = BlockHeader(BlockNumber(100), BLOCK_HASH, BLOCK_HASH, 1_700_000_000)
POOLS = {
    POOL: PoolTokens(POOL, PoolProtocol.UNISWAP_V2, TKA, WETH),
    POOL2: PoolTokens(POOL2, PoolProtocol.UNISWAP_V3, TKB, WETH),
}


def transfer(
    token: Address, sender: Address, recipient: Address, amount: int, index: int
) -> RawLog:
    return make_log(
        token,
        [TRANSFER_TOPIC, topic_address(sender), topic_address(recipient)],
        encode(["uint256"], [amount]),
        index,
    )


def v2_swap(index: int, a0_in: int, a1_out: int) -> RawLog:
    return make_log(
        POOL,
        [SWAP_V2_TOPIC, topic_address(addr(60)), topic_address(POOL2)],
        encode(["uint256"] * 4, [a0_in, 0, 0, a1_out]),
        index,
    )


def v3_swap(index: int, amount0: int, amount1: int) -> RawLog:
    return make_log(
        POOL2,
        [SWAP_V3_TOPIC, topic_address(addr(60)), topic_address(W1)],
        encode(
            ["int256", "int256", "uint160", "uint128", "int24"], [amount0, amount1, 2**96, 1, 0]
        ),
        index,
    )


def classify(sender: Address, logs: list[RawLog], natives: tuple[NativeTransfer, ...] = (), **kw):  # type: ignore[no-untyped-def]
    bundle = TxBundle(ChainId(1), HEADER, receipt(sender, logs, **kw), natives)
    return classify_transaction(bundle, OWNED, wrapped_native=frozenset({WETH}), pools=POOLS)


def shape(events: tuple[LedgerEvent, ...]) -> list[tuple[str, str, str, int, int, int]]:
    return [(e.kind.value, e.wallet, e.asset, e.amount_raw, e.ref.log_index, e.leg) for e in events]


def test_multi_hop_is_one_disposal_and_one_acquisition() -> None:
    logs = [
        transfer(TKA, W1, POOL, 1000, 0),
        transfer(WETH, POOL, POOL2, 40, 1),
        v2_swap(2, 1000, 40),
        transfer(TKB, POOL2, W1, 777, 3),
        v3_swap(4, -777, 40),
    ]
    result = classify(W1, logs)
    assert shape(result.events) == [
        ("gas", W1, NATIVE_ASSET, 21_000 * 10**9, TX_LEVEL, 0),
        ("swap_out", W1, TKA, 1000, 0, 0),
        ("swap_in", W1, TKB, 777, 3, 0),
    ]
    out_leg, in_leg = result.events[1], result.events[2]
    assert out_leg.swap == in_leg.swap
    assert out_leg.swap is not None
    assert (out_leg.swap.pool, out_leg.swap.token_in, out_leg.swap.token_out) == (POOL, TKA, TKB)
    assert (out_leg.swap.amount_in_raw, out_leg.swap.amount_out_raw) == (1000, 777)
    assert out_leg.group == in_leg.group == TX
    assert out_leg.timestamp == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert all(e.value_usd is None and not e.needs_review for e in result.events)


def test_router_paying_native_eth_is_the_swap_in_leg() -> None:
    router = addr(70)
    natives = (NativeTransfer(TX, BlockNumber(100), router, W1, 5 * 10**17, (1,)),)
    result = classify(W1, [transfer(TKA, W1, POOL, 1000, 0), v2_swap(1, 1000, 5 * 10**17)], natives)
    assert [(e.kind, e.asset, e.ref.log_index) for e in result.events] == [
        (EventKind.GAS, NATIVE_ASSET, TX_LEVEL),
        (EventKind.SWAP_IN, NATIVE_ASSET, TX_LEVEL),
        (EventKind.SWAP_OUT, TKA, 0),
    ]
    assert [e.leg for e in result.events] == [0, 1, 0]


def test_out_and_in_without_a_pool_swap_are_send_and_receive_for_review() -> None:
    result = classify(W1, [transfer(TKA, W1, OUT, 5, 0), transfer(TKB, OUT, W1, 6, 1)])
    kinds = [(e.kind, e.needs_review, e.counterparty) for e in result.events[1:]]
    assert kinds == [(EventKind.SEND, True, OUT), (EventKind.RECEIVE, True, OUT)]


def test_transfer_between_own_wallets_is_not_a_disposal() -> None:
    result = classify(W1, [transfer(TKA, W1, W2, 5, 0)])
    assert shape(result.events)[1:] == [
        ("transfer_out", W1, TKA, 5, 0, 0),
        ("transfer_in", W2, TKA, 5, 0, 1),
    ]
    assert result.events[1].group == result.events[2].group == f"{TX}:0"
    assert result.events[1].counterparty == W2


def test_receipt_from_outside_pays_no_gas_and_needs_review() -> None:
    result = classify(OUT, [transfer(TKA, OUT, W2, 5, 0)])
    assert shape(result.events) == [("receive", W2, TKA, 5, 0, 0)]
    assert result.events[0].needs_review


def test_wrap_consumes_its_native_transfer() -> None:
    deposit = make_log(WETH, [DEPOSIT_TOPIC, topic_address(W1)], encode(["uint256"], [10]), 0)
    natives = (NativeTransfer(TX, BlockNumber(100), W1, WETH, 10, ()),)
    result = classify(W1, [deposit], natives)
    assert shape(result.events)[1:] == [("wrap", W1, WETH, 10, 0, 0)]


def test_deposit_event_of_an_unconfigured_contract_is_ignored() -> None:
    deposit = make_log(addr(77), [DEPOSIT_TOPIC, topic_address(W1)], encode(["uint256"], [10]), 0)
    assert [e.kind for e in classify(W1, [deposit]).events] == [EventKind.GAS]


def test_reverted_transaction_books_gas_only() -> None:
    natives = (NativeTransfer(TX, BlockNumber(100), W1, OUT, 10, ()),)
    result = classify(W1, [], natives, succeeded=False, gas_used=50_000)
    assert shape(result.events) == [("gas", W1, NATIVE_ASSET, 50_000 * 10**9, TX_LEVEL, 0)]


def test_undecodable_log_is_reported_and_the_rest_classified() -> None:
    bad = make_log(TKA, [TRANSFER_TOPIC, topic_address(W1), topic_address(OUT)], b"\x01", 0)
    result = classify(W1, [bad, transfer(TKB, OUT, W1, 3, 1)])
    assert [e.log_index for e in result.decode_errors] == [0]
    assert [e.kind for e in result.events] == [EventKind.GAS, EventKind.RECEIVE]


PARTIES = [W1, W2, OUT, addr(4)]


@settings(max_examples=200, deadline=None)
@given(
    moves=st.lists(
        st.tuples(
            st.sampled_from([TKA, TKB, NATIVE_ASSET]),
            st.sampled_from(PARTIES),
            st.sampled_from(PARTIES),
            st.integers(min_value=0, max_value=10**30),
        ),
        max_size=8,
    ),
    with_swap=st.booleans(),
    sender=st.sampled_from(PARTIES),
)
def test_events_conserve_each_wallets_flows_and_are_idempotent(moves, with_swap, sender) -> None:  # type: ignore[no-untyped-def]
    logs: list[RawLog] = []
    natives: list[NativeTransfer] = []
    expected: Counter[tuple[str, str]] = Counter()
    for i, (asset, src, dst, amount) in enumerate(moves):
        if asset == NATIVE_ASSET:
            natives.append(NativeTransfer(TX, BlockNumber(100), src, dst, amount, (i,)))
        else:
            logs.append(transfer(asset, src, dst, amount, i))
        if src != dst:
            expected[(src, asset)] -= amount
            expected[(dst, asset)] += amount
    if with_swap:
        logs.append(v2_swap(len(moves), 1, 1))
    if sender in OWNED:
        expected[(sender, NATIVE_ASSET)] -= 21_000 * 10**9
    first = classify(sender, logs, tuple(natives))
    again = classify(sender, logs, tuple(natives))
    assert first == again
    sign = {
        EventKind.SWAP_IN: 1,
        EventKind.RECEIVE: 1,
        EventKind.TRANSFER_IN: 1,
        EventKind.SWAP_OUT: -1,
        EventKind.SEND: -1,
        EventKind.TRANSFER_OUT: -1,
        EventKind.GAS: -1,
    }
    booked: Counter[tuple[str, str]] = Counter()
    for e in first.events:
        booked[(e.wallet, e.asset)] += sign[e.kind] * e.amount_raw
        assert e.wallet in OWNED and e.amount_raw > 0
    for key in set(booked) | {k for k in expected if k[0] in OWNED}:
        assert booked[key] == expected[key], key
    ids = [(e.ref.log_index, e.leg) for e in first.events]
    assert len(ids) == len(set(ids))
