"""Reading a trade's output from receipt logs, and the plan values' totals."""

from __future__ import annotations

from executor.chain import Receipt, TxLog, decode_revert_reason
from executor.routes import Chain, Hop, PoolKind, Route, RouteQuote, Split
from executor.sending import TRANSFER_TOPIC, WETH_WITHDRAWAL_TOPIC, received_raw
from ledger.ids import Address, BlockNumber, TxHash

TOKEN = Address("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
WETH = Address("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
ME = Address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
OTHER = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
ROUTER = Address("0x0000000000000000000000000000000000000005")


def _word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def _receipt(*logs: TxLog) -> Receipt:
    return Receipt(TxHash("0x" + "00" * 32), BlockNumber(1), "0x" + "00" * 32, True, 1, 1, logs)


def test_transfers_to_the_recipient_are_summed() -> None:
    logs = (
        TxLog(TOKEN, (TRANSFER_TOPIC, _word(OTHER), _word(ME)), (700).to_bytes(32, "big"), 0),
        TxLog(TOKEN, (TRANSFER_TOPIC, _word(ME), _word(OTHER)), (5).to_bytes(32, "big"), 1),
        TxLog(WETH, (TRANSFER_TOPIC, _word(OTHER), _word(ME)), (9).to_bytes(32, "big"), 2),
        TxLog(TOKEN, (TRANSFER_TOPIC, _word(OTHER), _word(ME)), (300).to_bytes(32, "big"), 3),
    )
    assert received_raw([_receipt(*logs)], TOKEN, ME, None) == 1_000


def test_native_output_is_the_routers_weth_withdrawal() -> None:
    logs = (
        TxLog(WETH, (WETH_WITHDRAWAL_TOPIC, _word(ROUTER)), (42).to_bytes(32, "big"), 0),
        TxLog(WETH, (WETH_WITHDRAWAL_TOPIC, _word(OTHER)), (7).to_bytes(32, "big"), 1),
    )
    assert received_raw([_receipt(*logs)], WETH, ME, frozenset({ROUTER})) == 42


def test_revert_reason_of_error_string() -> None:
    from eth_abi.abi import encode

    data = bytes.fromhex("08c379a0") + encode(["string"], ["UniswapV2Router: EXPIRED"])
    assert decode_revert_reason(data) == "UniswapV2Router: EXPIRED"
    assert decode_revert_reason(b"\x12\x34") == ""


def _quote(amount_in: int, amount_out: int, gas: int, block: int) -> RouteQuote:
    route = Route((Hop(PoolKind.V2, ROUTER, TOKEN, WETH, 3000),))
    return RouteQuote(route, amount_in, amount_out, amount_out, gas, BlockNumber(block))


def test_split_and_chain_totals() -> None:
    split = Split((_quote(60, 30, 100_000, 5), _quote(40, 21, 120_000, 4)))
    assert (split.amount_in_raw, split.amount_out_raw, split.gas_units, split.block_number) == (
        100,
        51,
        220_000,
        4,
    )
    chain = Chain((_quote(100, 50, 100_000, 5), _quote(50, 20, 120_000, 5)))
    assert (chain.amount_in_raw, chain.amount_out_raw, chain.gas_units) == (100, 20, 220_000)
