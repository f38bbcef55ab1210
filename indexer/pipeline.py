"""The running indexer of one chain: backfill and follow the head into the store.

One step (`ChainIndexer.step`):

    checkpoint ──► reorg check (stored checkpoint hash vs the node's) ──► rollback if forked
        │
        ▼
    gather_range [lo, hi] ──► fetch_pool_prices [lo, hi] + pool states seeded from the store
        │
        ▼  (pure)
    classify_transaction ──► apply_prices (first configured pool per token; all pools
        │                    only where that leaves a price missing)
        ▼
    ONE store transaction: events (idempotent) + blocks + prices + pool states + checkpoint

`lo` is the block after the checkpoint (or `start_block`), `hi` at most
`max_block_range - 1` further and never past `head - confirmations`. After booking, the
chain's lots and disposals are re-derived (`derive`): every stored event of the chain is
booked (`ledger.booking`) and replayed by the lot engine under the owner's policy, and the
result replaces the derived rows in one transaction. That is a full replay: O(events of
the chain) per call, ~the engine's speed (well under a second for 10^4 events), so a
backfill re-derives at most every `derive_every_seconds` and once when it catches up.

Pool states: values use the pools' state at the end of the previous block, so a range
needs each pool's last state before `lo`. The indexer stores, per batch, each pricing
pool's last state as a price row (`source` = `POOL_STATE_SOURCE`, `asset` = the pool,
`price_usd` = token0's price in token1, exact) and seeds the next batch's `PriceBook` from
it. Values are therefore the same whatever the batch boundaries (a restart, a kill, a
different `max_block_range`). Where no state is stored before the first batch and the
chain starts later than block 0, `eth_call` at `start_block - 1` is the fallback; without
state there the price stays missing.

Every priced event also caches the USD price of its asset at the valuation block (source
`POOL_PRICE_SOURCE`), or a miss; a missing price is flagged on the event
(`price_missing`), booked at zero by `ledger.booking`, and logged (`prices_missing`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import structlog

from indexer.classify import PoolProtocol, PoolTokens, TxBundle, classify_transaction
from indexer.decoders.erc20 import TRANSFER_TOPIC
from indexer.errors import InconsistentRead, IndexerError, MalformedResponse
from indexer.gather import GatheredRange, gather_range
from indexer.native import TraceMethod, detect_trace_method
from indexer.pricing import (
    PoolPrice,
    PriceBook,
    apply_prices,
    fetch_decimals,
    fetch_pool_price_at,
    fetch_pool_prices,
    fetch_pool_tokens,
)
from indexer.reorg import find_fork_block
from indexer.rpc import RpcClient
from indexer.sweep import LogSweeper, address_topic
from ledger.booking import BookingError, book_events
from ledger.engine import EngineError, LedgerResult, Policy, replay
from ledger.events import NATIVE_ASSET, LedgerEvent
from ledger.ids import Address, BlockHash, BlockNumber, ChainId, LogIndex
from ledger.store import (
    BlockRecord,
    PricePoint,
    Store,
    WalletRecord,
    add_events,
    derived_from_result,
    find_latest_price,
    get_checkpoint,
    load_events,
    put_blocks,
    put_prices,
    replace_derived,
    rollback_to_block,
    set_chain_state,
    set_checkpoint,
    sources_for,
    upsert_chain,
    upsert_wallets,
)

log = structlog.get_logger(__name__)

POOL_STATE_SOURCE = "pool_state"
"""Price rows holding a pool's exact state (token0 in token1) at the end of a block."""
POOL_PRICE_SOURCE = "pool_logs"
"""Price rows holding an asset's USD price at a valuation block, from pool logs."""
_END_OF_BLOCK = LogIndex(1 << 30)


class DerivationFailed(IndexerError):
    """The lot engine refused the chain's booked events (e.g. a sale of more than held)."""

    def __init__(self, chain_id: int, reason: str) -> None:
        self.chain_id = chain_id
        self.reason = reason
        super().__init__(f"chain {chain_id}: lots could not be derived: {reason}")


@dataclass(frozen=True, slots=True)
class PricingPool:
    """A pool that prices a token; `primary` when it is the token's first configured source."""

    pool: Address
    protocol: PoolProtocol
    primary: bool


