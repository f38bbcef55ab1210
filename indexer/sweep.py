"""The log sweep: eth_getLogs over block ranges, plus the receipts and headers it needs.

All wallets of a chain go into ONE pair of filters (topic OR-lists), whatever their number:

    [[Transfer, Deposit, Withdrawal], [wallets...]]   the wallet sends, wraps or unwraps
    [[Transfer], null, [wallets...]]                  the wallet receives

(topic 1 of WETH's Deposit/Withdrawal is the wallet, like Transfer's `from`).

Ranges are adaptive (`AdaptiveSpan`): a range the node refuses as too large, or that times
out, is halved and both halves are fetched; after a run of successes the span grows again.
Chunks run concurrently; the client's semaphore bounds the requests in flight. The same
machinery serves `trace_filter` (indexer.native) and the pools' price logs (indexer.pricing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from indexer.concurrency import run_all
from indexer.decoders.erc20 import TRANSFER_TOPIC
from indexer.decoders.weth import DEPOSIT_TOPIC, WITHDRAWAL_TOPIC
from indexer.errors import MalformedResponse, RangeTooLarge, RpcTimeout
from indexer.records import (
    BlockHeader,
    RawLog,
    TxReceipt,
    parse_header,
    parse_log,
    parse_quantity,
    parse_receipt,
)
from indexer.rpc import RpcCall, RpcClient
from ledger.ids import Address, BlockNumber, TxHash

log = structlog.get_logger(__name__)

T = TypeVar("T")

TopicSlot = tuple[bytes, ...] | None
"""One topic position of a filter: OR of values, or None for any."""


@dataclass(frozen=True, slots=True)
class LogFilter:
    """An eth_getLogs filter without its block range."""

    topics: tuple[TopicSlot, ...]
    addresses: tuple[Address, ...] = ()
    """Empty means any contract."""

    def to_params(self, from_block: int, to_block: int) -> dict[str, Any]:
        """The JSON filter object for this block range.

        Raises:
            Nothing.
        """
        params: dict[str, Any] = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "topics": [
                None if slot is None else ["0x" + t.hex() for t in slot] for slot in self.topics
            ],
        }
        if self.addresses:
            params["address"] = list(self.addresses)
        return params


def address_topic(address: Address) -> bytes:
    """An address as an indexed topic (left-padded to 32 bytes).

    Raises:
        Nothing.
    """
    return bytes(12) + bytes.fromhex(address[2:])


def wallet_filters(wallets: Iterable[Address]) -> tuple[LogFilter, LogFilter]:
    """The two filters that find every ERC-20/WETH log touching any of the wallets.

    Raises:
        Nothing.
    """
    slot = tuple(sorted(address_topic(w) for w in wallets))
    return (
        LogFilter(topics=((TRANSFER_TOPIC, DEPOSIT_TOPIC, WITHDRAWAL_TOPIC), slot)),
        LogFilter(topics=((TRANSFER_TOPIC,), None, slot)),
    )


@dataclass(slots=True)
class AdaptiveSpan:
    """The block span of the next chunk: halved on refusal, doubled after `grow_after` successes.

    A refused span becomes a ceiling that growth stops under, so a node with a fixed limit
    (Anvil's trace_filter: 300 blocks) is not asked too much again and again; after
    `probe_after` successes at the ceiling the ceiling is doubled (results may have
    been dense only locally).
    """

    span: int = 2000
    min_span: int = 1
    max_span: int = 100_000
    grow_after: int = 4
    probe_after: int = 32
    successes: int = 0
    halvings: int = 0
    ceiling: int | None = None

    def shrink(self, refused_span: int) -> None:
        """A range of `refused_span` blocks was refused.

        Raises:
            Nothing.
        """
        self.ceiling = max(self.min_span, refused_span - 1)
        self.span = max(self.min_span, min(self.span, refused_span // 2))
        self.successes = 0
        self.halvings += 1

    def succeed(self) -> None:
        """A chunk succeeded at the current span.

        Raises:
            Nothing.
        """
        self.successes += 1
        limit = self.max_span if self.ceiling is None else self.ceiling
        if self.span >= limit and self.ceiling is not None:
            if self.successes >= self.probe_after:
                self.ceiling = min(self.max_span, self.ceiling * 2)
                self.successes = 0
            return
        if self.successes >= self.grow_after:
            self.span = min(limit, self.span * 2)
            self.successes = 0


async def sweep_ranges(
    fetch: Callable[[int, int], Awaitable[list[T]]],
    from_block: int,
    to_block: int,
    span: AdaptiveSpan,
    max_parallel_chunks: int = 4,
) -> list[T]:
    """Run `fetch(lo, hi)` over [from_block, to_block] in adaptive chunks; concatenate results.

    Results come back in block order of the chunks (each chunk's own order preserved).

    Raises:
        RangeTooLarge: a single block was refused.
        RpcTimeout: a single block timed out.
        (and whatever `fetch` raises otherwise)
    """

    async def one(lo: int, hi: int) -> list[T]:
        try:
            items = await fetch(lo, hi)
        except (RangeTooLarge, RpcTimeout) as exc:
            if lo == hi:
                raise
            span.shrink(hi - lo + 1)
            log.info(
                "range_split",
                from_block=lo,
                to_block=hi,
                reason=type(exc).__name__,
                next_span=span.span,
            )
            mid = (lo + hi) // 2
            left, right = await run_all([one(lo, mid), one(mid + 1, hi)])
            return left + right
        span.succeed()
        return items

    out: list[T] = []
    cursor = from_block
    while cursor <= to_block:
        chunks: list[tuple[int, int]] = []
        while cursor <= to_block and len(chunks) < max_parallel_chunks:
            hi = min(to_block, cursor + span.span - 1)
            chunks.append((cursor, hi))
            cursor = hi + 1
        for found in await run_all(one(lo, hi) for lo, hi in chunks):
            out.extend(found)
    return out


RANGED_TIMEOUT_ATTEMPTS = 2
"""Attempts for a multi-block ranged query: after that, splitting beats waiting."""


def ranged_attempts(rpc: RpcClient, from_block: int, to_block: int) -> int:
    """Timeout budget of a ranged query: short while the range can still be split.

    Raises:
        Nothing.
    """
    if to_block > from_block:
        return min(RANGED_TIMEOUT_ATTEMPTS, rpc.retry.max_attempts)
    return rpc.retry.max_attempts


def _sort_key(entry: RawLog) -> tuple[int, int]:
    return (entry.block_number, entry.log_index)


class LogSweeper:
    """Fetches logs, receipts and headers for block ranges through one `RpcClient`."""

    def __init__(
        self,
        rpc: RpcClient,
        *,
        span: AdaptiveSpan | None = None,
        max_parallel_chunks: int = 4,
    ) -> None:
        self.rpc = rpc
        self.span = span or AdaptiveSpan()
        self.max_parallel_chunks = max_parallel_chunks

    async def fetch_logs(
        self, filters: Sequence[LogFilter], from_block: int, to_block: int
    ) -> tuple[RawLog, ...]:
        """All logs matching any filter in the range, de-duplicated, in chain order.

        Raises:
            RangeTooLarge: a single block was refused as too large.
            RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.batch`.
        """

        async def fetch(lo: int, hi: int) -> list[RawLog]:
            results = await self.rpc.batch(
                [RpcCall("eth_getLogs", [f.to_params(lo, hi)]) for f in filters],
                timeout_attempts=ranged_attempts(self.rpc, lo, hi),
            )
            found: list[RawLog] = []
            for result in results:
                if not isinstance(result, list):
                    raise MalformedResponse("eth_getLogs", "result is not a list")
                found.extend(parse_log(item) for item in result)
            return found

        found = await sweep_ranges(fetch, from_block, to_block, self.span, self.max_parallel_chunks)
        unique = {(e.tx_hash, e.log_index): e for e in found if not e.removed}
        return tuple(sorted(unique.values(), key=_sort_key))

    async def fetch_receipts(self, tx_hashes: Iterable[TxHash]) -> dict[TxHash, TxReceipt]:
        """The receipts of these transactions (batched).

        Raises:
            MalformedResponse: a receipt is missing (the node does not know the tx).
            RpcError, RpcTimeout, RpcUnavailable: see `RpcClient.batch`.
        """
        hashes = sorted(set(tx_hashes))
        results = await self.rpc.batch([RpcCall("eth_getTransactionReceipt", [h]) for h in hashes])
        receipts = [parse_receipt(r) for r in results]
        return {r.tx_hash: r for r in receipts}

    async def fetch_headers(self, numbers: Iterable[int]) -> dict[BlockNumber, BlockHeader]:
        """Headers (hash, parent hash, timestamp) of these blocks (batched).

        Raises:
            MalformedResponse: a block does not exist yet.
            RpcError, RpcTimeout, RpcUnavailable: see `RpcClient.batch`.
        """
        wanted = sorted(set(numbers))
        results = await self.rpc.batch(
            [RpcCall("eth_getBlockByNumber", [hex(n), False]) for n in wanted]
        )
        headers = [parse_header(r) for r in results]
        return {h.number: h for h in headers}

    async def fetch_head(self) -> BlockNumber:
        """The node's latest block number.

        Raises:
            RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.call`.
        """
        return BlockNumber(
            parse_quantity(await self.rpc.call("eth_blockNumber"), "eth_blockNumber")
        )
