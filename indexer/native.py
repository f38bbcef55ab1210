"""Native-coin movements of the wallets: what they sent, what they received, what they paid.

Logs do not show the native coin. Three ways to find its movements, in order of cost:

1. `trace_filter` (Parity/OpenEthereum style; Anvil 1.7.1, Erigon, Reth, Nethermind): two
   ranged calls per chunk, `fromAddress=[wallets]` and `toAddress=[wallets]`. The first
   returns every call a wallet made, so also the transactions it sent (for their gas, even
   with zero value or a revert); the second every call into a wallet, including internal
   ones (a router paying out ETH, WETH's withdraw). Chosen whenever the node has it.
   The two address lists are queried separately: nodes differ on whether both together
   mean AND or OR (Anvil 1.7.1: OR; OpenEthereum: AND; Erigon: a `mode` field).
   Transactions with an internal value transfer are re-read with `trace_transaction`
   (one batched call) to see whether an ancestor call reverted. Anvil refuses
   `trace_filter` ranges over 300 blocks ("block range too large, currently limited to
   300"), which the adaptive span learns.
2. `debug_traceBlockByNumber` with `callTracer` (Geth-style nodes): one call per block, so
   used only for blocks already suspected (never to scan a range).
3. Balance reconciliation (`reconcile_balance`): `eth_getBalance` at the range's ends
   compared with the movements already known (gas and top-level values of the receipts the
   log sweep found); a mismatch is bisected down to single blocks and reported as
   `UnexplainedBalanceChange`, to be explained with (2) or flagged for review.
   Needs state at past blocks (an archive node or a recent range).

Reverted calls move nothing and are dropped (a trace with `error`, and any trace below one
seen in the same answer); a reverted transaction still pays gas, so its hash is kept in
`sent_tx_hashes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from indexer.errors import MalformedResponse, RpcError
from indexer.records import NativeTransfer, parse_address, parse_hash, parse_quantity
from indexer.rpc import RpcCall, RpcClient
from indexer.sweep import AdaptiveSpan, ranged_attempts, sweep_ranges
from ledger.ids import Address, BlockNumber, TxHash

log = structlog.get_logger(__name__)

_METHOD_NOT_FOUND = (-32601, -32004)
TRACE_SPAN = 300
"""Initial trace_filter span: Anvil 1.7.1 refuses ranges over 300 blocks."""


class TraceMethod(StrEnum):
    """How this node lets us discover native transfers."""

    TRACE_FILTER = "trace_filter"
    DEBUG_CALL_TRACER = "debug_callTracer"
    BALANCE_RECONCILE = "balance_reconcile"


@dataclass(frozen=True, slots=True)
class NativeScan:
    """What a range scan found: native transfers touching the wallets and the txs they sent."""

    transfers: tuple[NativeTransfer, ...]
    sent_tx_hashes: frozenset[TxHash]
    """Every transaction a wallet signed in the range (it paid gas for each)."""
    tx_blocks: Mapping[TxHash, BlockNumber]


@dataclass(frozen=True, slots=True)
class UnexplainedBalanceChange:
    """A wallet's native balance moved by more or less than the known movements explain."""

    wallet: Address
    from_block: BlockNumber
    to_block: BlockNumber
    expected_delta_raw: int
    actual_delta_raw: int

    @property
    def unexplained_raw(self) -> int:
        """Actual minus expected change (positive: unexplained income)."""
        return self.actual_delta_raw - self.expected_delta_raw


def _is_method_missing(exc: RpcError) -> bool:
    text = exc.message.lower()
    return (
        exc.code in _METHOD_NOT_FOUND
        or "not found" in text
        or "not supported" in text
        or ("does not exist" in text)
        or "unsupported" in text
    )


async def detect_trace_method(rpc: RpcClient) -> TraceMethod:
    """Probe the node once for the cheapest way to find native transfers.

    Raises:
        RpcTimeout, RpcUnavailable, MalformedResponse: the probe itself could not run.
    """
    probes = (
        (TraceMethod.TRACE_FILTER, "trace_filter", [{"fromBlock": "0x0", "toBlock": "0x0"}]),
        (
            TraceMethod.DEBUG_CALL_TRACER,
            "debug_traceBlockByNumber",
            ["0x0", {"tracer": "callTracer"}],
        ),
    )
    for choice, method, params in probes:
        try:
            await rpc.call(method, *params)
        except RpcError as exc:
            if _is_method_missing(exc):
                continue
            raise
        log.info("trace_method_detected", method=str(choice), url=rpc.redacted_url)
        return choice
    log.info(
        "trace_method_detected", method=str(TraceMethod.BALANCE_RECONCILE), url=rpc.redacted_url
    )
    return TraceMethod.BALANCE_RECONCILE


