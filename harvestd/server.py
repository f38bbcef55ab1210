"""The daemon's HTTP server: health, Prometheus metrics and a read-only JSON API.

    GET /healthz              200 {"healthy": true, ...} or 503 {"healthy": false, "reasons": [...]}
    GET /metrics              Prometheus text (the daemon's own registry)
    GET /api/holdings         open holdings per chain, wallet and asset
    GET /api/lots             open lots
    GET /api/proposals        proposals, oldest first
    GET /api/gains?year=YYYY  realised gains of a tax year, by term

Every other method on these paths gets 405 (aiohttp answers it: only GET/HEAD routes
exist). The server binds `server.host` (127.0.0.1 unless the settings say otherwise).

The store is read through `LedgerReadModel`, a small synchronous Protocol the wiring
provides (`harvestd.wiring.StoreReadModel`); its calls run in a worker thread. Health is
decided by `assess_health`, a pure function of the chains' progress, the jobs' statuses,
the limits and the time:

- a chain is unhealthy when its lag (head - indexed) exceeds `health.max_lag_blocks`;
- a job is stale when its last success (or, never having succeeded, the daemon's start)
  is older than the larger of `health.max_staleness_seconds` and twice the job's period
  (an hourly strategy scan is not stale 11 minutes after it last ran);
- the store failing to answer is unhealthy too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Final, Protocol

from aiohttp import web

from harvestd.daemon import JobStatus
from harvestd.logs import get_logger
from harvestd.metrics import METRICS_CONTENT_TYPE, DaemonMetrics
from harvestd.settings import HealthSettings, ServerSettings
from ledger.errors import HarvestdError
from ledger.ids import ChainId

__all__ = [
    "ChainProgress",
    "DaemonServer",
    "HealthReport",
    "JsonObject",
    "LedgerReadModel",
    "assess_health",
    "build_app",
    "health_document",
]

log = get_logger(__name__)

JsonObject = Mapping[str, object]
"""A JSON object as the read model returns it; Decimals and datetimes are rendered exactly."""

_MIN_YEAR: Final = 1970
_MAX_YEAR: Final = 9998


@dataclass(frozen=True, slots=True)
class ChainProgress:
    """How far the ledger has booked one chain, and the head the indexer last saw."""

    chain_id: ChainId
    name: str
    indexed_block: int | None
    head_block: int | None
    indexed_at: datetime | None = None

    @property
    def lag_blocks(self) -> int | None:
        """Head minus indexed block (None while either is unknown)."""
        if self.indexed_block is None or self.head_block is None:
            return None
        return max(0, self.head_block - self.indexed_block)


class LedgerReadModel(Protocol):
    """What the server reads from the ledger. Synchronous; called in a worker thread.

    Implementations raise `HarvestdError` subclasses (e.g. `StoreError`) when the store
    cannot answer.
    """

    def chain_progress(self) -> Sequence[ChainProgress]:
        """Each configured chain's indexed block and head."""

    def proposal_counts(self) -> Mapping[str, int]:
        """How many proposals are in each status."""

    def holdings(self) -> Sequence[JsonObject]:
        """Open holdings per chain, wallet and asset."""

    def lots(self) -> Sequence[JsonObject]:
        """Open lots."""

    def proposals(self) -> Sequence[JsonObject]:
        """Proposals, oldest first."""

    def gains(self, year: int) -> JsonObject:
        """Realised gains of the tax year starting in `year`, by term."""


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The health verdict and why."""

    healthy: bool
    reasons: tuple[str, ...]


def assess_health(
    chains: Sequence[ChainProgress],
    jobs: Sequence[JobStatus],
    limits: HealthSettings,
    now: datetime,
    started_at: datetime | None,
) -> HealthReport:
    """Decide health from the chains' lag and the jobs' last successes (see module docs)."""
    reasons: list[str] = []
    for chain in chains:
        lag = chain.lag_blocks
        if lag is not None and lag > limits.max_lag_blocks:
            reasons.append(
                f"chain {chain.chain_id} ({chain.name}) lags {lag} blocks behind the head "
                f"(limit {limits.max_lag_blocks})"
            )
    for job in jobs:
        allowed = max(timedelta(seconds=limits.max_staleness_seconds), 2 * job.period)
        since = job.last_success_at or started_at
        if since is None:
            continue
        age = now - since
        if age > allowed:
            what = "last succeeded" if job.last_success_at else "has not succeeded since start"
            error = f"; last error: {job.last_error}" if job.last_error else ""
            reasons.append(
                f"job {job.name} {what} {int(age.total_seconds())} s ago "
                f"(limit {int(allowed.total_seconds())} s){error}"
            )
    return HealthReport(healthy=not reasons, reasons=tuple(reasons))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def health_document(
    report: HealthReport, chains: Sequence[ChainProgress], jobs: Sequence[JobStatus]
) -> dict[str, object]:
    """The /healthz body: verdict, reasons, per-chain progress and per-job last success."""
    return {
        "healthy": report.healthy,
        "reasons": list(report.reasons),
        "chains": [
            {
                "chain_id": chain.chain_id,
                "name": chain.name,
                "indexed_block": chain.indexed_block,
                "head_block": chain.head_block,
                "lag_blocks": chain.lag_blocks,
                "indexed_at": _iso(chain.indexed_at),
                "jobs": {
                    job.name: _iso(job.last_success_at)
                    for job in jobs
                    if job.chain_id is None or job.chain_id == chain.chain_id
                },
            }
            for chain in chains
        ],
        "jobs": [
            {
                "name": job.name,
                "kind": job.kind.value,
                "chain_id": job.chain_id,
                "runs": job.runs,
                "failures": job.failures,
                "consecutive_failures": job.consecutive_failures,
                "running": job.running,
                "last_success_at": _iso(job.last_success_at),
                "last_failure_at": _iso(job.last_failure_at),
                "last_error": job.last_error,
            }
            for job in jobs
        ],
    }


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json_response(body: object, status: int = 200) -> web.Response:
    text = json.dumps(body, default=_json_default, separators=(",", ":"))
    return web.Response(text=text, status=status, content_type="application/json")


def _error_response(status: int, error: str, detail: str) -> web.Response:
    return _json_response({"error": error, "detail": detail}, status=status)


JobStatusSource = Callable[[], Sequence[JobStatus]]
Clock = Callable[[], datetime]


def build_app(
    read_model: LedgerReadModel,
    job_statuses: JobStatusSource,
    metrics: DaemonMetrics,
    limits: HealthSettings,
    clock: Clock,
    started_at: Callable[[], datetime | None],
) -> web.Application:
    """The aiohttp application (GET-only routes; other methods get 405)."""

    async def healthz(request: web.Request) -> web.Response:
        jobs = job_statuses()
        chains: Sequence[ChainProgress] = ()
        store_reason: str | None = None
        try:
            chains = await asyncio.to_thread(read_model.chain_progress)
        except HarvestdError as exc:
            store_reason = f"store unreadable: {exc}"
        report = assess_health(chains, jobs, limits, clock(), started_at())
        if store_reason is not None:
            report = HealthReport(False, (*report.reasons, store_reason))
        for chain in chains:
            metrics.set_chain_progress(chain.chain_id, chain.indexed_block, chain.head_block)
        if not report.healthy:
            log.warning("health_degraded", reasons=list(report.reasons))
        return _json_response(
            health_document(report, chains, jobs), status=200 if report.healthy else 503
        )

    async def metrics_text(request: web.Request) -> web.Response:
        try:
            chains, counts = await asyncio.to_thread(
                lambda: (read_model.chain_progress(), read_model.proposal_counts())
            )
        except HarvestdError as exc:
            log.warning("metrics_refresh_failed", error=str(exc))
        else:
            for chain in chains:
                metrics.set_chain_progress(chain.chain_id, chain.indexed_block, chain.head_block)
            metrics.set_proposal_counts(counts)
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = METRICS_CONTENT_TYPE
        return response

    async def api(reader: Callable[[], object]) -> web.Response:
        try:
            body = await asyncio.to_thread(reader)
        except HarvestdError as exc:
            return _error_response(503, "store_unavailable", str(exc))
        return _json_response(body)

    async def holdings(request: web.Request) -> web.Response:
        return await api(lambda: {"holdings": list(read_model.holdings())})

    async def lots(request: web.Request) -> web.Response:
        return await api(lambda: {"lots": list(read_model.lots())})

    async def proposals(request: web.Request) -> web.Response:
        return await api(lambda: {"proposals": list(read_model.proposals())})

    async def gains(request: web.Request) -> web.Response:
        raw = request.query.get("year")
        if raw is None:
            year = clock().year
        elif raw.isdigit() and _MIN_YEAR <= int(raw) <= _MAX_YEAR:
            year = int(raw)
        else:
            return _error_response(400, "bad_year", f"year={raw!r}: expected a year like 2025")
        return await api(lambda: read_model.gains(year))

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get("/api/holdings", holdings)
    app.router.add_get("/api/lots", lots)
    app.router.add_get("/api/proposals", proposals)
    app.router.add_get("/api/gains", gains)
    return app


class DaemonServer:
    """The HTTP server as a daemon `Service`: bound on `start`, closed on `stop`."""

    def __init__(self, settings: ServerSettings, app: web.Application) -> None:
        self.settings = settings
        self._app = app
        self._runner: web.AppRunner | None = None
        self.bound: tuple[str, int] | None = None
        """The (host, port) actually bound, once started (port 0 picks a free one)."""

    async def start(self) -> None:
        """Bind `settings.host:port` and serve.

        Raises:
            OSError: the address cannot be bound (e.g. the port is taken).
        """
        runner = web.AppRunner(
            self._app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.bound = (str(address[0]), int(address[1]))
        log.info("server_started", host=self.bound[0], port=self.bound[1])

    async def stop(self) -> None:
        """Stop accepting connections and close the server."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            log.info("server_stopped")
