"""The composition point: Settings + store (+ stage job factories) become a running daemon.

Nothing else builds engines, clients or the scheduler. `build_daemon(settings, store,
stages)` returns a `DaemonParts` (the `Daemon`, its HTTP server, its metrics and the
read model); `harvestd.commands.run` runs it.

Jobs built from the settings:

    index:<chain_id>     every chains[*].poll_interval_seconds   Stages.index_chain(...)
    strategy_scan        on strategy.schedule (cron, UTC)         Stages.scan(...)       if wired
    execute_approved     every jobs.execute_interval_seconds      Stages.execute(...)    if wired
    expire_proposals     every jobs.expire_interval_seconds       built in (store only)

Plugging in a stage (the lead): each factory takes the settings and the store (and the
chain, for indexing) and returns a `JobFunction` (`async (JobContext) -> None`), e.g.

    Stages(index_chain=indexer_backfill_job, scan=strategy_scan_job, execute=executor_job)

A job does its database work in whole `Store.transaction()` blocks run through
`asyncio.to_thread`, checks `context.is_stopping()` between them, reports trades with
`context.record_trades(...)`, and raises on failure (the daemon's supervisor logs,
counts and retries it). Until the indexer's backfill is wired, `index_chain` defaults to
`track_chain_head`, which only records the chain head (eth_blockNumber) in the store.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import col, select

from harvestd.daemon import (
    Backoff,
    Cron,
    Daemon,
    Every,
    JobContext,
    JobFunction,
    JobKind,
    JobName,
    JobSpec,
    utc_now,
)
from harvestd.logs import get_logger
from harvestd.metrics import DaemonMetrics
from harvestd.server import ChainProgress, DaemonServer, JsonObject, build_app
from harvestd.settings import ChainSettings, Settings
from indexer.rpc import RpcClient
from ledger.ids import BlockNumber, ChainId
from ledger.store import (
    AssetRecord,
    DisposalTerm,
    LotRecord,
    ProposalRecord,
    Store,
    expire_proposals,
    get_chain_state,
    get_checkpoint,
    list_assets,
    list_proposals,
    load_disposals,
    load_lots,
    set_chain_state,
    upsert_chain,
)
from ledger.store.rows import ProposalRow

__all__ = [
    "DaemonParts",
    "IndexJobFactory",
    "StageJobFactory",
    "Stages",
    "StoreReadModel",
    "build_daemon",
    "build_jobs",
    "expire_proposals_job",
    "track_chain_head",
]

log = get_logger(__name__)

IndexJobFactory = Callable[[Settings, ChainSettings, Store], JobFunction]
"""Builds the indexing job of one chain."""
StageJobFactory = Callable[[Settings, Store], JobFunction]
"""Builds the strategy scan or the executor's run."""


# ------------------------------------------------------------------ stage: placeholders


def track_chain_head(settings: Settings, chain: ChainSettings, store: Store) -> JobFunction:
    """A stand-in index job: read the head (eth_blockNumber), record it as the chain state.

    Replaced by the indexer's backfill; keeps /healthz and the lag gauge honest meanwhile.
    """
    chain_id = ChainId(chain.chain_id)
    rpc_url = chain.rpc_url.get_secret_value()

    def record(head: BlockNumber) -> None:
        with store.transaction("record chain head") as session:
            upsert_chain(session, chain_id, chain.name, chain.native_symbol)
            set_chain_state(session, chain_id, head)

    async def run(context: JobContext) -> None:
        async with RpcClient(rpc_url, max_concurrency=1, timeout_seconds=10.0) as rpc:
            head = BlockNumber(int(await rpc.call("eth_blockNumber"), 16))
        await asyncio.to_thread(record, head)
        log.debug("chain_head_recorded", chain_id=chain_id, head_block=head)

    return run


# ------------------------------------------------------------------- built-in upkeep


def expire_proposals_job(store: Store, clock: Callable[[], datetime] = utc_now) -> JobFunction:
    """The job that marks open/approved proposals past their expiry as expired."""

    def expire() -> list[str]:
        with store.transaction("expire proposals") as session:
            return expire_proposals(session, clock())

    async def run(context: JobContext) -> None:
        expired = await asyncio.to_thread(expire)
        if expired:
            log.info("proposals_expired", count=len(expired), proposal_ids=expired)

    return run


# ------------------------------------------------------------------------- stages


@dataclass(frozen=True, slots=True)
class Stages:
    """The stage jobs plugged into the daemon; None leaves that stage out."""

    index_chain: IndexJobFactory | None = track_chain_head
    scan: StageJobFactory | None = None
    execute: StageJobFactory | None = None
    extra: tuple[JobSpec, ...] = field(default=())
    """Further jobs, added as given (tests, soak runs)."""