def parse_parity_traces(
    traces: Sequence[Any], method: str = "trace_filter"
) -> list[dict[str, Any]]:
    """Normalise Parity-style traces to dicts with tx hash, block, from, to, value, path, failed.

    Raises:
        MalformedResponse: a trace lacks the fields every trace has.
    """
    out: list[dict[str, Any]] = []
    for trace in traces:
        if not isinstance(trace, Mapping) or not isinstance(trace.get("action"), Mapping):
            raise MalformedResponse(method, f"not a trace: {trace!r:.80}")
        action = trace["action"]
        kind = trace.get("type")
        tx_hash = trace.get("transactionHash")
        if tx_hash is None:  # block rewards have no transaction
            continue
        if kind == "call":
            sender, recipient = action.get("from"), action.get("to")
            value = action.get("value", "0x0")
            if action.get("callType") in ("delegatecall", "staticcall", "callcode"):
                value = "0x0"  # no value moves between accounts on these
        elif kind == "create":
            result = trace.get("result") or {}
            sender, recipient = action.get("from"), result.get("address")
            value = action.get("value", "0x0")
        elif kind in ("suicide", "selfdestruct"):
            sender, recipient = action.get("address"), action.get("refundAddress")
            value = action.get("balance", "0x0")
        else:
            continue
        path = trace.get("traceAddress", [])
        if not isinstance(path, list):
            raise MalformedResponse(method, "traceAddress is not a list")
        out.append(
            {
                "tx_hash": TxHash(parse_hash(tx_hash, method)),
                "block": BlockNumber(parse_quantity(trace.get("blockNumber"), method)),
                "from": parse_address(sender, method) if sender else None,
                "to": parse_address(recipient, method) if recipient else None,
                "value": parse_quantity(value, method),
                "path": tuple(int(p) for p in path),
                "failed": "error" in trace,
            }
        )
    return out


def _under_failure(path: tuple[int, ...], failed: Iterable[tuple[int, ...]]) -> bool:
    return any(path[: len(f)] == f for f in failed)


def native_scan_from_traces(
    rows: Sequence[Mapping[str, Any]], wallets: frozenset[Address]
) -> NativeScan:
    """Decide, from normalised traces, the native transfers and the sent transactions (pure).

    Raises:
        Nothing (pure).
    """
    failed_paths: dict[TxHash, list[tuple[int, ...]]] = {}
    for row in rows:
        if row["failed"]:
            failed_paths.setdefault(row["tx_hash"], []).append(row["path"])
    transfers: dict[tuple[TxHash, tuple[int, ...]], NativeTransfer] = {}
    sent: set[TxHash] = set()
    blocks: dict[TxHash, BlockNumber] = {}
    for row in rows:
        tx_hash: TxHash = row["tx_hash"]
        if row["path"] == () and row["from"] in wallets:
            sent.add(tx_hash)
            blocks[tx_hash] = row["block"]
        if row["value"] == 0 or row["from"] is None or row["to"] is None:
            continue
        if row["from"] not in wallets and row["to"] not in wallets:
            continue
        if _under_failure(row["path"], failed_paths.get(tx_hash, ())):
            continue
        blocks[tx_hash] = row["block"]
        transfers[(tx_hash, row["path"])] = NativeTransfer(
            tx_hash=tx_hash,
            block_number=row["block"],
            sender=row["from"],
            recipient=row["to"],
            amount_raw=row["value"],
            trace_address=row["path"],
        )
    ordered = sorted(transfers.values(), key=lambda t: (t.block_number, t.tx_hash, t.trace_address))
    return NativeScan(tuple(ordered), frozenset(sent), blocks)


async def scan_native_trace_filter(
    rpc: RpcClient,
    wallets: Iterable[Address],
    from_block: int,
    to_block: int,
    span: AdaptiveSpan | None = None,
) -> NativeScan:
    """Find the wallets' native transfers and sent transactions with `trace_filter`.

    Raises:
        RangeTooLarge: a single block's traces were refused.
        RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.batch`.
    """
    owned = frozenset(wallets)
    addresses = sorted(a.lower() for a in owned)

    async def fetch(lo: int, hi: int) -> list[dict[str, Any]]:
        base = {"fromBlock": hex(lo), "toBlock": hex(hi)}
        results = await rpc.batch(
            [
                RpcCall("trace_filter", [{**base, "fromAddress": addresses}]),
                RpcCall("trace_filter", [{**base, "toAddress": addresses}]),
            ],
            timeout_attempts=ranged_attempts(rpc, lo, hi),
        )
        rows: list[dict[str, Any]] = []
        for result in results:
            if not isinstance(result, list):
                raise MalformedResponse("trace_filter", "result is not a list")
            rows.extend(parse_parity_traces(result))
        return rows

    rows = await sweep_ranges(fetch, from_block, to_block, span or AdaptiveSpan(span=TRACE_SPAN))
    # An address filter hides the parents of an internal call: re-read the whole call tree
    # of each transaction with an internal value transfer, so a payout inside a reverted
    # (and caught) sub-call is dropped.
    internal = sorted(
        {r["tx_hash"] for r in rows if r["path"] != () and r["value"] and not r["failed"]}
    )
    if internal:
        full = await rpc.batch([RpcCall("trace_transaction", [h]) for h in internal])
        rows = [r for r in rows if r["tx_hash"] not in set(internal)]
        for result in full:
            if not isinstance(result, list):
                raise MalformedResponse("trace_transaction", "result is not a list")
            rows.extend(parse_parity_traces(result, "trace_transaction"))
    return native_scan_from_traces(rows, owned)


