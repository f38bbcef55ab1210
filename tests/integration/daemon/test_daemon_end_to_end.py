"""`harvestd run` end to end on a private world, as a real process with JSON logs.

The daemon backfills the world (`blocks_indexed`, `lots_derived`), scans once caught up
(harvest and rebalance proposals, `proposal_created`), and plans them in dry-run
(`trade_planned`, nothing sent). A swap made on chain from the `main` wallet is then
booked (its events and lot in the store). SIGTERM ends the process with 0 within 10 s.
A restart on the same store carries on from its checkpoint: no duplicate events, the
checkpoint only moves on, a second swap is booked once, and the start-up scan follows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from harvestd.world.anvil import pick_free_port
from harvestd.world.artifacts import load_artifact
from harvestd.world.deploy import FAR_DEADLINE, call_data
from harvestd.world.launch import World, WorldFactory
from ledger.ids import ChainId
from ledger.store import Store, count_events, get_checkpoint, load_events, load_lots, open_store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
LOCAL_CONFIG = ROOT / "config" / "local.yaml"
CHAIN = ChainId(31337)
WAIT_SECONDS = 45.0
Event = dict[str, Any]


def write_settings(tmp_path: Path, port: int) -> Path:
    """config/local.yaml for this test (no wash-sale rule, so the world has both harvests
    and a rebalance): JSON logs, a free port, the scan every minute."""
    text = LOCAL_CONFIG.read_text()
    for old, new in {
        "port: 9108": f"port: {port}",
        "format: auto": "format: json",
        'schedule: "*/5 * * * *"': 'schedule: "* * * * *"',
    }.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "local.yaml"
    path.write_text(text)
    return path


class DaemonLog:
    """The JSON events a daemon process wrote so far."""

    def __init__(self, path: Path, process: subprocess.Popen[bytes]) -> None:
        self.path = path
        self.process = process

    def events(self) -> list[Event]:
        found: list[Event] = []
        for line in self.path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line still being written
        return found

    def wait_for(self, what: str, ready: Callable[[list[Event]], bool]) -> list[Event]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            events = self.events()
            if ready(events):
                return events
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited ({self.process.returncode}) before {what}")
            time.sleep(0.2)
        tail = self.path.read_text(errors="replace")[-3000:]
        raise AssertionError(f"timed out waiting for {what}; log tail:\n{tail}")

    def stop(self) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        return code, time.monotonic() - started


@contextmanager
def daemon(config: Path, log_path: Path, environ: dict[str, str]) -> Iterator[DaemonLog]:
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "harvestd", "run", "--config", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **environ},
        )
        try:
            yield DaemonLog(log_path, process)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def named(events: list[Event], name: str) -> list[Event]:
    return [e for e in events if e.get("event") == name]


def swap_eth_for_usdc(world: World, wei: int) -> str:
    """A V2 swap of native ETH for USDC from the `main` wallet; returns its hash."""
    chain = world.chain()
    manifest = world.manifest
    main = manifest.account("main").address
    router = chain.contract(load_artifact("UniswapV2Router02"), manifest.contracts.v2_router)
    path = [manifest.contracts.weth, manifest.token("USDC").address]
    receipt = chain.transact(
        "e2e swap",
        main,
        manifest.contracts.v2_router,
        call_data(router, "swapExactETHForTokens", 0, path, main, FAR_DEADLINE),
        value_wei=wei,
    )
    return str(receipt["transactionHash"].to_0x_hex())


def booked(store: Store, tx_hash: str) -> tuple[int, int]:
    """(events, lots) the store holds for a transaction."""
    with store.reader() as session:
        events = [e for e in load_events(session, CHAIN) if e.ref.tx_hash.lower() == tx_hash]
        lots = [lot for lot in load_lots(session, CHAIN) if lot.source.tx_hash.lower() == tx_hash]
    return len(events), len(lots)


def wait_booked(store: Store, tx_hash: str, log: DaemonLog) -> tuple[int, int]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = booked(store, tx_hash)
        if found[0] and found[1]:
            return found
        assert log.process.poll() is None, "daemon exited"
        time.sleep(0.3)
    raise AssertionError(f"{tx_hash} was not booked")


def ledger_state(store: Store) -> tuple[int, int, int]:
    """(event count, distinct event identities, checkpoint block)."""
    with store.reader() as session:
        total = count_events(session, CHAIN)
        identities = {
            (e.ref.block_number, e.ref.tx_hash, e.ref.log_index, e.leg, e.wallet)
            for e in load_events(session, CHAIN)
        }
        checkpoint = get_checkpoint(session, CHAIN)
    assert checkpoint is not None
    return total, len(identities), int(checkpoint.block_number)


def test_run_backfills_scans_books_new_swaps_stops_and_resumes(
    make_world: WorldFactory, tmp_path: Path, store_url: str
) -> None:
    started = time.monotonic()
    world = make_world()
    db_url = store_url  # a fresh SQLite file, or a fresh Postgres database (conftest)
    environ = {"HARVESTD_RPC_URL": world.rpc_url, "HARVESTD_DATABASE_URL": db_url}
    config = write_settings(tmp_path, pick_free_port(0))

    with daemon(config, tmp_path / "first.log", environ) as first:
        events = first.wait_for(
            "a harvest and a rebalance proposal",
            lambda ev: (
                {"harvest", "rebalance"} <= {e.get("kind") for e in named(ev, "proposal_created")}
            ),
        )
        assert named(events, "blocks_indexed") and named(events, "lots_derived")
        assert named(events, "scan_completed")
        first_ready = time.monotonic() - started
        # Dry-run: the execution job plans the new proposals and sends nothing.
        events = first.wait_for("a planned trade", lambda ev: bool(named(ev, "trade_planned")))
        assert not named(events, "trade_sent")

        store = open_store(db_url)
        try:
            tx_hash = swap_eth_for_usdc(world, 2 * 10**18)
            events_booked, lots_booked = wait_booked(store, tx_hash, first)
            before = ledger_state(store)
        finally:
            store.close()
        code, took = first.stop()
    first_log = (tmp_path / "first.log").read_text()
    assert code == 0, first_log[-3000:]
    assert took < 10
    assert before[0] == before[1], "no duplicate events"
    stopped = [e["event"] for e in DaemonLog(tmp_path / "first.log", first.process).events()]
    assert "daemon_stopped" in stopped and "instance_lock_released" in stopped

    with daemon(config, tmp_path / "second.log", environ) as second:
        events = second.wait_for("the restart's scan", lambda ev: bool(named(ev, "scan_completed")))
        indexed = named(events, "blocks_indexed")
        # Carries on after the checkpoint: nothing at or below it is fetched again.
        assert all(e["from_block"] > before[2] for e in indexed), indexed
        store = open_store(db_url)
        try:
            after_restart = ledger_state(store)
            assert after_restart[0] == before[0], "nothing re-ingested"
            assert after_restart[2] >= before[2]
            second_hash = swap_eth_for_usdc(world, 10**18)
            wait_booked(store, second_hash, second)
            after_swap = ledger_state(store)
            assert booked(store, tx_hash) == (events_booked, lots_booked)
        finally:
            store.close()
        code, took_second = second.stop()
    assert code == 0
    assert took_second < 10
    assert after_swap[0] == after_swap[1] > before[0], "the new swap once, no duplicates"
    assert after_swap[2] > before[2]
    total = time.monotonic() - started
    print(
        f"first proposals after {first_ready:.1f} s; SIGTERM to exit {took:.2f} s / "
        f"{took_second:.2f} s; events {before[0]} -> {after_swap[0]}; whole test {total:.1f} s"
    )