def build_jobs(settings: Settings, store: Store, stages: Stages) -> tuple[JobSpec, ...]:
    """Every job the settings call for, with the stages that are wired."""
    jobs: list[JobSpec] = []
    if stages.index_chain is not None:
        for chain in settings.chains:
            jobs.append(
                JobSpec(
                    name=JobName(f"index:{chain.chain_id}"),
                    kind=JobKind.INDEX,
                    schedule=Every(timedelta(seconds=chain.poll_interval_seconds)),
                    run=stages.index_chain(settings, chain, store),
                    chain_id=ChainId(chain.chain_id),
                )
            )
    if stages.scan is not None:
        jobs.append(
            JobSpec(
                name=JobName("strategy_scan"),
                kind=JobKind.SCAN,
                schedule=Cron(settings.strategy.schedule),
                run=stages.scan(settings, store),
                run_at_start=False,
            )
        )
    if stages.execute is not None:
        jobs.append(
            JobSpec(
                name=JobName("execute_approved"),
                kind=JobKind.EXECUTE,
                schedule=Every(timedelta(seconds=settings.jobs.execute_interval_seconds)),
                run=stages.execute(settings, store),
            )
        )
    jobs.append(
        JobSpec(
            name=JobName("expire_proposals"),
            kind=JobKind.EXPIRE,
            schedule=Every(timedelta(seconds=settings.jobs.expire_interval_seconds)),
            run=expire_proposals_job(store),
        )
    )
    jobs.extend(stages.extra)
    return tuple(jobs)


# --------------------------------------------------------------------- read model


def _lot_json(lot: LotRecord, chain_id: ChainId, symbols: Mapping[str, str]) -> JsonObject:
    return {
        "chain_id": chain_id,
        "lot_id": lot.lot_id,
        "wallet": lot.wallet,
        "asset": lot.asset,
        "symbol": symbols.get(lot.asset.lower()),
        "amount_raw": str(lot.amount_raw),
        "remaining_raw": str(lot.remaining_raw),
        "cost_usd": lot.cost_usd,
        "remaining_cost_usd": lot.remaining_cost_usd,
        "acquired_at": lot.acquired_at,
        "holding_period_start": lot.holding_period_start,
        "tx_hash": lot.source.tx_hash,
        "block_number": lot.source.block_number,
    }


def _proposal_json(proposal: ProposalRecord) -> JsonObject:
    return {
        "id": proposal.id,
        "kind": proposal.kind,
        "status": proposal.status.value,
        "chain_id": proposal.chain_id,
        "wallet": proposal.wallet,
        "reason": proposal.reason,
        "created_at": proposal.created_at,
        "updated_at": proposal.updated_at,
        "expires_at": proposal.expires_at,
        "expected_short_term_gain_usd": proposal.expected_short_term_gain_usd,
        "expected_long_term_gain_usd": proposal.expected_long_term_gain_usd,
        "expected_exempt_gain_usd": proposal.expected_exempt_gain_usd,
        "expected_tax_effect_usd": proposal.expected_tax_effect_usd,
        "expected_cost_usd": proposal.expected_cost_usd,
        "trade_count": proposal.trade_count,
        "status_note": proposal.status_note,
        "details": proposal.details,
    }


def _symbols(assets: Sequence[AssetRecord]) -> dict[str, str]:
    return {asset.address.lower(): asset.symbol for asset in assets}