@dataclass(frozen=True, slots=True)
class ChainPlan:
    """What to index on one chain and how (built from the settings by `harvestd`)."""

    chain_id: ChainId
    name: str
    native_symbol: str
    wallets: tuple[WalletRecord, ...]
    start_block: int
    confirmations: int
    max_block_range: int
    wrapped_native: Address | None
    usd_stables: frozenset[Address]
    decimals: Mapping[Address, int]
    """Decimals known from the settings; the rest are read from the chain."""
    pricing_pools: tuple[PricingPool, ...]
    policy: Policy
    max_concurrency: int = 4

    @property
    def owned(self) -> frozenset[Address]:
        """The owner's wallet addresses on this chain."""
        return frozenset(w.address for w in self.wallets)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one indexing step did."""

    from_block: int
    to_block: int
    """The checkpoint after the step (`from_block - 1` when nothing was booked)."""
    head_block: int
    """The node's head minus the confirmations."""
    events_booked: int
    rolled_back_to: int | None = None
    retry: bool = False
    """True when the step must be run again (a reorg was rolled back, a read raced one)."""

    @property
    def caught_up(self) -> bool:
        """Whether the checkpoint has reached the confirmed head."""
        return not self.retry and self.to_block >= self.head_block


@dataclass
class ChainIndexer:
    """Indexes one chain into the store (one instance per chain; not shared across tasks)."""

    plan: ChainPlan
    store: Store
    rpc: RpcClient
    derive_every_seconds: float = 5.0
    _sweeper: LogSweeper | None = None
    _trace_method: TraceMethod | None = None
    _pools: dict[Address, PoolTokens] = field(default_factory=dict)
    _decimals: dict[Address, int] = field(default_factory=dict)
    _last_derive: float = 0.0
    needs_derive: bool = True
    """Whether the derived lots lag the booked events (set by booking and rollbacks)."""

    async def prepare(self) -> None:
        """Detect the node's trace method, read pool tokens and token decimals, register
        the chain and its wallets in the store.

        Raises:
            RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: the node failed.
            StoreError: the store refused the write.
        """
        if self._sweeper is not None:
            return
        self._sweeper = LogSweeper(self.rpc, max_parallel_chunks=self.plan.max_concurrency)
        self._trace_method = await detect_trace_method(self.rpc)
        self._pools = await fetch_pool_tokens(
            self.rpc, {p.pool: p.protocol for p in self.plan.pricing_pools}
        )
        tokens = {t for p in self._pools.values() for t in (p.token0, p.token1)}
        if self.plan.wrapped_native is not None:
            tokens.add(self.plan.wrapped_native)
        self._decimals = dict(self.plan.decimals)
        missing = tokens - set(self._decimals)
        if missing:
            self._decimals.update(await fetch_decimals(self.rpc, missing))

        def register() -> None:
            with self.store.transaction("register chain") as session:
                upsert_chain(session, self.plan.chain_id, self.plan.name, self.plan.native_symbol)
                upsert_wallets(session, self.plan.wallets)

        await asyncio.to_thread(register)
        log.info(
            "indexer_prepared",
            chain_id=self.plan.chain_id,
            trace_method=str(self._trace_method),
            pools=len(self._pools),
        )

    def on_client(self, rpc: RpcClient) -> ChainIndexer:
        """This indexer, with what `prepare` learned (trace method, pools, decimals, the
        adaptive block span) kept, reading through another client — the daemon opens one
        client per tick but prepares once per process.

        Raises:
            Nothing.
        """
        twin = replace(self, rpc=rpc, _sweeper=None)
        if self._sweeper is not None:
            twin._sweeper = LogSweeper(
                rpc, span=self._sweeper.span, max_parallel_chunks=self.plan.max_concurrency
            )
        return twin

    @property
    def sweeper(self) -> LogSweeper:
        """The log sweeper (after `prepare`).

        Raises:
            RuntimeError: `prepare` has not run.
        """
        if self._sweeper is None:
            raise RuntimeError("ChainIndexer.prepare() must run first")
        return self._sweeper

    # ------------------------------------------------------------------ one step

    async def confirmed_head(self) -> int:
        """The node's latest block minus the confirmations.

        Raises:
            RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: the node failed.
        """
        return int(await self.sweeper.fetch_head()) - self.plan.confirmations

    async def step(self, to_block: int | None = None) -> StepOutcome:
        """Check for a reorg, then gather, classify, price and book the next range.

        Raises:
            RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: the node failed.
            StoreError: the store refused the write.
        """
        await self.prepare()
        plan = self.plan
        started = time.monotonic()
        head = await self.confirmed_head()
        target = head if to_block is None else min(head, to_block)
        checkpoint = await asyncio.to_thread(self._read_checkpoint)
        if checkpoint is not None:
            current = await self._header_hash(checkpoint[0])
            if current is None or current.lower() != checkpoint[1].lower():
                fork = await self._roll_back(checkpoint[0])
                return StepOutcome(fork + 1, fork, head, 0, rolled_back_to=fork, retry=True)
        lo = plan.start_block if checkpoint is None else checkpoint[0] + 1
        if lo > target:
            return StepOutcome(lo, lo - 1, head, 0)
        hi = min(lo + plan.max_block_range - 1, target)
        try:
            gathered = await gather_range(
                self.sweeper,
                plan.chain_id,
                plan.owned,
                lo,
                hi,
                self._trace_method or TraceMethod.BALANCE_RECONCILE,
            )
        except InconsistentRead as exc:
            log.warning(
                "range_read_raced_reorg", chain_id=plan.chain_id, block_number=exc.block_number
            )
            return StepOutcome(lo, lo - 1, head, 0, retry=True)
        observed, decode_errors = await fetch_pool_prices(
            self.sweeper, self._pools, self._decimals, lo, hi
        )
        for error in decode_errors:
            log.warning("pool_log_undecodable", chain_id=plan.chain_id, reason=str(error))
        seeds = await self._seeds(lo, first=checkpoint is None)
        events, points = self._value(gathered, [*seeds, *observed])
        if checkpoint is not None:
            still = await self._header_hash(checkpoint[0])
            if still is None or still.lower() != checkpoint[1].lower():
                return StepOutcome(lo, lo - 1, head, 0, retry=True)
        states = _last_states(observed, hi)
        new = await asyncio.to_thread(self._book, gathered, events, points, states, head)
        if new:
            self.needs_derive = True
        seconds = time.monotonic() - started
        log.info(
            "blocks_indexed",
            chain_id=plan.chain_id,
            from_block=lo,
            to_block=hi,
            events=new,
            transactions=len(gathered.bundles),
            native_complete=gathered.native_complete,
            seconds=round(seconds, 3),
        )
        missing = [e for e in events if e.price_missing]
        if missing:
            log.warning(
                "prices_missing",
                chain_id=plan.chain_id,
                from_block=lo,
                to_block=hi,
                count=len(missing),
                assets=sorted({e.asset for e in missing}),
            )
        return StepOutcome(lo, hi, head, new)

    def _read_checkpoint(self) -> tuple[int, str] | None:
        with self.store.reader("read checkpoint") as session:
            found = get_checkpoint(session, self.plan.chain_id)
        return None if found is None else (int(found.block_number), str(found.block_hash))

    async def _header_hash(self, number: int) -> str | None:
        try:
            headers = await self.sweeper.fetch_headers([number])
        except MalformedResponse:
            return None  # the block no longer exists: the chain got shorter
        header = headers.get(BlockNumber(number))
        return None if header is None else str(header.hash)

    async def _roll_back(self, checkpoint_block: int) -> int:
        fork = await find_fork_block(
            self.store, self.sweeper, self.plan.chain_id, checkpoint_block, self.plan.start_block
        )

        def apply() -> dict[str, int]:
            with self.store.transaction("reorg rollback") as session:
                # Below start_block this deletes the whole chain: it is re-indexed.
                summary = rollback_to_block(session, self.plan.chain_id, BlockNumber(fork))
            return {
                "events": summary.events,
                "blocks": summary.blocks,
                "prices": summary.prices,
                "lots": summary.lots,
                "disposals": summary.disposals,
            }

        counts = await asyncio.to_thread(apply)
        self.needs_derive = True
        log.warning(
            "reorg_rolled_back",
            chain_id=self.plan.chain_id,
            checkpoint_block=checkpoint_block,
            fork_block=fork,
            **counts,
        )
        await self.derive(force=True)
        return fork

    async def _seeds(self, lo: int, *, first: bool) -> list[PoolPrice]:
        def read() -> list[PoolPrice]:
            found: list[PoolPrice] = []
            if lo <= 0:
                return found
            with self.store.reader("read pool states") as session:
                for pool, tokens in sorted(self._pools.items()):
                    point = find_latest_price(
                        session,
                        self.plan.chain_id,
                        pool,
                        BlockNumber(lo - 1),
                        source=POOL_STATE_SOURCE,
                    )
                    if point is not None and point.price_usd is not None:
                        found.append(
                            PoolPrice(
                                pool,
                                tokens.token0,
                                tokens.token1,
                                point.price_usd,
                                point.block_number,
                                _END_OF_BLOCK,
                            )
                        )
            return found

        seeds = await asyncio.to_thread(read)
        if first and lo > 0:
            seeded = {s.pool for s in seeds}
            for pool, tokens in sorted(self._pools.items()):
                if pool not in seeded:
                    fallback = await fetch_pool_price_at(self.rpc, tokens, self._decimals, lo - 1)
                    if fallback is not None:
                        seeds.append(fallback)
        return seeds

    def _value(
        self, gathered: GatheredRange, prices: Sequence[PoolPrice]
    ) -> tuple[list[LedgerEvent], list[PricePoint]]:
        plan = self.plan
        primary_pools = {p.pool for p in plan.pricing_pools if p.primary}
        numeraire = plan.wrapped_native or NATIVE_ASSET
        primary = PriceBook.build(
            {a: t for a, t in self._pools.items() if a in primary_pools},
            self._decimals,
            plan.usd_stables,
            numeraire,
            [p for p in prices if p.pool in primary_pools],
        )
        fallback = PriceBook.build(self._pools, self._decimals, plan.usd_stables, numeraire, prices)
        wrapped = frozenset({plan.wrapped_native}) if plan.wrapped_native else frozenset()
        events: list[LedgerEvent] = []
        owned_topics = frozenset(address_topic(w) for w in plan.owned)
        for bundle in gathered.bundles:
            classified = classify_transaction(
                _without_foreign_transfers(bundle, owned_topics),
                plan.owned,
                wrapped_native=wrapped,
                pools=self._pools,
            )
            for error in classified.decode_errors:
                log.warning("log_undecodable", chain_id=plan.chain_id, reason=str(error))
            valued = apply_prices(classified.events, primary)
            if any(e.price_missing for e in valued):
                valued = apply_prices(classified.events, fallback)
            events.extend(valued)
        if not gathered.native_complete:
            log.warning(
                "native_movements_unverified",
                chain_id=plan.chain_id,
                from_block=gathered.from_block,
                to_block=gathered.to_block,
            )
        points: dict[tuple[Address, int], PricePoint] = {}
        for event in events:
            block = int(event.ref.block_number) - 1
            for book in (primary, fallback):
                price = book.usd_price(event.asset, block)
                if price is not None:
                    break
            points[(event.asset, block)] = PricePoint(
                plan.chain_id, event.asset, BlockNumber(block), price, POOL_PRICE_SOURCE
            )
        return events, list(points.values())

    def _book(
        self,
        gathered: GatheredRange,
        events: Sequence[LedgerEvent],
        points: Sequence[PricePoint],
        states: Sequence[PoolPrice],
        head: int,
    ) -> int:
        plan = self.plan
        blocks = [
            BlockRecord(
                plan.chain_id,
                header.number,
                BlockHash(header.hash),
                BlockHash(header.parent_hash),
                datetime.fromtimestamp(header.timestamp, tz=UTC),
            )
            for header in gathered.headers.values()
        ]
        pool_points = [
            PricePoint(plan.chain_id, s.pool, s.block_number, s.price0_in_1, POOL_STATE_SOURCE)
            for s in states
        ]
        last = gathered.headers[gathered.to_block]
        with self.store.transaction("book range") as session:
            new = add_events(session, events)
            put_blocks(session, blocks)
            put_prices(session, [*points, *pool_points])
            set_checkpoint(session, plan.chain_id, gathered.to_block, BlockHash(last.hash))
            set_chain_state(session, plan.chain_id, BlockNumber(max(head, 0)))
        return new

    # ------------------------------------------------------------------ derived

    async def derive(self, *, force: bool = False) -> int:
        """Replay the chain's events under the owner's policy and replace its derived rows
        (skipped unless something was booked or rolled back since the last time, or `force`).

        Returns the number of open lots, or -1 when there was nothing to re-derive.

        Raises:
            DerivationFailed: the lot engine refused the events.
            StoreError: the store refused the read or write.
        """
        if not (self.needs_derive or force):
            return -1
        count = await asyncio.to_thread(
            derive_chain, self.store, self.plan.chain_id, self.plan.policy
        )
        self.needs_derive = False
        self._last_derive = time.monotonic()
        return count

    async def run(
        self,
        to_block: int | None = None,
        *,
        on_step: Callable[[StepOutcome], None] | None = None,
    ) -> StepOutcome:
        """Step until the checkpoint reaches `to_block` (or the confirmed head), re-deriving
        lots every `derive_every_seconds` and at the end.

        Raises:
            DerivationFailed, StoreError, RpcError, RpcTimeout, RpcUnavailable,
            MalformedResponse: see `step` and `derive`.
        """
        while True:
            outcome = await self.step(to_block)
            if on_step is not None:
                on_step(outcome)
            if outcome.retry:
                continue
            done = outcome.caught_up or (to_block is not None and outcome.to_block >= to_block)
            if done:
                await self.derive()
                return outcome
            if (
                self.needs_derive
                and time.monotonic() - self._last_derive >= self.derive_every_seconds
            ):
                await self.derive()


