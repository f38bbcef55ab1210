"""The daemon's scheduling and supervision, with jobs doing real work on a real store."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from harvestd.daemon import Backoff, Daemon, Every, JobContext, JobKind, JobName, JobSpec
from harvestd.metrics import DaemonMetrics
from harvestd.wiring import expire_proposals_job
from ledger.ids import BlockNumber, ChainId
from ledger.store import (
    ProposalRecord,
    ProposalStatus,
    Store,
    create_proposal,
    get_chain_state,
    get_proposal,
    open_store,
    set_chain_state,
    upsert_chain,
)

CHAIN = ChainId(31337)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    opened = open_store(store_url)
    opened.upgrade()
    with opened.transaction() as session:
        upsert_chain(session, CHAIN, "local", "ETH")
    try:
        yield opened
    finally:
        opened.close()


def record_head(store: Store, head: int) -> None:
    with store.transaction("test head") as session:
        set_chain_state(session, CHAIN, BlockNumber(head))


def read_head(store: Store) -> int | None:
    with store.reader() as session:
        state = get_chain_state(session, CHAIN)
    return None if state is None else int(state.head_block_number)


async def run_for(daemon: Daemon, seconds: float) -> float:
    """Run `daemon` for `seconds`, then stop it; returns how long the stop took."""
    stopped_at: list[float] = []

    async def stop_later() -> None:
        await asyncio.sleep(seconds)
        stopped_at.append(time.monotonic())
        daemon.request_stop()

    async with asyncio.TaskGroup() as group:
        group.create_task(stop_later())
        await daemon.run()
    return time.monotonic() - stopped_at[0]


@pytest.mark.asyncio
async def test_runs_of_one_job_never_overlap_when_slower_than_interval(store: Store) -> None:
    active = 0
    most_active = 0
    runs = 0

    async def slow(context: JobContext) -> None:
        nonlocal active, most_active, runs
        active += 1
        most_active = max(most_active, active)
        try:
            runs += 1
            await asyncio.to_thread(record_head, store, runs)
            await asyncio.sleep(0.3)  # three intervals long
        finally:
            active -= 1

    job = JobSpec(JobName("slow"), JobKind.UPKEEP, Every(timedelta(milliseconds=100)), slow)
    daemon = Daemon([job], metrics=DaemonMetrics())
    await run_for(daemon, 1.6)

    assert most_active == 1
    assert runs >= 3
    assert read_head(store) == runs
    (status,) = daemon.job_statuses()
    assert status.runs == runs
    assert status.failures == 0


@pytest.mark.asyncio
async def test_failing_job_is_logged_and_retried_with_backoff_while_others_run(
    store: Store,
) -> None:
    attempts: list[float] = []
    steady_runs = 0

    async def flaky(context: JobContext) -> None:
        attempts.append(time.monotonic())
        await asyncio.to_thread(record_head, store, len(attempts))
        if len(attempts) <= 3:
            raise RuntimeError(f"node refused attempt {len(attempts)}")

    async def steady(context: JobContext) -> None:
        nonlocal steady_runs
        steady_runs += 1

    jobs = [
        JobSpec(JobName("flaky"), JobKind.INDEX, Every(timedelta(seconds=30)), flaky, CHAIN),
        JobSpec(JobName("steady"), JobKind.UPKEEP, Every(timedelta(milliseconds=100)), steady),
    ]
    backoff = Backoff(initial=timedelta(milliseconds=200), maximum=timedelta(seconds=1))
    metrics = DaemonMetrics()
    daemon = Daemon(jobs, metrics=metrics, backoff=backoff)
    with capture_logs() as logs:
        await run_for(daemon, 2.5)

    failed = [e for e in logs if e["event"] == "job_failed"]
    assert [e["consecutive_failures"] for e in failed] == [1, 2, 3]
    assert failed[0]["job"] == "flaky"
    assert failed[0]["error"] == "RuntimeError: node refused attempt 1"
    assert [e["retry_in_seconds"] for e in failed] == [0.2, 0.4, 0.8]
    assert any(e["event"] == "job_recovered" for e in logs)
    # Retried well before its 30 s interval, each wait longer than the one before.
    assert len(attempts) == 4
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.19 and gaps[1] >= 0.39 and gaps[2] >= 0.79
    assert gaps[0] < gaps[1] < gaps[2]
    assert read_head(store) == 4
    # The other job kept its schedule meanwhile.
    assert steady_runs >= 5
    flaky_status = next(s for s in daemon.job_statuses() if s.name == "flaky")
    assert flaky_status.failures == 3
    assert flaky_status.consecutive_failures == 0
    assert flaky_status.last_success_at is not None
    assert metrics.job_failures.labels(job="flaky")._value.get() == 3


@pytest.mark.asyncio
async def test_stop_lets_the_running_job_finish_its_transaction(store: Store) -> None:
    finished: list[bool] = []

    def long_transaction() -> None:
        with store.transaction("long") as session:
            set_chain_state(session, CHAIN, BlockNumber(777))
            time.sleep(1.0)
        finished.append(True)

    async def job(context: JobContext) -> None:
        await asyncio.to_thread(long_transaction)

    daemon = Daemon(
        [JobSpec(JobName("long"), JobKind.UPKEEP, Every(timedelta(seconds=60)), job)],
        metrics=DaemonMetrics(),
    )
    stop_took = await run_for(daemon, 0.3)
    assert finished == [True]
    assert read_head(store) == 777
    assert stop_took < 3


@pytest.mark.asyncio
async def test_expire_job_expires_overdue_proposals(store: Store) -> None:
    now = datetime.now(UTC)
    proposal = ProposalRecord(
        id="p-overdue",
        kind="harvest",
        status=ProposalStatus.OPEN,
        fingerprint="fp-1",
        chain_id=CHAIN,
        wallet=None,
        reason="test",
        created_at=now - timedelta(hours=1),
        updated_at=now - timedelta(hours=1),
        expires_at=now - timedelta(minutes=1),
        expected_short_term_gain_usd=Decimal("-10.5"),
        expected_long_term_gain_usd=Decimal(0),
        expected_exempt_gain_usd=Decimal(0),
        expected_tax_effect_usd=Decimal("2.1"),
        expected_cost_usd=Decimal("0.3"),
        trade_count=1,
    )
    with store.transaction() as session:
        create_proposal(session, proposal)
    job = JobSpec(
        JobName("expire_proposals"),
        JobKind.EXPIRE,
        Every(timedelta(seconds=60)),
        expire_proposals_job(store),
    )
    with capture_logs() as logs:
        await run_for(Daemon([job], metrics=DaemonMetrics()), 0.8)
    with store.reader() as session:
        assert get_proposal(session, "p-overdue").status is ProposalStatus.EXPIRED
    expired = [e for e in logs if e["event"] == "proposals_expired"]
    assert expired and expired[0]["proposal_ids"] == ["p-overdue"]


@pytest.mark.asyncio
async def test_cancelling_the_daemon_task_still_stops_gracefully(store: Store) -> None:
    finished: list[bool] = []

    def long_transaction() -> None:
        with store.transaction("long") as session:
            set_chain_state(session, CHAIN, BlockNumber(888))
            time.sleep(0.8)
        finished.append(True)

    async def job(context: JobContext) -> None:
        await asyncio.to_thread(long_transaction)

    daemon = Daemon(
        [JobSpec(JobName("long"), JobKind.UPKEEP, Every(timedelta(seconds=60)), job)],
        metrics=DaemonMetrics(),
    )
    task = asyncio.create_task(daemon.run())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == [True]
    assert read_head(store) == 888
