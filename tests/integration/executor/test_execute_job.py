"""The daemon's execution job on the world (harvestd.executing.execute_job).

- dry-run: every open proposal's trades are planned once (`trade_planned` with exact
  calldata); nothing is signed or sent: the wallets' nonces and the head are unchanged,
  and a second run plans nothing again.
- live: an approved harvest proposal is executed (one confirmed execution per trade, the
  proposal `executed`); after the next index step the booked realised loss of the swap
  matches the proposal's expected loss within the slippage limit (plus its gas estimate).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator, MutableMapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eth_utils.address import to_checksum_address
from psycopg import sql
from structlog.testing import capture_logs

from harvestd.commands.backfill import backfill_chains
from harvestd.daemon import JobContext, JobName
from harvestd.executing import execute_job, proposal_trades
from harvestd.metrics import DaemonMetrics
from harvestd.scanning import scan_chain
from harvestd.settings import Settings, load_settings
from harvestd.world.artifacts import load_artifact
from harvestd.world.deploy import FAR_DEADLINE, call_data
from harvestd.world.launch import World
from ledger.ids import ChainId
from ledger.store import (
    ProposalRecord,
    ProposalStatus,
    Store,
    get_proposal,
    list_executions,
    load_disposals,
    open_store,
    update_proposal_status,
)
from ledger.store.records import ExecutionState

ROOT = Path(__file__).resolve().parents[3]
LOCAL_CONFIG = ROOT / "config" / "local.yaml"
CHAIN = ChainId(31337)
KEY_VAR = "HARVESTD_PRIVATE_KEY"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
NO_WASH_NO_REBALANCE = {  # config/local.yaml books without the wash-sale rule
    "  rebalance:\n    enabled: true": "  rebalance:\n    enabled: false",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file, or a uniquely named Postgres database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
        return
    name = f"harvestd_t_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def world_settings(
    tmp_path: Path,
    world: World,
    replace: dict[str, str],
    environ: dict[str, str],
    db_url: str | None = None,
) -> Settings:
    text = LOCAL_CONFIG.read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "local.yaml"
    path.write_text(text)
    env = {
        "HARVESTD_RPC_URL": world.rpc_url,
        "HARVESTD_DATABASE_URL": db_url or f"sqlite:///{tmp_path}/ledger.db",
        **environ,
    }
    return load_settings(path, env)


def backfilled_store(settings: Settings) -> Store:
    store = open_store(settings.database.url.get_secret_value())
    store.upgrade()
    asyncio.run(backfill_chains(settings, store))
    return store


def run_job(
    settings: Settings,
    store: Store,
    environ: dict[str, str],
    times: int = 1,
    metrics: DaemonMetrics | None = None,
) -> list[MutableMapping[str, Any]]:
    """Run the execute job `times` times in one loop (the job keeps memory between runs)."""
    job = execute_job(settings, store, environ=environ)
    counters = metrics or DaemonMetrics()

    async def go() -> None:
        context = JobContext(JobName("execute_approved"), None, asyncio.Event(), counters)
        for _ in range(times):
            await job(context)

    with capture_logs() as logs:
        asyncio.run(go())
    return logs


def counted(metrics: DaemonMetrics, name: str) -> dict[str, float]:
    """A counter's samples by reason (or "" without one) on chain 31337."""
    found: dict[str, float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == name and sample.labels.get("chain_id") == "31337":
                found[sample.labels.get("reason", "")] = sample.value
    return found


def nonces(world: World) -> dict[str, int]:
    chain = world.chain()
    return {
        name: chain.w3.eth.get_transaction_count(
            to_checksum_address(world.manifest.account(name).address)
        )
        for name in ("main", "cold")
    }


def test_dry_run_plans_each_open_proposal_once_and_sends_nothing(
    clean_world: World, tmp_path: Path
) -> None:
    # Without the wash-sale rule the world gives harvests (sell, then buy back) and a rebalance.
    settings = world_settings(tmp_path, clean_world, {}, {})
    store = backfilled_store(settings)
    try:
        with capture_logs():
            outcome = asyncio.run(scan_chain(settings, store, settings.chains[0]))
        assert outcome.created, "the world's scan proposes something"
        before_nonces = nonces(clean_world)
        before_head = clean_world.chain().w3.eth.block_number

        metrics = DaemonMetrics()
        logs = run_job(settings, store, {}, times=2, metrics=metrics)

        planned = [e for e in logs if e["event"] == "trade_planned"]
        finished = [e for e in logs if e["event"] == "proposal_planned"]
        refused = [e for e in logs if e["event"] == "trade_refused"]
        print(
            f"proposals={len(outcome.created)} trades_planned={len(planned)} "
            f"proposals_planned={len(finished)} refused={len(refused)}"
        )
        assert finished and planned
        # Each proposal was looked at once although the job ran twice: planned in full, or
        # stopped at its first refused trade (logged with the guard and its numbers).
        seen = [e["proposal_id"] for e in finished] + [e["proposal_id"] for e in refused]
        assert sorted(seen) == sorted(p.id for p in outcome.created)
        for event in refused:
            assert event["reason"] and event["stage"] == "plan"
        # Refusals are counted by guard for /metrics.
        by_reason: dict[str, float] = {}
        for event in refused:
            by_reason[event["reason"]] = by_reason.get(event["reason"], 0) + 1
        assert counted(metrics, "harvestd_trades_refused_total") == by_reason
        for event in planned:
            assert event["dry_run"] is True
            swaps = [t for t in event["transactions"] if t["purpose"] == "swap"]
            assert swaps and all(t["data"].startswith("0x") and len(t["data"]) > 10 for t in swaps)
            assert event["min_out_raw"] <= event["quoted_out_raw"]
        # Every trade of a planned proposal was planned, with its amount.
        by_id = {p.id: p for p in outcome.created}
        for event in finished:
            trades = proposal_trades(by_id[event["proposal_id"]])
            amounts = sorted(
                e["amount_in_raw"] for e in planned if e["proposal_id"] == event["proposal_id"]
            )
            assert amounts == sorted(t.amount_raw for t in trades)
        assert not [e for e in logs if e["event"] in ("trade_sent", "trade_executed")]
        assert nonces(clean_world) == before_nonces
        assert clean_world.chain().w3.eth.block_number == before_head
        with store.reader() as session:
            assert list_executions(session) == []
            for proposal in outcome.created:
                assert get_proposal(session, proposal.id).status is ProposalStatus.OPEN
    finally:
        store.close()


def buy_on_v3(world: World, token: str, wei: int) -> None:
    """The `trader` account buys `token` with native ETH through WETH -> USDC -> token on
    the V3 pools of fee 500."""
    chain = world.chain()
    manifest = world.manifest
    trader = manifest.account("trader").address
    router = chain.contract(load_artifact("SwapRouter"), manifest.contracts.swap_router)
    usdc = manifest.token("USDC").address
    fee = (500).to_bytes(3, "big")
    path = bytes.fromhex(manifest.contracts.weth[2:]) + fee + bytes.fromhex(usdc[2:])
    if token != usdc:
        path += fee + bytes.fromhex(token[2:])
    chain.transact(
        "move the market (v3)",
        trader,
        manifest.contracts.swap_router,
        call_data(router, "exactInput", (path, trader, FAR_DEADLINE, wei, 0)),
        value_wei=wei,
    )


def buy_on_v2(world: World, token: str, wei: int) -> None:
    """The `trader` account buys `token` with native ETH through WETH -> USDC -> token (V2)."""
    chain = world.chain()
    manifest = world.manifest
    trader = manifest.account("trader").address
    router = chain.contract(load_artifact("UniswapV2Router02"), manifest.contracts.v2_router)
    usdc = manifest.token("USDC").address
    path = [manifest.contracts.weth, usdc] + ([] if token == usdc else [token])
    chain.transact(
        "move the market",
        trader,
        manifest.contracts.v2_router,
        call_data(router, "swapExactETHForTokens", 0, path, trader, FAR_DEADLINE),
        value_wei=wei,
    )


def _harvest(outcome_created: tuple[ProposalRecord, ...]) -> ProposalRecord:
    harvests = [p for p in outcome_created if p.kind == "harvest"]
    assert harvests, [p.kind for p in outcome_created]
    return harvests[0]


def test_live_executes_an_approved_harvest_and_books_its_expected_loss(
    clean_world: World, tmp_path: Path
) -> None:
    manifest = clean_world.manifest
    # Harvests only, so that the one approved proposal is the only trade; with the
    # wash-sale rule on, the harvest re-enters through the substitute in one swap.
    replace = {
        "  rebalance:\n    enabled: true": "  rebalance:\n    enabled: false",
        "wash_sale: false": "wash_sale: true",
    }
    plain = world_settings(tmp_path, clean_world, replace, {})
    store = backfilled_store(plain)
    try:
        with capture_logs():
            outcome = asyncio.run(scan_chain(plain, store, plain.chains[0]))
        proposal = _harvest(outcome.created)
        (trade,) = proposal_trades(proposal)
        owner = next(a for a in manifest.accounts if a.address == trade.wallet)
        environ = {KEY_VAR: owner.private_key}
        # The harvest goes rETH <-> wstETH through two pools: ~2.8% below the stored
        # prices (two pool fees + the pools' spread), above local.yaml's 100 bps limit.
        live_replace = {
            **replace,
            "mode: dry_run": "mode: live",
            "max_price_impact_bps: 100": "max_price_impact_bps: 400",
        }
        live = world_settings(tmp_path, clean_world, live_replace, environ)
        with store.transaction() as session:
            update_proposal_status(session, proposal.id, ProposalStatus.APPROVED)

        metrics = DaemonMetrics()
        logs = run_job(live, store, environ, metrics=metrics)

        assert counted(metrics, "harvestd_trades_sent_total") == {"": 1}
        executed = [e for e in logs if e["event"] == "trade_executed"]
        assert len(executed) == 1, [e for e in logs if e["log_level"] != "debug"]
        assert owner.private_key.removeprefix("0x") not in repr(logs)
        with store.reader() as session:
            assert get_proposal(session, proposal.id).status is ProposalStatus.EXECUTED
            (execution,) = [
                r
                for r in list_executions(session, proposal_id=proposal.id)
                if r.state is ExecutionState.CONFIRMED
            ]
        assert execution.amount_in_raw == trade.amount_raw
        assert execution.amount_out_raw is not None
        assert execution.amount_out_raw >= execution.min_amount_out_raw

        # The next index step books the swap like any other.
        asyncio.run(backfill_chains(live, store))
        with store.reader() as session:
            booked = [
                d
                for d in load_disposals(session, CHAIN)
                if d.source.tx_hash is not None
                and d.source.tx_hash.lower() == str(execution.tx_hash).lower()
                and d.asset == trade.sell_asset
            ]
        assert booked, "the executed swap's disposal is booked"
        booked_gain = sum((d.gain_usd for d in booked), Decimal(0))
        expected = Decimal(str(proposal.details["realised_short_usd"])) + Decimal(
            str(proposal.details["realised_long_usd"])
        )
        trades: Any = proposal.details["trades"]
        proceeds = sum(
            (Decimal(str(u["proceeds_usd"])) for t in trades for u in t["lots"]),
            Decimal(0),
        )
        costs = proposal.details["costs"]
        assert isinstance(costs, dict)
        tolerance = abs(proceeds) * live.execution.max_slippage_bps / 10_000 + Decimal(
            str(costs["gas_usd"])
        )
        print(
            f"expected_gain_usd={expected} booked_gain_usd={booked_gain} "
            f"difference_usd={booked_gain - expected} tolerance_usd={tolerance}"
        )
        assert expected < 0 and booked_gain < 0
        assert abs(booked_gain - expected) <= tolerance
    finally:
        store.close()


def test_live_two_leg_harvest_sells_what_the_first_leg_returned_exactly_once(
    clean_world: World, tmp_path: Path, db_url: str
) -> None:
    manifest = clean_world.manifest
    plain = world_settings(tmp_path, clean_world, NO_WASH_NO_REBALANCE, {}, db_url)
    store = backfilled_store(plain)
    try:
        with capture_logs():
            outcome = asyncio.run(scan_chain(plain, store, plain.chains[0]))
        main = manifest.account("main")
        # Without the wash-sale rule a harvest sells the asset and buys it back: two legs.
        proposal = next(
            p
            for p in outcome.created
            if p.kind == "harvest" and p.wallet == main.address and p.trade_count == 2
        )
        first, second = proposal_trades(proposal)
        assert first.buy_asset == second.sell_asset
        environ = {KEY_VAR: main.private_key}
        live_replace = {
            **NO_WASH_NO_REBALANCE,
            "mode: dry_run": "mode: live",
            "max_price_impact_bps: 100": "max_price_impact_bps: 400",
        }
        live = world_settings(tmp_path, clean_world, live_replace, environ, db_url)
        with store.transaction() as session:
            update_proposal_status(session, proposal.id, ProposalStatus.APPROVED)
        # The market moves after the proposal: someone buys what the harvest sells, so its
        # first leg returns more than the proposal expected.
        buy_on_v2(clean_world, first.sell_asset, 10**17)
        buy_on_v3(clean_world, first.sell_asset, 10**17)

        logs = run_job(live, store, environ)

        assert len([e for e in logs if e["event"] == "trade_executed"]) == 2, [
            (e["event"], e.get("reason"), e.get("error")) for e in logs
        ]
        with store.reader() as session:
            assert get_proposal(session, proposal.id).status is ProposalStatus.EXECUTED
            confirmed = {
                r.trade_index: r
                for r in list_executions(session, proposal_id=proposal.id)
                if r.state is ExecutionState.CONFIRMED
            }
        assert sorted(confirmed) == [0, 1]
        assert confirmed[0].amount_in_raw == first.amount_raw
        assert confirmed[0].amount_out_raw != first.expected_out_raw
        # The second leg sold exactly what the first one returned, not the proposal's guess.
        assert confirmed[1].amount_in_raw == confirmed[0].amount_out_raw
        print(
            f"leg0 out={confirmed[0].amount_out_raw} expected={first.expected_out_raw}; "
            f"leg1 in={confirmed[1].amount_in_raw} proposal={second.amount_raw}"
        )

        # Exactly once: another run (a restart's, too) sends nothing.
        nonce = clean_world.chain().w3.eth.get_transaction_count(to_checksum_address(main.address))
        again = run_job(live, store, environ)
        assert not [e for e in again if e["event"] in ("trade_sent", "trade_planned")]
        assert (
            clean_world.chain().w3.eth.get_transaction_count(to_checksum_address(main.address))
            == nonce
        )
    finally:
        store.close()
