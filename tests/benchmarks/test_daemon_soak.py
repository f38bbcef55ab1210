"""Soak scaffold: run the daemon for a while and print memory and index lag.

    HARVESTD_SOAK_SECONDS=600   how long to run (default 10 minutes)
    HARVESTD_SOAK_CONFIG=FILE   a settings file to run with (e.g. config/local.yaml while
                                `harvestd demo` serves the world); its database is used
                                as is. Without it: a bare Anvil that mines a block every
                                second, a temporary SQLite store, and the jobs
                                `harvestd.commands.run.DEFAULT_STAGES` wires.

Prints RSS at start, every minute and at the end, the RSS growth, each job's runs and
failures, and each chain's indexed block, head and lag (from /healthz). No assertions
on the figures: it reports them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import aiohttp
import pytest

from harvestd.commands.run import DEFAULT_STAGES
from harvestd.logs import configure_logging
from harvestd.settings import Settings, load_settings
from harvestd.wiring import build_daemon
from harvestd.world.anvil import AnvilOptions, pick_free_port, start_anvil
from indexer.rpc import RpcClient
from ledger.store import open_store

SOAK_SECONDS = float(os.environ.get("HARVESTD_SOAK_SECONDS", "600"))
REPORT_EVERY_SECONDS = 60.0

CONFIG = """\
database: {{url: "sqlite:///{db}"}}
owner: {{jurisdiction: generic, tax_rates: {{flat: 0.2}}}}
chains:
  - name: local
    chain_id: 31337
    rpc_url: {rpc_url}
    poll_interval_seconds: 1
    confirmations: 0
    numeraire: USDC
    wallets:
      - {{label: main, address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}}
    tokens:
      - {{symbol: USDC, address: "0x0000000000000000000000000000000000000101", decimals: 6}}
server: {{port: {port}}}
jobs: {{expire_interval_seconds: 5}}
logging: {{level: warning}}
"""


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def mine_forever(rpc_url: str) -> None:
    async with RpcClient(rpc_url, max_concurrency=1) as rpc:
        while True:
            await rpc.call("evm_mine")
            await asyncio.sleep(1)


async def fetch_health(port: int) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        body: dict[str, object] = json.loads(await response.text())
        return body


def print_health(label: str, body: dict[str, object]) -> None:
    print(f"[{label}] healthy={body['healthy']} reasons={body['reasons']}")
    for chain in body["chains"]:  # type: ignore[attr-defined]
        print(
            f"[{label}] chain {chain['chain_id']}: indexed={chain['indexed_block']} "
            f"head={chain['head_block']} lag_blocks={chain['lag_blocks']}"
        )
    for job in body["jobs"]:  # type: ignore[attr-defined]
        print(
            f"[{label}] job {job['name']}: runs={job['runs']} failures={job['failures']} "
            f"last_success={job['last_success_at']}"
        )


async def soak(settings: Settings, mine_url: str | None) -> None:
    configure_logging(settings.logging.level)
    store = open_store(settings.database.url.get_secret_value())
    await asyncio.to_thread(store.upgrade)
    parts = build_daemon(settings, store, DEFAULT_STAGES)
    port = settings.server.port
    start_rss = rss_kib()
    print(f"\nsoak: {SOAK_SECONDS:.0f} s, rss at start {start_rss} KiB")
    started = time.monotonic()
    try:
        async with asyncio.TaskGroup() as group:
            daemon_task = group.create_task(parts.daemon.run(parts.services))
            miner = group.create_task(mine_forever(mine_url)) if mine_url else None
            next_report = REPORT_EVERY_SECONDS
            while (elapsed := time.monotonic() - started) < SOAK_SECONDS:
                await asyncio.sleep(min(1.0, SOAK_SECONDS - elapsed))
                if elapsed >= next_report:
                    next_report += REPORT_EVERY_SECONDS
                    body = await fetch_health(port)
                    print(f"[{elapsed:6.0f} s] rss {rss_kib()} KiB")
                    print_health(f"{elapsed:6.0f} s", body)
            body = await fetch_health(port)
            end_rss = rss_kib()
            if miner is not None:
                miner.cancel()
            parts.daemon.request_stop()
            await daemon_task
    finally:
        store.close()
    print(
        f"soak: rss at end {end_rss} KiB, growth {end_rss - start_rss} KiB over {SOAK_SECONDS:.0f} s"
    )
    print_health("end", body)


@pytest.mark.asyncio
@pytest.mark.slow
async def test_daemon_soak(tmp_path: Path) -> None:
    config_path = os.environ.get("HARVESTD_SOAK_CONFIG")
    if config_path:
        await soak(load_settings(Path(config_path)), mine_url=None)
        return
    node = start_anvil(AnvilOptions())
    try:
        path = tmp_path / "soak.yaml"
        path.write_text(
            CONFIG.format(db=tmp_path / "soak.db", rpc_url=node.rpc_url, port=pick_free_port(0)),
            encoding="utf-8",
        )
        await soak(load_settings(path, environ={}), mine_url=node.rpc_url)
    finally:
        node.stop()