def _without_foreign_transfers(bundle: TxBundle, owned_topics: frozenset[bytes]) -> TxBundle:
    """The bundle without `Transfer` logs between two outside addresses: they move nothing
    of the owner's (the classifier nets flows per owned wallet), and decoding them
    (checksumming two addresses each) dominated the time of spam-heavy receipts."""
    logs = bundle.receipt.logs
    kept = tuple(
        entry
        for entry in logs
        if not entry.topics
        or entry.topics[0] != TRANSFER_TOPIC
        or len(entry.topics) < 3
        or entry.topics[1] in owned_topics
        or entry.topics[2] in owned_topics
    )
    if len(kept) == len(logs):
        return bundle
    return replace(bundle, receipt=replace(bundle.receipt, logs=kept))


def _last_states(observed: Iterable[PoolPrice], hi: int) -> list[PoolPrice]:
    last: dict[Address, PoolPrice] = {}
    for price in sorted(observed, key=lambda p: (p.block_number, p.log_index)):
        if price.block_number <= hi:
            last[price.pool] = price
    return list(last.values())


def _unique_lot_ids(result: LedgerResult, chain_id: ChainId) -> LedgerResult:
    """Work around the engine giving two open lots one id (a wash sale that carries a
    loss into two pieces of one replacement lot both name it `<lot>~<sale>`): the store
    keys lots by id, so later duplicates get `#2`, `#3`... (stable: replay is ordered)."""
    seen: dict[str, int] = {}
    holdings = []
    renamed = 0
    for holding in result.holdings:
        lots = []
        for lot in holding.lots:
            count = seen.get(lot.id, 0) + 1
            seen[lot.id] = count
            if count > 1:
                renamed += 1
                lot = replace(lot, id=f"{lot.id}#{count}")
            lots.append(lot)
        holdings.append(replace(holding, lots=tuple(lots)))
    if not renamed:
        return result
    log.warning("lot_ids_duplicated", chain_id=chain_id, renamed=renamed)
    return replace(result, holdings=tuple(holdings))


def derive_chain(store: Store, chain_id: ChainId, policy: Policy) -> int:
    """Book every stored event of a chain, replay it, store the derived lots and disposals.

    Returns the number of open lots.

    Raises:
        DerivationFailed: the events cannot be booked or replayed.
        StoreError: the store refused the read or write.
    """
    with store.transaction("derive lots") as session:
        events = load_events(session, chain_id)
        try:
            booking = book_events(events)
            result = replay(booking.events, policy)
        except (BookingError, EngineError) as exc:
            raise DerivationFailed(chain_id, str(exc)) from exc
        result = _unique_lot_ids(result, chain_id)
        derived = derived_from_result(result, sources_for(events))
        replace_derived(session, chain_id, derived)
    log.info(
        "lots_derived",
        chain_id=chain_id,
        events=len(events),
        lots=len(derived.lots),
        disposals=len(derived.disposals),
        unpriced=len(booking.unpriced),
    )
    return len(derived.lots)
