"""The long-lived service: periodic jobs under supervision, one asyncio TaskGroup, clean stop.

    Daemon.run(services)
    ├── services started (the HTTP server), stopped last
    ├── AsyncIOScheduler (APScheduler 3.x)   fires each job on its `Every`/`Cron` schedule;
    │                                        max_instances=1, coalesce=True, misfire grace
    └── TaskGroup (owned here)
        └── one worker per job               waits for a fire, runs the job supervised

A fire only marks its job due; the job's single worker runs it. So two runs of one job
never overlap, even when a run is slower than its interval: fires that arrive during a
run are coalesced into one more run afterwards. Each run goes through the supervisor,
the only broad `except` in harvestd: a raised error is logged as `job_failed` (with the
error), counted, and the job is retried after an exponential backoff (reset by the next
success), while every other job keeps its own schedule.

Stop (`request_stop`, e.g. from SIGTERM, or cancelling the task that runs `Daemon.run`): the scheduler stops firing; idle workers are
cancelled; a job in the middle of a run gets `shutdown_grace` to finish (jobs do their
database work as whole `Store.transaction()` blocks in a worker thread, so the current
transaction commits or rolls back as a unit; long jobs should check
`JobContext.is_stopping()` between transactions), and is cancelled after that.

Errors:

    HarvestdError (ledger.errors)
    └── DaemonError
        └── DuplicateJob          two jobs were given the same name
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, NewType, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from harvestd.logs import bound_log_context, get_logger
from harvestd.metrics import DaemonMetrics
from ledger.errors import HarvestdError
from ledger.ids import ChainId

__all__ = [
    "Backoff",
    "Cron",
    "Daemon",
    "DaemonError",
    "DuplicateJob",
    "Every",
    "JobContext",
    "JobFunction",
    "JobKind",
    "JobName",
    "JobSpec",
    "JobStatus",
    "Schedule",
    "Service",
    "schedule_period",
]

log = get_logger(__name__)

JobName = NewType("JobName", str)
"""A job's unique name, e.g. `index:31337`, `strategy_scan`."""

DEFAULT_MISFIRE_GRACE: Final = timedelta(seconds=30)
DEFAULT_SHUTDOWN_GRACE: Final = timedelta(seconds=6)
"""How long a running job may take to finish after a stop; SIGTERM must exit within 10 s."""


class DaemonError(HarvestdError):
    """The daemon cannot be built or run as asked."""


