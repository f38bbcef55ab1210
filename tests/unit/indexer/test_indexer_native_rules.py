"""Deciding native transfers from normalised traces (pure): reverted sub-trees move
nothing, a reverted transaction still counts as sent (it paid gas)."""

from __future__ import annotations

from typing import Any

from indexer_unit_logs import addr

from indexer.native import native_scan_from_traces, parse_parity_traces
from ledger.ids import BlockNumber, TxHash

W, ROUTER, CHILD = addr(1), addr(70), addr(71)
TX = TxHash("0x" + "ee" * 32)


def row(
    path: tuple[int, ...], sender: str, to: str, value: int, failed: bool = False
) -> dict[str, Any]:
    return {
        "tx_hash": TX,
        "block": BlockNumber(5),
        "from": sender,
        "to": to,
        "value": value,
        "path": path,
        "failed": failed,
    }


def test_payout_under_a_reverted_call_is_dropped() -> None:
    rows = [
        row((), W, ROUTER, 0),
        row((0,), ROUTER, CHILD, 0, failed=True),
        row((0, 0), CHILD, W, 7),  # inside the reverted call: never happened
        row((1,), ROUTER, W, 5),
    ]
    scan = native_scan_from_traces(rows, frozenset({W}))
    assert [(t.sender, t.recipient, t.amount_raw, t.trace_address) for t in scan.transfers] == [
        (ROUTER, W, 5, (1,))
    ]
    assert scan.sent_tx_hashes == {TX}


def test_reverted_transaction_is_sent_but_moves_nothing() -> None:
    scan = native_scan_from_traces([row((), W, ROUTER, 10, failed=True)], frozenset({W}))
    assert scan.transfers == () and scan.sent_tx_hashes == {TX}


def test_parity_trace_shapes() -> None:
    traces = [
        {
            "type": "call",
            "action": {"from": W, "to": ROUTER, "value": "0x5", "callType": "delegatecall"},
            "transactionHash": TX,
            "blockNumber": 5,
            "traceAddress": [0],
        },
        {
            "type": "suicide",
            "action": {"address": CHILD, "refundAddress": W, "balance": "0x9"},
            "transactionHash": TX,
            "blockNumber": 5,
            "traceAddress": [1],
        },
        {"type": "reward", "action": {"author": W, "value": "0x1"}, "blockNumber": 5},
    ]
    rows = parse_parity_traces(traces)
    assert [(r["value"], r["to"]) for r in rows] == [(0, ROUTER), (9, W)]
