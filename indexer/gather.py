"""The gather step for one block range: everything the classifier needs, fetched concurrently.

    gather_range ──► GatheredRange (frozen) ──► classify_transaction per TxBundle (pure)

For a range it runs the wallets' log sweep and the native scan, then fetches, in batches,
the receipts of every transaction found (gas, and the swap logs that explain a transfer
pair) and the headers of their blocks plus the range's last block (for the checkpoint's
hash and the reorg check of wave 2).

Without `trace_filter` the top-level value of each transaction found comes from
`eth_getTransactionByHash`; internal transfers are then invisible, so the range is
reconciled against `eth_getBalance` and each unexplained change is pinned to a block,
re-read with `debug_traceBlockByNumber` where the node has it, and otherwise returned in
`GatheredRange.unexplained` for review. Transactions a wallet sent that touch no token and
carry no value are also invisible without traces; they show up as unexplained gas.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import structlog

from indexer.classify import TxBundle
from indexer.errors import InconsistentRead, MalformedResponse, RangeTooLarge, RpcError
from indexer.native import (
    NativeScan,
    TraceMethod,
    UnexplainedBalanceChange,
    reconcile_balance,
    scan_native_debug_blocks,
    scan_native_trace_filter,
)
from indexer.records import (
    BlockHeader,
    NativeTransfer,
    TxReceipt,
    parse_address,
    parse_hash,
    parse_quantity,
)
from indexer.rpc import RpcCall
from indexer.sweep import LogSweeper, wallet_filters
from ledger.ids import Address, BlockNumber, ChainId, TxHash

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class GatheredRange:
    """What one range holds for the wallets, ready to classify."""

    chain_id: ChainId
    from_block: BlockNumber
    to_block: BlockNumber
    headers: Mapping[BlockNumber, BlockHeader]
    """Blocks of the transactions found, and `to_block` itself."""
    bundles: tuple[TxBundle, ...]
    """One per transaction touching a wallet, in chain order."""
    trace_method: TraceMethod
    unexplained: tuple[UnexplainedBalanceChange, ...] = ()
    native_complete: bool = True
    """False when native movements could not be verified: no traces and no balance
    history at these blocks (a node restored from a state dump). Book with review."""


async def _top_level_values(
    sweeper: LogSweeper, tx_hashes: Iterable[TxHash], owned: frozenset[Address]
) -> NativeScan:
    hashes = sorted(set(tx_hashes))
    method = "eth_getTransactionByHash"
    results = await sweeper.rpc.batch([RpcCall(method, [h]) for h in hashes])
    transfers: list[NativeTransfer] = []
    blocks: dict[TxHash, BlockNumber] = {}
    for result in results:
        if not isinstance(result, Mapping):
            raise MalformedResponse(method, "transaction not found")
        tx_hash = TxHash(parse_hash(result.get("hash"), method))
        block = BlockNumber(parse_quantity(result.get("blockNumber"), method))
        blocks[tx_hash] = block
        value = parse_quantity(result.get("value", "0x0"), method)
        sender = parse_address(result.get("from"), method)
        to = result.get("to")
        if value and to is not None:
            recipient = parse_address(to, method)
            if sender in owned or recipient in owned:
                transfers.append(NativeTransfer(tx_hash, block, sender, recipient, value, ()))
    return NativeScan(tuple(transfers), frozenset(), blocks)


def _known_deltas(
    wallet: Address, receipts: Iterable[TxReceipt], transfers: Iterable[NativeTransfer]
) -> dict[int, int]:
    deltas: dict[int, int] = {}
    for receipt in receipts:
        if receipt.sender == wallet:
            deltas[receipt.block_number] = deltas.get(receipt.block_number, 0) - receipt.gas_fee_wei
    for transfer in transfers:
        sign = (transfer.recipient == wallet) - (transfer.sender == wallet)
        deltas[transfer.block_number] = (
            deltas.get(transfer.block_number, 0) + sign * transfer.amount_raw
        )
    return deltas


async def gather_range(
    sweeper: LogSweeper,
    chain_id: ChainId,
    wallets: Iterable[Address],
    from_block: int,
    to_block: int,
    trace_method: TraceMethod,
) -> GatheredRange:
    """Fetch the logs, native movements, receipts and headers of [from_block, to_block].

    Raises:
        InconsistentRead: a block's hash changed between reads (reorg): read again.
        RangeTooLarge: a single block was refused as too large.
        RpcError: the node refused a call (a balance fallback without past state is not
            an error: the range comes back with `native_complete=False`).
        RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.batch`.
    """
    owned = frozenset(wallets)
    filters = wallet_filters(owned)
    if trace_method is TraceMethod.TRACE_FILTER:
        logs_task = asyncio.ensure_future(sweeper.fetch_logs(filters, from_block, to_block))
        try:
            native = await scan_native_trace_filter(sweeper.rpc, owned, from_block, to_block)
        except BaseException:
            logs_task.cancel()
            raise
        logs = await logs_task
    else:
        logs = await sweeper.fetch_logs(filters, from_block, to_block)
        native = NativeScan((), frozenset(), {})
    tx_hashes = {entry.tx_hash for entry in logs} | native.sent_tx_hashes
    tx_hashes |= {t.tx_hash for t in native.transfers}
    receipts = await sweeper.fetch_receipts(tx_hashes)
    transfers = list(native.transfers)
    unexplained: list[UnexplainedBalanceChange] = []
    native_complete = True
    if trace_method is not TraceMethod.TRACE_FILTER:
        transfers = list((await _top_level_values(sweeper, tx_hashes, owned)).transfers)
        suspects: list[UnexplainedBalanceChange] = []
        try:
            for wallet in sorted(owned):
                deltas = _known_deltas(wallet, receipts.values(), transfers)
                suspects += await reconcile_balance(
                    sweeper.rpc, wallet, from_block, to_block, deltas
                )
        except RpcError as exc:
            if isinstance(exc, RangeTooLarge):
                raise
            # No state at past blocks: internal native transfers stay unknown.
            log.warning(
                "native_reconcile_unavailable",
                from_block=from_block,
                to_block=to_block,
                code=exc.code,
                reason=exc.message,
            )
            native_complete = False
            suspects = []
        if suspects and trace_method is TraceMethod.DEBUG_CALL_TRACER:
            traced = await scan_native_debug_blocks(
                sweeper.rpc, owned, {s.from_block for s in suspects}
            )
            traced_blocks = {s.from_block for s in suspects}
            transfers = [t for t in transfers if t.block_number not in traced_blocks]
            transfers += traced.transfers
            missing = (traced.sent_tx_hashes | {t.tx_hash for t in traced.transfers}) - set(
                receipts
            )
            receipts.update(await sweeper.fetch_receipts(missing))
            for wallet in sorted(owned):
                deltas = _known_deltas(wallet, receipts.values(), transfers)
                for suspect in suspects:
                    if suspect.wallet != wallet:
                        continue
                    if deltas.get(suspect.from_block, 0) != suspect.actual_delta_raw:
                        unexplained.append(suspect)
        else:
            unexplained = suspects
    blocks = {r.block_number for r in receipts.values()} | {to_block}
    headers = await sweeper.fetch_headers(blocks)
    seen = [(r.block_number, r.block_hash) for r in receipts.values()]
    seen += [(e.block_number, e.block_hash) for e in logs]
    for number, block_hash in seen:
        if headers[number].hash != block_hash:
            raise InconsistentRead(number, block_hash, headers[number].hash)
    by_tx: dict[TxHash, list[NativeTransfer]] = {}
    for transfer in transfers:
        by_tx.setdefault(transfer.tx_hash, []).append(transfer)
    ordered = sorted(receipts.values(), key=lambda r: (r.block_number, r.tx_index))
    bundles = tuple(
        TxBundle(
            chain_id=chain_id,
            block=headers[r.block_number],
            receipt=r,
            native_transfers=tuple(sorted(by_tx.get(r.tx_hash, ()), key=lambda t: t.trace_address)),
        )
        for r in ordered
    )
    log.info(
        "range_gathered",
        chain_id=chain_id,
        from_block=from_block,
        to_block=to_block,
        logs=len(logs),
        transactions=len(bundles),
        native_transfers=len(transfers),
        unexplained=len(unexplained),
        native_complete=native_complete and not unexplained,
        trace_method=str(trace_method),
    )
    return GatheredRange(
        chain_id,
        BlockNumber(from_block),
        BlockNumber(to_block),
        headers,
        bundles,
        trace_method,
        tuple(unexplained),
        native_complete and not unexplained,
    )