class DuplicateJob(DaemonError):
    """Two jobs were given the same name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"two jobs are named {name!r}; job names must be unique")


class JobKind(StrEnum):
    """What a job does (one of the daemon's stages, or upkeep)."""

    INDEX = "index"
    SCAN = "scan"
    EXECUTE = "execute"
    EXPIRE = "expire"
    UPKEEP = "upkeep"


@dataclass(frozen=True, slots=True)
class Every:
    """Run at a fixed interval."""

    interval: timedelta


@dataclass(frozen=True, slots=True)
class Cron:
    """Run on a 5-field cron expression, in UTC."""

    expression: str


Schedule = Every | Cron


def schedule_period(schedule: Schedule, now: datetime) -> timedelta:
    """The time between two runs of `schedule` around `now` (a cron's next two fires)."""
    if isinstance(schedule, Every):
        return schedule.interval
    trigger = CronTrigger.from_crontab(schedule.expression, timezone=UTC)
    first: datetime | None = trigger.get_next_fire_time(None, now)
    if first is None:
        return timedelta(days=366)
    second: datetime | None = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    if second is None:
        return timedelta(days=366)
    return second - first


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retrying a failed job: `initial` doubled per consecutive failure, capped."""

    initial: timedelta = timedelta(seconds=5)
    maximum: timedelta = timedelta(seconds=300)

    def delay(self, consecutive_failures: int) -> timedelta:
        """The wait after the `consecutive_failures`-th failure in a row (1-based)."""
        steps = max(0, consecutive_failures - 1)
        # Cap the exponent: beyond 2**30 the cap applies anyway.
        factor: int = 1 << min(steps, 30)
        return min(self.initial * factor, self.maximum)


class JobContext:
    """What a running job may use from the daemon: its identity, stop signal and metrics."""

    def __init__(
        self,
        name: JobName,
        chain_id: ChainId | None,
        stopping: asyncio.Event,
        metrics: DaemonMetrics,
    ) -> None:
        self.name = name
        self.chain_id = chain_id
        self._stopping = stopping
        self._metrics = metrics

    def is_stopping(self) -> bool:
        """Whether the daemon is stopping: finish the current transaction and return."""
        return self._stopping.is_set()

    def record_trades(
        self, chain_id: ChainId, *, sent: int = 0, refused: dict[str, int] | None = None
    ) -> None:
        """Count trades sent and trades refused (by guard reason) for the metrics."""
        self._metrics.record_trades(chain_id, sent=sent, refused=refused)


JobFunction = Callable[[JobContext], Awaitable[None]]
"""One run of a job: does its work and returns; raising marks the run failed."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A periodic job: what to run, when, and for which chain (if any)."""

    name: JobName
    kind: JobKind
    schedule: Schedule
    run: JobFunction
    chain_id: ChainId | None = None
    run_at_start: bool = True
    """Fire once as soon as the daemon starts (otherwise wait for the schedule)."""


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A snapshot of one job's history since the daemon started."""

    name: JobName
    kind: JobKind
    chain_id: ChainId | None
    period: timedelta
    runs: int
    failures: int
    consecutive_failures: int
    running: bool
    last_started_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None


class Service(Protocol):
    """Something that runs beside the jobs for the daemon's lifetime (the HTTP server)."""

    async def start(self) -> None:
        """Start serving; return once ready."""

    async def stop(self) -> None:
        """Stop serving and release what `start` took."""


def utc_now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


@dataclass(slots=True)
class _JobState:
    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    running: bool = False
    last_started_at: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None
    due: asyncio.Event = field(default_factory=asyncio.Event)


class Daemon:
    """Runs `jobs` on their schedules until `request_stop`; see the module docstring."""

    def __init__(
        self,
        jobs: Sequence[JobSpec],
        *,
        metrics: DaemonMetrics,
        backoff: Backoff | None = None,
        misfire_grace: timedelta = DEFAULT_MISFIRE_GRACE,
        shutdown_grace: timedelta = DEFAULT_SHUTDOWN_GRACE,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Raises:
        DuplicateJob: two jobs share a name.
        """
        names: set[str] = set()
        for job in jobs:
            if job.name in names:
                raise DuplicateJob(job.name)
            names.add(job.name)
        self.jobs: tuple[JobSpec, ...] = tuple(jobs)
        self.metrics = metrics
        self.backoff = backoff or Backoff()
        self.misfire_grace = misfire_grace
        self.shutdown_grace = shutdown_grace
        self.clock = clock
        self.started_at: datetime | None = None
        self._states: dict[JobName, _JobState] = {job.name: _JobState() for job in jobs}
        self._stopping = asyncio.Event()
        self._running = False

    # ------------------------------------------------------------------------ status

    def job_statuses(self) -> tuple[JobStatus, ...]:
        """Each job's history so far, in the order the jobs were given."""
        now = self.clock()
        return tuple(
            JobStatus(
                name=job.name,
                kind=job.kind,
                chain_id=job.chain_id,
                period=schedule_period(job.schedule, now),
                runs=state.runs,
                failures=state.failures,
                consecutive_failures=state.consecutive_failures,
                running=state.running,
                last_started_at=state.last_started_at,
                last_success_at=state.last_success_at,
                last_failure_at=state.last_failure_at,
                last_error=state.last_error,
            )
            for job in self.jobs
            for state in (self._states[job.name],)
        )

    def is_stopping(self) -> bool:
        """Whether a stop was requested."""
        return self._stopping.is_set()

    def request_stop(self) -> None:
        """Ask the daemon to stop (safe from a signal handler on the loop's thread)."""
        if not self._stopping.is_set():
            log.info("daemon_stop_requested")
        self._stopping.set()

    # ------------------------------------------------------------------------ running

    async def run(self, services: Sequence[Service] = ()) -> None:
        """Start `services`, run every job on its schedule until `request_stop`, then stop.

        Raises:
            DaemonError: the daemon is already running.
            Exception: whatever a service's `start` raises (jobs never propagate errors).
        """
        if self._running:
            raise DaemonError("this daemon is already running")
        self._running = True
        self.started_at = self.clock()
        scheduler = self._build_scheduler()
        started: list[Service] = []
        cancelled = False
        try:
            for service in services:
                await service.start()
                started.append(service)
            async with asyncio.TaskGroup() as group:
                workers = {
                    job.name: group.create_task(self._work(job), name=f"job:{job.name}")
                    for job in self.jobs
                }
                scheduler.start()
                log.info("daemon_started", jobs=[job.name for job in self.jobs])
                try:
                    await self._stopping.wait()
                except asyncio.CancelledError:
                    # Cancelled by an owner (e.g. `harvestd demo`): stop as gracefully as
                    # on a signal, then let the cancellation go on.
                    cancelled = True
                    self.request_stop()
                scheduler.shutdown(wait=False)
                await self._drain(workers)
        finally:
            for service in reversed(started):
                await service.stop()
            self._running = False
            log.info("daemon_stopped")
        if cancelled:
            raise asyncio.CancelledError

    def _build_scheduler(self) -> AsyncIOScheduler:
        # APScheduler logs every fire at INFO; the supervisor's own events say more.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        now = self.clock()
        for job in self.jobs:
            trigger: IntervalTrigger | CronTrigger
            if isinstance(job.schedule, Every):
                trigger = IntervalTrigger(
                    seconds=job.schedule.interval.total_seconds(), timezone=UTC
                )
            else:
                trigger = CronTrigger.from_crontab(job.schedule.expression, timezone=UTC)
            options = {"next_run_time": now} if job.run_at_start else {}
            scheduler.add_job(
                self._fire,
                trigger=trigger,
                args=(job.name,),
                id=job.name,
                name=job.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(self.misfire_grace.total_seconds())),
                replace_existing=True,
                **options,
            )
        return scheduler

    async def _fire(self, name: JobName) -> None:
        # Runs inside APScheduler: only mark the job due; its worker does the work.
        self._states[name].due.set()

    async def _work(self, job: JobSpec) -> None:
        state = self._states[job.name]
        context = JobContext(job.name, job.chain_id, self._stopping, self.metrics)
        while not self._stopping.is_set():
            await state.due.wait()
            state.due.clear()
            if self._stopping.is_set():
                return
            succeeded = await self._run_supervised(job, state, context)
            while not succeeded and not self._stopping.is_set():
                await asyncio.sleep(self.backoff.delay(state.consecutive_failures).total_seconds())
                if self._stopping.is_set():
                    return
                state.due.clear()
                succeeded = await self._run_supervised(job, state, context)

    async def _run_supervised(self, job: JobSpec, state: _JobState, context: JobContext) -> bool:
        started = time.monotonic()
        state.running = True
        state.last_started_at = self.clock()
        try:
            with bound_log_context(chain_id=job.chain_id):
                await job.run(context)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the supervisor: the only broad catch in harvestd
            state.failures += 1
            state.consecutive_failures += 1
            state.last_failure_at = self.clock()
            state.last_error = f"{type(exc).__name__}: {exc}"
            self.metrics.job_failures.labels(job=job.name).inc()
            retry_in = self.backoff.delay(state.consecutive_failures)
            log.error(
                "job_failed",
                job=job.name,
                kind=job.kind.value,
                chain_id=job.chain_id,
                error=state.last_error,
                error_type=type(exc).__name__,
                consecutive_failures=state.consecutive_failures,
                retry_in_seconds=retry_in.total_seconds(),
                exc_info=exc,
            )
            return False
        else:
            now = self.clock()
            if state.consecutive_failures:
                log.info(
                    "job_recovered",
                    job=job.name,
                    chain_id=job.chain_id,
                    failures_before=state.consecutive_failures,
                )
            state.consecutive_failures = 0
            state.last_success_at = now
            self.metrics.job_last_success.labels(job=job.name).set(now.timestamp())
            return True
        finally:
            duration = time.monotonic() - started
            state.runs += 1
            state.running = False
            self.metrics.job_runs.labels(job=job.name).inc()
            self.metrics.job_duration.labels(job=job.name).observe(duration)
            log.debug("job_ran", job=job.name, duration_seconds=round(duration, 3))

    async def _drain(self, workers: dict[JobName, asyncio.Task[None]]) -> None:
        busy: list[asyncio.Task[None]] = []
        for name, task in workers.items():
            if self._states[name].running:
                busy.append(task)
            else:
                task.cancel()
        if not busy:
            return
        log.info("jobs_draining", jobs=[t.get_name() for t in busy])
        _, pending = await asyncio.wait(busy, timeout=self.shutdown_grace.total_seconds())
        for task in pending:
            log.warning("job_cancelled", job=task.get_name(), reason="shutdown grace elapsed")
            task.cancel()