def _flatten_call_tracer(
    frame: Mapping[str, Any],
    tx_hash: TxHash,
    block: BlockNumber,
    path: tuple[int, ...],
    out: list[dict[str, Any]],
) -> None:
    method = "debug_traceBlockByNumber"
    kind = str(frame.get("type", "CALL")).upper()
    value = frame.get("value", "0x0") if kind not in ("DELEGATECALL", "STATICCALL") else "0x0"
    sender, recipient = frame.get("from"), frame.get("to")
    out.append(
        {
            "tx_hash": tx_hash,
            "block": block,
            "from": parse_address(sender, method) if sender else None,
            "to": parse_address(recipient, method) if recipient else None,
            "value": parse_quantity(value or "0x0", method),
            "path": path,
            "failed": "error" in frame,
        }
    )
    for i, child in enumerate(frame.get("calls") or ()):
        if not isinstance(child, Mapping):
            raise MalformedResponse(method, "call frame is not an object")
        _flatten_call_tracer(child, tx_hash, block, (*path, i), out)


async def scan_native_debug_blocks(
    rpc: RpcClient, wallets: Iterable[Address], blocks: Iterable[int]
) -> NativeScan:
    """Find native transfers in the given blocks with `debug_traceBlockByNumber` (callTracer).

    Raises:
        RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.batch`.
    """
    owned = frozenset(wallets)
    numbers = sorted(set(blocks))
    results = await rpc.batch(
        [RpcCall("debug_traceBlockByNumber", [hex(n), {"tracer": "callTracer"}]) for n in numbers]
    )
    rows: list[dict[str, Any]] = []
    for number, result in zip(numbers, results, strict=True):
        if not isinstance(result, list):
            raise MalformedResponse("debug_traceBlockByNumber", "result is not a list")
        for entry in result:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("result"), Mapping):
                raise MalformedResponse("debug_traceBlockByNumber", "entry lacks a result frame")
            tx_hash = TxHash(parse_hash(entry.get("txHash"), "debug_traceBlockByNumber"))
            _flatten_call_tracer(entry["result"], tx_hash, BlockNumber(number), (), rows)
    return native_scan_from_traces(rows, owned)


async def fetch_balance(rpc: RpcClient, wallet: Address, block: int) -> int:
    """The wallet's native balance at the end of `block`.

    Raises:
        RpcError: the node has no state for that block (not an archive node).
        RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.call`.
    """
    return parse_quantity(await rpc.call("eth_getBalance", wallet, hex(block)), "eth_getBalance")


async def reconcile_balance(
    rpc: RpcClient,
    wallet: Address,
    from_block: int,
    to_block: int,
    known_deltas: Mapping[int, int],
) -> list[UnexplainedBalanceChange]:
    """Compare balance changes over [from_block, to_block] with the known per-block deltas.

    A mismatch over a range is bisected (O(log n) balance reads per mismatching block) until
    each unexplained change is pinned to one block.

    Raises:
        RpcError: the node keeps no state at those blocks.
        RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.call`.
    """
    balances: dict[int, int] = {}

    async def balance_at(block: int) -> int:
        if block not in balances:
            balances[block] = await fetch_balance(rpc, wallet, block)
        return balances[block]

    def expected(lo: int, hi: int) -> int:
        return sum(delta for block, delta in known_deltas.items() if lo <= block <= hi)

    found: list[UnexplainedBalanceChange] = []

    async def check(lo: int, hi: int) -> None:
        actual = await balance_at(hi) - await balance_at(lo - 1)
        want = expected(lo, hi)
        if actual == want:
            return
        if lo == hi:
            found.append(
                UnexplainedBalanceChange(wallet, BlockNumber(lo), BlockNumber(hi), want, actual)
            )
            log.warning(
                "native_balance_unexplained",
                wallet=wallet,
                block_number=lo,
                expected_delta_raw=want,
                actual_delta_raw=actual,
            )
            return
        mid = (lo + hi) // 2
        await check(lo, mid)
        await check(mid + 1, hi)

    await check(max(from_block, 1), to_block)
    return found