class StoreReadModel:
    """`harvestd.server.LedgerReadModel` over the store, for the configured chains."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def chain_progress(self) -> Sequence[ChainProgress]:
        """Each configured chain's checkpoint and last seen head.

        Raises:
            StoreError: the store cannot be read.
        """
        found: list[ChainProgress] = []
        with self._store.reader("chain progress") as session:
            for chain in self._settings.chains:
                chain_id = ChainId(chain.chain_id)
                checkpoint = get_checkpoint(session, chain_id)
                state = get_chain_state(session, chain_id)
                found.append(
                    ChainProgress(
                        chain_id=chain_id,
                        name=chain.name,
                        indexed_block=None if checkpoint is None else checkpoint.block_number,
                        head_block=None if state is None else state.head_block_number,
                        indexed_at=None if checkpoint is None else checkpoint.updated_at,
                    )
                )
        return found

    def proposal_counts(self) -> Mapping[str, int]:
        """How many proposals are in each status.

        Raises:
            StoreError: the store cannot be read.
        """
        with self._store.reader("proposal counts") as session:
            rows = session.exec(
                select(col(ProposalRow.status), func.count()).group_by(col(ProposalRow.status))
            ).all()
        return {str(status): int(count) for status, count in rows}

    def lots(self) -> Sequence[JsonObject]:
        """Open lots of every configured chain.

        Raises:
            StoreError: the store cannot be read.
        """
        found: list[JsonObject] = []
        with self._store.reader("lots") as session:
            for chain in self._settings.chains:
                chain_id = ChainId(chain.chain_id)
                symbols = _symbols(list_assets(session, chain_id))
                found.extend(
                    _lot_json(lot, chain_id, symbols)
                    for lot in load_lots(session, chain_id, open_only=True)
                )
        return found

    def holdings(self) -> Sequence[JsonObject]:
        """Open holdings per chain, wallet and asset: remaining amount and cost.

        Raises:
            StoreError: the store cannot be read.
        """
        found: list[JsonObject] = []
        with self._store.reader("holdings") as session:
            for chain in self._settings.chains:
                chain_id = ChainId(chain.chain_id)
                symbols = _symbols(list_assets(session, chain_id))
                amounts: Counter[tuple[str | None, str]] = Counter()
                costs: dict[tuple[str | None, str], Decimal] = {}
                counts: Counter[tuple[str | None, str]] = Counter()
                for lot in load_lots(session, chain_id, open_only=True):
                    key = (lot.wallet, lot.asset)
                    amounts[key] += lot.remaining_raw
                    costs[key] = costs.get(key, Decimal(0)) + lot.remaining_cost_usd
                    counts[key] += 1
                found.extend(
                    {
                        "chain_id": chain_id,
                        "wallet": wallet,
                        "asset": asset,
                        "symbol": symbols.get(asset.lower()),
                        "amount_raw": str(amounts[(wallet, asset)]),
                        "cost_usd": costs[(wallet, asset)],
                        "lots": counts[(wallet, asset)],
                    }
                    for wallet, asset in sorted(amounts, key=lambda k: (k[0] or "", k[1]))
                )
        return found

    def proposals(self) -> Sequence[JsonObject]:
        """Every proposal, oldest first.

        Raises:
            StoreError: the store cannot be read.
        """
        with self._store.reader("proposals") as session:
            return [_proposal_json(p) for p in list_proposals(session)]

    def gains(self, year: int) -> JsonObject:
        """Realised gains of the tax year that starts in `year` (owner.tax_year_start).

        Raises:
            StoreError: the store cannot be read.
        """
        start = self._settings.owner.tax_year_start
        since = datetime(year, start.month, start.day, tzinfo=UTC)
        until = datetime(year + 1, start.month, start.day, tzinfo=UTC)
        by_term: dict[str, Decimal] = {}
        proceeds = cost = disallowed = Decimal(0)
        disposals = 0
        with self._store.reader("gains") as session:
            for chain in self._settings.chains:
                for disposal in load_disposals(
                    session, ChainId(chain.chain_id), since=since, until=until
                ):
                    disposals += 1
                    proceeds += disposal.proceeds_usd
                    cost += disposal.cost_usd
                    disallowed += disposal.disallowed_loss_usd
                    if disposal.term is DisposalTerm.MIXED and disposal.matches:
                        for piece in disposal.matches:
                            name = piece.term.value if piece.term else "none"
                            gain = piece.gain_usd + piece.disallowed_loss_usd
                            by_term[name] = by_term.get(name, Decimal(0)) + gain
                    else:
                        name = disposal.term.value if disposal.term else "none"
                        by_term[name] = by_term.get(name, Decimal(0)) + disposal.reportable_gain_usd
        return {
            "year": year,
            "from": since,
            "until": until,
            "disposals": disposals,
            "proceeds_usd": proceeds,
            "cost_usd": cost,
            "disallowed_loss_usd": disallowed,
            "reportable_gain_by_term_usd": by_term,
            "reportable_gain_usd": sum(by_term.values(), Decimal(0)),
        }


# ------------------------------------------------------------------------ assembly


@dataclass(frozen=True, slots=True)
class DaemonParts:
    """A built daemon and what runs beside it."""

    daemon: Daemon
    server: DaemonServer | None
    metrics: DaemonMetrics
    read_model: StoreReadModel

    @property
    def services(self) -> tuple[DaemonServer, ...]:
        """The services to pass to `Daemon.run`."""
        return () if self.server is None else (self.server,)


def build_daemon(
    settings: Settings,
    store: Store,
    stages: Stages | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> DaemonParts:
    """Assemble the daemon for `settings` on `store` with the wired `stages`.

    Raises:
        DuplicateJob: two jobs share a name (an `extra` job reusing a built-in name).
    """
    metrics = DaemonMetrics()
    jobs = build_jobs(settings, store, stages or Stages())
    daemon = Daemon(
        jobs,
        metrics=metrics,
        backoff=Backoff(
            initial=timedelta(seconds=settings.jobs.restart_backoff_seconds),
            maximum=timedelta(seconds=settings.jobs.max_restart_backoff_seconds),
        ),
        clock=clock,
    )
    read_model = StoreReadModel(store, settings)
    server: DaemonServer | None = None
    if settings.server.enabled:
        app = build_app(
            read_model,
            daemon.job_statuses,
            metrics,
            settings.server.health,
            clock,
            lambda: daemon.started_at,
        )
        server = DaemonServer(settings.server, app)
    return DaemonParts(daemon=daemon, server=server, metrics=metrics, read_model=read_model)
