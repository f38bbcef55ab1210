"""Acceptance of the running indexer on the shared Uniswap world (harvestd.world), with
config/local.yaml pointed at the world's node and a real store (SQLite file; Postgres once).

- backfill of the world's whole history: `verify` finds no difference for any wallet and
  token; the open lots equal the lots the world's own record (`world.history`) gives
  under the configured policy (us, hifo, wash sale) — amounts and acquisition times
  exactly, costs within 1e-4 USD (the world rounds pool-price values to 1e-6 USD; its
  USDC-leg values are compared exactly on the booked events);
- a second backfill books nothing new;
- a reorg on a private node: the ledger ends exactly as if the orphaned blocks never
  existed;
- `harvestd backfill` killed with SIGKILL in the middle, then restarted: the same ledger
  as an uninterrupted run;
- a backfill through the wave-1 fault proxy: the same ledger.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from faultproxy import FaultProxy
from sqlmodel import select
from structlog.testing import capture_logs
from typer.testing import CliRunner

from harvestd.cli import app
from harvestd.commands.backfill import backfill_chains, index_chain_job, plan_for, policy_for
from harvestd.daemon import JobContext, JobName
from harvestd.metrics import DaemonMetrics
from harvestd.settings import Settings, load_settings
from harvestd.world.history import History, TxKind
from harvestd.world.launch import World, WorldFactory
from indexer.pipeline import ChainIndexer
from indexer.rpc import RetryPolicy, RpcClient
from indexer.verify import verify_balances
from ledger.engine import Action, LotEvent, replay
from ledger.events import NATIVE_ASSET, LedgerEvent
from ledger.ids import Address, ChainId
from ledger.store import (
    count_events,
    get_checkpoint,
    load_disposals,
    load_events,
    load_lots,
    open_store,
)
from ledger.store.errors import StoreError
from ledger.store.rows import LedgerEventRow

ROOT = Path(__file__).resolve().parents[3]
LOCAL_CONFIG = ROOT / "config" / "local.yaml"
COST_TOLERANCE = Decimal("0.0001")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
CHAIN = ChainId(31337)
FAST = RetryPolicy(max_attempts=12, base_delay_seconds=0.01, max_delay_seconds=0.05)


def write_config(tmp_path: Path, *, max_block_range: int = 500, name: str = "local.yaml") -> Path:
    text = LOCAL_CONFIG.read_text().replace(
        "max_block_range: 500", f"max_block_range: {max_block_range}"
    )
    path = tmp_path / name
    path.write_text(text)
    return path


def settings_for(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    rpc_url: str,
    db_url: str,
    *,
    max_block_range: int = 500,
) -> Settings:
    monkeypatch.setenv("HARVESTD_RPC_URL", rpc_url)
    monkeypatch.setenv("HARVESTD_DATABASE_URL", db_url)
    return load_settings(write_config(tmp_path, max_block_range=max_block_range))


def backfill(settings: Settings, to_block: int | None = None) -> None:
    store = open_store(settings.database.url.get_secret_value())
    try:
        store.upgrade()
        asyncio.run(backfill_chains(settings, store, to_block))
    finally:
        store.close()


def ledger_snapshot(db_url: str) -> tuple[object, ...]:
    """Everything the indexer wrote that must not depend on how it got there."""
    store = open_store(db_url)
    try:
        with store.reader() as session:
            checkpoint = get_checkpoint(session, CHAIN)
            return (
                None if checkpoint is None else (checkpoint.block_number, checkpoint.block_hash),
                tuple(load_events(session, CHAIN)),
                tuple(
                    (
                        lot.lot_id,
                        lot.wallet,
                        lot.asset,
                        lot.remaining_raw,
                        lot.remaining_cost_usd,
                        lot.acquired_at,
                        lot.holding_period_start,
                    )
                    for lot in load_lots(session, CHAIN)
                ),
                tuple(
                    (d.disposal_id, d.amount_raw, d.proceeds_usd, d.cost_usd, d.gain_usd)
                    for d in load_disposals(session, CHAIN)
                ),
            )
    finally:
        store.close()


def expected_lot_events(history: History, weth: Address) -> list[LotEvent]:
    """The world's own record of the owner's transactions as lot-engine events."""
    owned = {a for _, a in history.wallets}
    out: list[LotEvent] = []
    for n, tx in enumerate(sorted(history.transactions, key=lambda t: t.block_number)):
        when = datetime.fromtimestamp(tx.timestamp, tz=UTC)
        seq = tx.block_number * 10
        if tx.gas_payer in owned:
            out.append(
                LotEvent(
                    f"{n}:gas", when, Action.DISPOSE, NATIVE_ASSET, tx.gas_paid_wei,
                    wallet=tx.gas_payer, value=tx.gas_usd, seq=seq,
                )
            )  # fmt: skip
        if tx.kind is TxKind.SWAP:
            assert tx.token_in is not None and tx.token_out is not None and tx.value_usd
            fee = tx.gas_usd if tx.gas_payer in owned else Decimal(0)
            out.append(
                LotEvent(
                    f"{n}:out", when, Action.DISPOSE, tx.token_in, tx.amount_in_raw,
                    wallet=tx.wallet, value=tx.value_usd, fee=fee, seq=seq + 1,
                )
            )  # fmt: skip
            out.append(
                LotEvent(
                    f"{n}:in", when, Action.ACQUIRE, tx.token_out, tx.amount_out_raw,
                    wallet=tx.wallet, value=tx.value_usd, seq=seq + 2,
                )
            )  # fmt: skip
        elif tx.kind is TxKind.RECEIVE:
            assert tx.token_out is not None and tx.value_usd is not None
            out.append(
                LotEvent(
                    f"{n}:in", when, Action.ACQUIRE, tx.token_out, tx.amount_out_raw,
                    wallet=tx.wallet, value=tx.value_usd, seq=seq + 1,
                )
            )  # fmt: skip
        elif tx.kind in (TxKind.WRAP, TxKind.UNWRAP):
            source, target = (
                (NATIVE_ASSET, weth) if tx.kind is TxKind.WRAP else (weth, NATIVE_ASSET)
            )
            out.append(
                LotEvent(
                    f"{n}:conv", when, Action.CONVERT, source, tx.amount_in_raw,
                    wallet=tx.wallet, to_asset=target, seq=seq + 1,
                )
            )  # fmt: skip
        elif tx.kind is TxKind.TRANSFER:
            assert tx.token_in is not None
            other = next(a for a in owned if a != tx.wallet)
            out.append(
                LotEvent(
                    f"{n}:move", when, Action.TRANSFER, tx.token_in, tx.amount_in_raw,
                    wallet=tx.wallet, to_wallet=other, seq=seq + 1,
                )
            )  # fmt: skip
    return out


def open_lots(db_url: str) -> list[tuple[str, str, int, datetime, Decimal]]:
    store = open_store(db_url)
    try:
        with store.reader() as session:
            lots = load_lots(session, CHAIN, open_only=True)
    finally:
        store.close()
    return sorted(
        (
            str(lot.wallet),
            str(lot.asset),
            lot.remaining_raw,
            lot.acquired_at,
            lot.remaining_cost_usd,
        )
        for lot in lots
    )


def assert_matches_history(world: World, settings: Settings, db_url: str) -> None:
    history = world.history
    assert history is not None
    weth = Address(world.manifest.contracts.weth)
    result = replay(expected_lot_events(history, weth), policy_for(settings))
    expected = sorted(
        (str(lot.wallet), str(lot.asset), lot.amount_raw, lot.acquired_at, lot.cost)
        for lot in result.lots
    )
    got = open_lots(db_url)
    assert len(got) >= 10
    assert [g[:4] for g in got] == [e[:4] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert abs(g[4] - e[4]) <= COST_TOLERANCE, (g, e)
    # USDC-leg values are exact: the booked value is the USDC amount moved.
    store = open_store(db_url)
    try:
        with store.reader() as session:
            events = load_events(session, CHAIN)
    finally:
        store.close()
    by_tx: dict[str, list[LedgerEvent]] = {}
    for event in events:
        by_tx.setdefault(event.ref.tx_hash, []).append(event)
    usdc_legs = [tx for tx in history.transactions if tx.value_source == "usdc_leg"]
    assert usdc_legs
    for tx in usdc_legs:
        values = {e.value_usd for e in by_tx[tx.tx_hash] if e.kind.value != "gas"}
        assert values == {tx.value_usd}, tx
    assert not any(e.price_missing for e in events)


async def verify_now(world: World, db_url: str, settings: Settings) -> list[object]:
    chain = settings.chains[0]
    store = open_store(db_url)
    try:
        async with RpcClient(world.rpc_url) as rpc:
            report = await verify_balances(
                store, rpc, CHAIN, chain.wallet_addresses(), [t.address for t in chain.tokens]
            )
    finally:
        store.close()
    assert len(report.checks) >= 2 * (len(chain.tokens) + 1)
    return list(report.differences)


def test_backfill_matches_history_verifies_and_is_idempotent(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings = settings_for(monkeypatch, tmp_path, world.rpc_url, db_url)
    backfill(settings)
    assert asyncio.run(verify_now(world, db_url, settings)) == []
    assert_matches_history(world, settings, db_url)
    first = ledger_snapshot(db_url)
    # Idempotent, and through the command this time: nothing new, the same ledger.
    config = write_config(tmp_path)
    runner = CliRunner()
    again = runner.invoke(app, ["backfill", "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert "indexed up to block" in again.output
    second = ledger_snapshot(db_url)
    assert first[1:] == second[1:]
    # verify exits 0 and prints the match; lots prints the table.
    verified = runner.invoke(app, ["verify", "--config", str(config)])
    assert verified.exit_code == 0, verified.output
    assert "balances match" in verified.output
    listed = runner.invoke(app, ["lots", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert "open lots on local" in listed.output
    # A ledger that lost a row no longer verifies: verify names it and exits 1.
    store = open_store(db_url)
    try:
        with store.transaction() as session:
            doomed = session.exec(
                select(LedgerEventRow).where(LedgerEventRow.kind == "gas").limit(1)
            ).one()
            session.delete(doomed)
    finally:
        store.close()
    broken = runner.invoke(app, ["verify", "--config", str(config)])
    assert broken.exit_code == 1, broken.output
    assert "differences" in broken.output and "ETH" in broken.output


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"harvestd_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backfill_stops_at_to_block(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.history is not None
    stop = world.history.first_block + 20
    db_url = f"sqlite:///{tmp_path / 'partial.db'}"
    monkeypatch.setenv("HARVESTD_RPC_URL", world.rpc_url)
    monkeypatch.setenv("HARVESTD_DATABASE_URL", db_url)
    config = write_config(tmp_path, max_block_range=7)
    result = CliRunner().invoke(app, ["backfill", "--config", str(config), "--to-block", str(stop)])
    assert result.exit_code == 0, result.output
    assert _checkpoint_block(db_url) == stop
    events = ledger_snapshot(db_url)[1]
    assert isinstance(events, tuple) and events
    assert all(e.ref.block_number <= stop for e in events)


def test_backfill_on_postgres(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    settings = settings_for(monkeypatch, tmp_path, world.rpc_url, pg_url, max_block_range=200)
    backfill(settings)
    assert asyncio.run(verify_now(world, pg_url, settings)) == []
    assert_matches_history(world, settings, pg_url)
    store = open_store(pg_url)
    try:
        with store.reader() as session:
            before = count_events(session, CHAIN)
    finally:
        store.close()
    backfill(settings)
    store = open_store(pg_url)
    try:
        with store.reader() as session:
            assert count_events(session, CHAIN) == before
    finally:
        store.close()


# --------------------------------------------------------------------------- reorg


def _transfer_data(to: str, amount_raw: int) -> str:
    return "0xa9059cbb" + to[2:].lower().rjust(64, "0") + hex(amount_raw)[2:].rjust(64, "0")


def test_reorg_leaves_the_ledger_as_if_the_orphans_never_existed(
    make_world: WorldFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = make_world()
    chain = node.chain()
    manifest = node.manifest
    assert node.history is not None
    main, cold = node.history.wallet("main"), node.history.wallet("cold")
    outsider = manifest.account("outsider").address
    usdc = manifest.token("USDC").address
    db_url = f"sqlite:///{tmp_path / 'reorg.db'}"
    settings = settings_for(monkeypatch, tmp_path, node.rpc_url, db_url)
    backfill(settings)
    fork_snapshot = chain.snapshot()
    # The branch that will be orphaned: a receipt and an own transfer.
    chain.transact("orphan receipt", outsider, main, value_wei=3 * 10**18)
    chain.transact("orphan transfer", main, usdc, _transfer_data(cold, 1_234 * 10**6))
    backfill(settings)
    orphaned = ledger_snapshot(db_url)
    chain.revert(fork_snapshot)
    # The canonical branch: a different receipt, and more blocks than the orphans.
    chain.transact("canonical receipt", outsider, main, value_wei=5 * 10**18)
    for _ in range(3):
        chain.mine()
    with capture_logs() as logs:
        backfill(settings)
    rolled = [e for e in logs if e["event"] == "reorg_rolled_back"]
    assert len(rolled) == 1 and rolled[0]["events"] >= 3, rolled
    after = ledger_snapshot(db_url)
    assert after != orphaned
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = settings_for(monkeypatch, tmp_path, node.rpc_url, fresh_url)
    backfill(fresh)
    assert after == ledger_snapshot(fresh_url)
    assert asyncio.run(verify_now(node, db_url, settings)) == []


# ------------------------------------------------------------------ kill and resume


def _checkpoint_block(db_url: str) -> int | None:
    store = open_store(db_url)
    try:
        with store.reader() as session:
            found = get_checkpoint(session, CHAIN)
    except StoreError:
        return None
    finally:
        store.close()
    return None if found is None else int(found.block_number)


def test_sigkill_mid_backfill_then_restart_gives_the_uninterrupted_ledger(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.history is not None
    last = world.history.last_block
    db_url = f"sqlite:///{tmp_path / 'killed.db'}"
    settings = settings_for(monkeypatch, tmp_path, world.rpc_url, db_url, max_block_range=3)
    store = open_store(db_url)
    store.upgrade()
    store.close()
    config = write_config(tmp_path, max_block_range=3, name="small.yaml")
    env = {**os.environ, "HARVESTD_RPC_URL": world.rpc_url, "HARVESTD_DATABASE_URL": db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harvestd", "backfill", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed_at: int | None = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            block = _checkpoint_block(db_url)
            if block is not None and block >= last // 3:
                proc.send_signal(signal.SIGKILL)
                killed_at = block
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert killed_at is not None and killed_at < last, "the backfill ended before the kill"
    backfill(settings)  # the restart
    uninterrupted_url = f"sqlite:///{tmp_path / 'whole.db'}"
    whole = settings_for(monkeypatch, tmp_path, world.rpc_url, uninterrupted_url)
    backfill(whole)  # one run, and other batch boundaries (500 blocks)
    assert ledger_snapshot(db_url) == ledger_snapshot(uninterrupted_url)


# -------------------------------------------------------------------- daemon job


def test_daemon_index_job_catches_up_and_then_books_new_blocks(
    make_world: WorldFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = make_world()
    assert node.history is not None
    db_url = f"sqlite:///{tmp_path / 'daemon.db'}"
    settings = settings_for(monkeypatch, tmp_path, node.rpc_url, db_url)
    store = open_store(db_url)
    store.upgrade()
    try:
        job = index_chain_job(settings, settings.chains[0], store)
        context = JobContext(JobName("index:31337"), CHAIN, asyncio.Event(), DaemonMetrics())
        with capture_logs() as first_ticks:
            asyncio.run(job(context))
            asyncio.run(job(context))  # caught up: books nothing, prepares nothing again
        prepared = [e for e in first_ticks if e["event"] == "indexer_prepared"]
        assert len(prepared) == 1, "the job prepares once per process, not once per tick"
        with store.reader() as session:
            booked = count_events(session, CHAIN)
            lots = len(load_lots(session, CHAIN, open_only=True))
        assert booked > 0 and lots > 0
        outsider = node.manifest.account("outsider").address
        receipt = node.chain().transact(
            "late receipt", outsider, node.history.wallet("main"), value_wei=10**18
        )
        asyncio.run(job(context))
        with store.reader() as session:
            assert count_events(session, CHAIN) == booked + 1
            after = load_lots(session, CHAIN, open_only=True)
        # The new lot is there (split in pieces where earlier gas sold ETH at a loss within
        # 30 days: the wash-sale rule carries those losses into it).
        new_tx = receipt["transactionHash"].to_0x_hex()
        assert sum(lot.remaining_raw for lot in after if lot.source.tx_hash == new_tx) == 10**18
        assert len(after) > lots
    finally:
        store.close()


# ------------------------------------------------------------------------ faults


@pytest.mark.asyncio(loop_scope="function")
async def test_backfill_through_the_fault_proxy_gives_the_same_ledger(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    clean = settings_for(monkeypatch, tmp_path, world.rpc_url, clean_url)
    await asyncio.to_thread(backfill, clean)
    faulty_url = f"sqlite:///{tmp_path / 'faulty.db'}"
    async with FaultProxy(world.rpc_url, seed=7, max_range_blocks=64, max_faults=25) as proxy:
        settings = settings_for(monkeypatch, tmp_path, proxy.url, faulty_url)
        chain = settings.chains[0]
        store = open_store(faulty_url)
        try:
            await asyncio.to_thread(store.upgrade)
            async with RpcClient(proxy.url, timeout_seconds=0.5, retry=FAST) as rpc:
                indexer = ChainIndexer(plan_for(settings, chain), store, rpc)
                await indexer.run()
        finally:
            store.close()
    assert sum(proxy.counts.values()) > 0
    assert ledger_snapshot(faulty_url) == ledger_snapshot(clean_url)
