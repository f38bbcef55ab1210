"""The HTTP server on a real store: /healthz verdicts, /metrics text, the read-only API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harvestd.daemon import Every, JobContext, JobKind, JobName, JobSpec
from harvestd.settings import load_settings
from harvestd.wiring import DaemonParts, Stages, build_daemon
from ledger.ids import BlockHash, BlockNumber, ChainId
from ledger.store import Store, open_store, set_chain_state, set_checkpoint, upsert_chain

CHAIN = ChainId(31337)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    opened = open_store(store_url)
    opened.upgrade()
    try:
        yield opened
    finally:
        opened.close()


def record_progress(store: Store, indexed: int, head: int) -> None:
    with store.transaction() as session:
        upsert_chain(session, CHAIN, "local", "ETH")
        set_checkpoint(session, CHAIN, BlockNumber(indexed), BlockHash("0x" + "ab" * 32))
        set_chain_state(session, CHAIN, BlockNumber(head))


@asynccontextmanager
async def running(parts: DaemonParts) -> AsyncIterator[str]:
    """Run the daemon in the background; yields the server's base URL."""
    async with asyncio.TaskGroup() as group:
        task = group.create_task(parts.daemon.run(parts.services))
        assert parts.server is not None
        for _ in range(200):
            if parts.server.bound is not None:
                break
            await asyncio.sleep(0.02)
        assert parts.server.bound is not None, "the server did not start"
        host, port = parts.server.bound
        try:
            yield f"http://{host}:{port}"
        finally:
            parts.daemon.request_stop()
            await task


async def fetch(url: str, method: str = "GET") -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.request(method, url) as response:
        return response.status, await response.text(), dict(response.headers)


async def fetch_json(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


def ok_job(name: str) -> JobSpec:
    async def run(context: JobContext) -> None:
        return None

    return JobSpec(JobName(name), JobKind.UPKEEP, Every(timedelta(milliseconds=200)), run)


def failing_job(name: str) -> JobSpec:
    async def run(context: JobContext) -> None:
        raise RuntimeError("rpc down")

    return JobSpec(JobName(name), JobKind.INDEX, Every(timedelta(milliseconds=200)), run, CHAIN)


Build = Callable[..., DaemonParts]


@pytest.fixture
def build(store: Store, store_url: str, write_config: Callable[..., Path]) -> Build:
    def make(*, extra: tuple[JobSpec, ...] = (), **config: Any) -> DaemonParts:
        settings = load_settings(write_config(store_url, **config), environ={})
        return build_daemon(settings, store, Stages(index_chain=None, extra=extra))

    return make


@pytest.mark.asyncio
async def test_healthz_turns_unhealthy_when_a_job_is_stale(build: Build) -> None:
    parts = build(extra=(ok_job("steady"), failing_job("stuck")), max_staleness_seconds=1)
    async with running(parts) as base:
        status, body = await fetch_json(f"{base}/healthz")
        assert status == 200, body
        assert body["healthy"] is True
        await asyncio.sleep(1.6)
        status, body = await fetch_json(f"{base}/healthz")
    assert status == 503
    assert body["healthy"] is False
    (reason,) = body["reasons"]
    assert reason.startswith("job stuck has not succeeded since start")
    assert "rpc down" in reason
    jobs = {job["name"]: job for job in body["jobs"]}
    assert jobs["steady"]["last_success_at"] is not None
    assert jobs["stuck"]["last_success_at"] is None
    assert jobs["stuck"]["failures"] >= 2


@pytest.mark.asyncio
async def test_healthz_reports_lag_per_chain(build: Build, store: Store) -> None:
    record_progress(store, indexed=100, head=105)
    parts = build(extra=(ok_job("steady"),), max_lag_blocks=20)
    async with running(parts) as base:
        status, body = await fetch_json(f"{base}/healthz")
        assert status == 200
        (chain,) = body["chains"]
        assert chain["chain_id"] == CHAIN
        assert (chain["indexed_block"], chain["head_block"], chain["lag_blocks"]) == (100, 105, 5)
        assert "steady" in chain["jobs"]
        await asyncio.to_thread(record_progress, store, 100, 150)
        status, body = await fetch_json(f"{base}/healthz")
    assert status == 503
    assert body["reasons"] == ["chain 31337 (local) lags 50 blocks behind the head (limit 20)"]


@pytest.mark.asyncio
async def test_metrics_parse_as_prometheus_text(build: Build, store: Store) -> None:
    record_progress(store, indexed=40, head=42)
    parts = build(extra=(ok_job("steady"), failing_job("stuck")))
    async with running(parts) as base:
        await asyncio.sleep(0.5)
        status, text, headers = await fetch(f"{base}/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("harvestd_job_runs_total", (("job", "steady"),))] >= 1
    assert samples[("harvestd_job_failures_total", (("job", "stuck"),))] >= 1
    assert ("harvestd_job_duration_seconds_count", (("job", "steady"),)) in samples
    assert samples[("harvestd_indexed_block", (("chain_id", "31337"),))] == 40
    assert samples[("harvestd_index_lag_blocks", (("chain_id", "31337"),))] == 2


@pytest.mark.asyncio
async def test_api_is_read_only_and_answers_json(build: Build) -> None:
    parts = build()
    async with running(parts) as base:
        for path in ("/api/holdings", "/api/lots", "/api/proposals", "/api/gains", "/healthz"):
            for method in ("POST", "PUT", "DELETE", "PATCH"):
                status, _, _ = await fetch(f"{base}{path}", method)
                assert status == 405, (method, path)
        assert await fetch_json(f"{base}/api/holdings") == (200, {"holdings": []})
        assert await fetch_json(f"{base}/api/lots") == (200, {"lots": []})
        assert await fetch_json(f"{base}/api/proposals") == (200, {"proposals": []})
        status, gains = await fetch_json(f"{base}/api/gains?year=2025")
        assert status == 200
        assert gains["year"] == 2025
        assert gains["from"] == "2025-01-01T00:00:00Z"
        assert gains["reportable_gain_usd"] == "0"
        status, _, _ = await fetch(f"{base}/api/gains?year=next")
        assert status == 400


@pytest.mark.asyncio
async def test_server_binds_loopback_by_default(build: Build, tmp_path: Path) -> None:
    parts = build()
    assert parts.server is not None
    assert parts.server.settings.host == "127.0.0.1"
    async with running(parts):
        assert parts.server.bound is not None
        assert parts.server.bound[0] == "127.0.0.1"
