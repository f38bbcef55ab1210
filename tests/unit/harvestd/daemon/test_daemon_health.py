"""Pure parts of the daemon: backoff, schedule periods, the health verdict, metrics text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harvestd.daemon import (
    Backoff,
    Cron,
    Daemon,
    DuplicateJob,
    Every,
    JobContext,
    JobKind,
    JobName,
    JobSpec,
    JobStatus,
    schedule_period,
)
from harvestd.metrics import DaemonMetrics
from harvestd.server import ChainProgress, assess_health, health_document
from harvestd.settings import HealthSettings
from ledger.ids import ChainId

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = HealthSettings(max_lag_blocks=20, max_staleness_seconds=600)


def status(
    name: str = "index:1",
    *,
    period: timedelta = timedelta(seconds=12),
    last_success_at: datetime | None = None,
    last_error: str | None = None,
) -> JobStatus:
    return JobStatus(
        name=JobName(name),
        kind=JobKind.INDEX,
        chain_id=ChainId(1),
        period=period,
        runs=3,
        failures=1,
        consecutive_failures=0,
        running=False,
        last_started_at=last_success_at,
        last_success_at=last_success_at,
        last_failure_at=None,
        last_error=last_error,
    )


def test_backoff_doubles_per_failure_and_is_capped() -> None:
    backoff = Backoff(initial=timedelta(seconds=5), maximum=timedelta(seconds=60))
    assert [backoff.delay(n).total_seconds() for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert backoff.delay(10_000) == timedelta(seconds=60)


def test_schedule_period_of_interval_and_cron() -> None:
    assert schedule_period(Every(timedelta(seconds=30)), NOW) == timedelta(seconds=30)
    assert schedule_period(Cron("0 * * * *"), NOW) == timedelta(hours=1)
    assert schedule_period(Cron("*/5 * * * *"), NOW) == timedelta(minutes=5)


def test_healthy_when_fresh_and_within_lag() -> None:
    chains = [ChainProgress(ChainId(1), "main", indexed_block=100, head_block=110)]
    jobs = [status(last_success_at=NOW - timedelta(seconds=30))]
    report = assess_health(chains, jobs, LIMITS, NOW, NOW - timedelta(hours=1))
    assert report.healthy
    assert report.reasons == ()


def test_lag_beyond_limit_is_unhealthy() -> None:
    chains = [ChainProgress(ChainId(1), "main", indexed_block=100, head_block=121)]
    report = assess_health(chains, [], LIMITS, NOW, NOW)
    assert not report.healthy
    assert report.reasons == ("chain 1 (main) lags 21 blocks behind the head (limit 20)",)


def test_unknown_head_or_checkpoint_is_not_a_lag() -> None:
    chains = [
        ChainProgress(ChainId(1), "a", indexed_block=None, head_block=500),
        ChainProgress(ChainId(2), "b", indexed_block=5, head_block=None),
    ]
    assert chains[0].lag_blocks is None
    assert assess_health(chains, [], LIMITS, NOW, NOW).healthy


def test_stale_job_is_unhealthy_with_its_last_error() -> None:
    jobs = [status(last_success_at=NOW - timedelta(seconds=601), last_error="RpcTimeout: slow")]
    report = assess_health([], jobs, LIMITS, NOW, NOW - timedelta(days=1))
    assert not report.healthy
    assert report.reasons == (
        "job index:1 last succeeded 601 s ago (limit 600 s); last error: RpcTimeout: slow",
    )


def test_job_that_never_succeeded_is_stale_only_after_the_limit_since_start() -> None:
    jobs = [status(last_success_at=None)]
    assert assess_health([], jobs, LIMITS, NOW, NOW - timedelta(seconds=599)).healthy
    late = assess_health([], jobs, LIMITS, NOW, NOW - timedelta(seconds=700))
    assert late.reasons == ("job index:1 has not succeeded since start 700 s ago (limit 600 s)",)


def test_slow_schedule_widens_the_staleness_limit() -> None:
    hourly = status(
        "strategy_scan", period=timedelta(hours=1), last_success_at=NOW - timedelta(minutes=50)
    )
    assert assess_health([], [hourly], LIMITS, NOW, NOW - timedelta(days=1)).healthy
    overdue = status(
        "strategy_scan",
        period=timedelta(hours=1),
        last_success_at=NOW - timedelta(hours=2, seconds=1),
    )
    assert not assess_health([], [overdue], LIMITS, NOW, NOW - timedelta(days=1)).healthy


def test_health_document_lists_jobs_per_chain() -> None:
    chains = [ChainProgress(ChainId(1), "main", indexed_block=100, head_block=104)]
    jobs = [status(last_success_at=NOW)]
    document = health_document(assess_health(chains, jobs, LIMITS, NOW, NOW), chains, jobs)
    assert document["healthy"] is True
    assert document["chains"] == [
        {
            "chain_id": 1,
            "name": "main",
            "indexed_block": 100,
            "head_block": 104,
            "lag_blocks": 4,
            "indexed_at": None,
            "jobs": {"index:1": "2026-03-01T12:00:00Z"},
        }
    ]


def test_metrics_render_as_prometheus_text_on_a_private_registry() -> None:
    first, second = DaemonMetrics(), DaemonMetrics()
    first.job_runs.labels(job="expire_proposals").inc()
    first.set_chain_progress(1, indexed_block=90, head_block=100)
    first.set_proposal_counts({"open": 2, "executed": 1})
    first.set_proposal_counts({"executed": 3})
    first.record_trades(1, sent=2, refused={"slippage": 1})
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(first.render().decode())
        for s in family.samples
    }
    assert samples[("harvestd_job_runs_total", (("job", "expire_proposals"),))] == 1
    assert samples[("harvestd_index_lag_blocks", (("chain_id", "1"),))] == 10
    assert samples[("harvestd_proposals", (("status", "open"),))] == 0
    assert samples[("harvestd_proposals", (("status", "executed"),))] == 3
    assert samples[("harvestd_trades_sent_total", (("chain_id", "1"),))] == 2
    assert (
        samples[("harvestd_trades_refused_total", (("chain_id", "1"), ("reason", "slippage")))] == 1
    )
    assert b"expire_proposals" not in second.render()


def test_duplicate_job_names_are_refused() -> None:
    async def run(context: JobContext) -> None:
        return None

    job = JobSpec(JobName("scan"), JobKind.SCAN, Cron("0 * * * *"), run)
    with pytest.raises(DuplicateJob, match="two jobs are named 'scan'"):
        Daemon([job, job], metrics=DaemonMetrics())
