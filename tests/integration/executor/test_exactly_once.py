"""Exactly-once execution on a real world node and a real store: a stuck transaction is
replaced and only one lands; a crash after `signed` re-broadcasts the same bytes once
(SQLite and Postgres); a SIGKILL after `sent` still ends with one swap and the proposal
executed; an unapproved proposal is not executed; dry-run sends nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from executor_stack import Node, Stack, deployment_of, market_prices
from runner_world import (
    ETH,
    add_proposal,
    executions,
    has_state,
    migrated_store,
    runner_on,
    swap_logs_from,
)
from structlog.testing import capture_logs

from executor.chain import ChainClient
from executor.errors import NonceTaken, ProposalNotApproved, ReceiptTimedOut
from executor.execution import RunPolicy, TradeExecutor
from executor.guards import FeeCaps
from executor.nonces import StoreNonces
from executor.quoting import RouteQuoter
from executor.sending import TradeSender
from executor.signing import sign_transaction
from executor.transactions import TxPurpose, UnsignedTx
from harvestd.world.launch import World
from ledger.redaction import redact_url
from ledger.store import Store, get_proposal
from ledger.store.records import ExecutionState, ProposalStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from store.conftest import pg_database

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Database:
    """A migrated store and the URL it was opened with (for a child process)."""

    url: str
    store: Store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh migrated store on SQLite or Postgres (a private database, dropped after)."""
    with ExitStack() as cleanup:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'harvestd.db'}"
        else:
            url = cleanup.enter_context(pg_database("harvestd_t"))
        store = migrated_store(url)
        cleanup.callback(store.close)
        yield Database(url, store)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A fresh migrated SQLite store."""
    store = migrated_store(f"sqlite:///{tmp_path / 'harvestd.db'}")
    try:
        yield store
    finally:
        store.close()


@pytest_asyncio.fixture
async def stack(clean_world: World) -> AsyncIterator[Stack]:
    """The executor's stack on the session world; automine restored and the pool flushed
    at the end (the world is then reverted by `clean_world`)."""
    chain = ChainClient.from_url(clean_world.rpc_url, timeout_seconds=30)
    deployment = deployment_of(clean_world.manifest)
    quoter = RouteQuoter(chain, deployment)
    node = Node("world", clean_world.rpc_url, clean_world.manifest)
    try:
        yield Stack(node, chain, deployment, quoter, await market_prices(quoter, node.manifest))
    finally:
        await chain.rpc("evm_setAutomine", [True])
        await chain.rpc("evm_mine", [])
        await chain.close()


async def _until(predicate: Callable[[], bool], timeout_seconds: float = 30.0) -> None:
    give_up = time.monotonic() + timeout_seconds
    while not await asyncio.to_thread(predicate):
        assert time.monotonic() < give_up, "condition not reached in time"
        await asyncio.sleep(0.05)


FAST = RunPolicy(
    live=True,
    receipt_timeout_seconds=60,
    replace_after_seconds=1.0,
    fee_bump_percent=12,
    poll_seconds=0.1,
)


async def test_stuck_transaction_is_replaced_and_only_one_lands(
    stack: Stack, sqlite_store: Store
) -> None:
    store = sqlite_store
    chain_id = stack.manifest.chain_id
    add_proposal(store, chain_id, "p-stuck", ProposalStatus.APPROVED)
    runner = runner_on(stack, store, FAST)
    trader = runner.trader
    nonce_before = await stack.chain.nonce(trader, pending=False)
    first_block = await stack.chain.block_number() + 1
    planned = await runner.plan(ETH, "p-stuck")
    await stack.chain.rpc("evm_setAutomine", [False])

    async def mine_after_replacement() -> None:
        await _until(lambda: has_state(store, "p-stuck", ExecutionState.SENT, attempt=2))
        await stack.chain.rpc("evm_mine", [])

    with capture_logs() as logs:
        result, _ = await asyncio.gather(
            runner.executor.execute("p-stuck", 0, planned, stack.key("trader")),
            mine_after_replacement(),
        )
    rows = executions(store, "p-stuck")
    states = [(r.attempt, r.state) for r in rows]
    assert states == [(1, ExecutionState.REPLACED), (2, ExecutionState.CONFIRMED)]
    first, second = rows
    assert first.nonce == second.nonce == nonce_before
    assert first.max_fee_per_gas_wei is not None and second.max_fee_per_gas_wei is not None
    assert second.max_fee_per_gas_wei * 100 >= first.max_fee_per_gas_wei * 112
    assert first.max_priority_fee_per_gas_wei is not None
    assert second.max_priority_fee_per_gas_wei is not None
    assert second.max_priority_fee_per_gas_wei * 100 >= first.max_priority_fee_per_gas_wei * 112
    assert result.state is ExecutionState.CONFIRMED and result.tx_hash == second.tx_hash
    assert await stack.chain.receipt(first.tx_hash or "") is None
    assert await stack.chain.nonce(trader, pending=False) == nonce_before + 1
    assert await swap_logs_from(stack.chain, trader, first_block) == 1
    assert second.amount_out_raw and second.amount_out_raw >= planned.min_out_raw
    assert second.gas_used and second.effective_gas_price_wei
    with store.reader() as session:
        assert get_proposal(session, "p-stuck").status is ProposalStatus.EXECUTED
    events = [e["event"] for e in logs]
    assert events.count("trade_sent") == 2
    assert events.count("trade_replaced") == 1
    assert events.count("trade_executed") == 1
    executed = next(e for e in logs if e["event"] == "trade_executed")
    assert executed["amount_out_raw"] == second.amount_out_raw
    assert executed["slippage_bps"] is not None
    key = stack.manifest.account("trader").private_key.removeprefix("0x")
    assert all(key not in repr(e) for e in logs)


async def test_crash_after_signed_broadcasts_the_same_bytes_once(
    stack: Stack, database: Database
) -> None:
    store = database.store
    add_proposal(store, stack.manifest.chain_id, "p-signed", ProposalStatus.APPROVED)
    runner = runner_on(stack, store, FAST)
    trader = runner.trader
    nonce_before = await stack.chain.nonce(trader, pending=False)
    first_block = await stack.chain.block_number() + 1
    planned = await runner.plan(ETH, "p-signed")
    # The first run dies right after persisting `signed`: its broadcast never happens.
    original = runner.executor._broadcast

    async def crash(record: object) -> object:
        raise KeyboardInterrupt

    runner.executor._broadcast = crash
    with pytest.raises(KeyboardInterrupt):
        await runner.executor.execute("p-signed", 0, planned, stack.key("trader"))
    del original
    (signed,) = executions(store, "p-signed")
    assert signed.state is ExecutionState.SIGNED and signed.raw_tx
    assert not await stack.chain.is_known(signed.tx_hash)

    restarted = runner_on(stack, store, FAST)
    with capture_logs() as logs:
        (result,) = await restarted.executor.resume(stack.key("trader"))
    (done,) = executions(store, "p-signed")
    assert done.id == signed.id and done.state is ExecutionState.CONFIRMED
    assert done.tx_hash == signed.tx_hash and done.raw_tx == signed.raw_tx
    assert result.tx_hash == signed.tx_hash
    assert [e["event"] for e in logs].count("trade_rebroadcast") == 1
    assert await stack.chain.nonce(trader, pending=False) == nonce_before + 1
    assert await swap_logs_from(stack.chain, trader, first_block) == 1
    with store.reader() as session:
        assert get_proposal(session, "p-signed").status is ProposalStatus.EXECUTED
    # A second resume, or executing the trade again, sends nothing more.
    assert await restarted.executor.resume(stack.key("trader")) == []
    again = await restarted.executor.execute("p-signed", 0, planned, stack.key("trader"))
    assert again.state is ExecutionState.CONFIRMED and again.tx_hash == signed.tx_hash
    assert await stack.chain.nonce(trader, pending=False) == nonce_before + 1


@pytest.mark.slow
async def test_sigkill_after_sent_then_restart_lands_one_swap(
    stack: Stack, clean_world: World, database: Database
) -> None:
    store = database.store
    add_proposal(store, stack.manifest.chain_id, "p-kill", ProposalStatus.APPROVED)
    trader = stack.manifest.account("trader").address
    nonce_before = await stack.chain.nonce(trader, pending=False)
    first_block = await stack.chain.block_number() + 1
    await stack.chain.rpc("evm_setAutomine", [False])
    args = {
        "manifest": str(clean_world.manifest_path),
        "rpc_url": clean_world.rpc_url,
        "db_url": database.url,
        "proposal_id": "p-kill",
        "eth_wei": str(ETH),
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(Path.cwd())])
    child = subprocess.Popen(  # noqa: ASYNC220 (killed by pid with SIGKILL)
        [sys.executable, str(HERE / "runner_world.py"), json.dumps(args)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await _until(
            lambda: child.poll() is not None or has_state(store, "p-kill", ExecutionState.SENT),
            timeout_seconds=90,
        )
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stderr:
            child.stderr.close()
    (sent,) = executions(store, "p-kill")
    assert sent.state is ExecutionState.SENT
    assert await stack.chain.is_known(sent.tx_hash)
    assert await stack.chain.receipt(sent.tx_hash) is None

    restarted = runner_on(stack, store, FAST)

    async def mine_soon() -> None:
        await asyncio.sleep(0.3)
        await stack.chain.rpc("evm_mine", [])

    results, _ = await asyncio.gather(restarted.executor.resume(stack.key("trader")), mine_soon())
    (result,) = results
    rows = executions(store, "p-kill")
    confirmed = [r for r in rows if r.state is ExecutionState.CONFIRMED]
    assert len(confirmed) == 1
    assert all(r.state in (ExecutionState.CONFIRMED, ExecutionState.REPLACED) for r in rows)
    assert result.state is ExecutionState.CONFIRMED
    assert await stack.chain.nonce(trader, pending=False) == nonce_before + 1
    assert await swap_logs_from(stack.chain, trader, first_block) == 1
    with store.reader() as session:
        assert get_proposal(session, "p-kill").status is ProposalStatus.EXECUTED


async def test_unapproved_proposal_is_not_executed_live(stack: Stack, sqlite_store: Store) -> None:
    store = sqlite_store
    add_proposal(store, stack.manifest.chain_id, "p-open", ProposalStatus.OPEN)
    add_proposal(store, stack.manifest.chain_id, "p-rejected", ProposalStatus.REJECTED)
    runner = runner_on(stack, store, FAST)
    nonce_before = await stack.chain.nonce(runner.trader, pending=True)
    for proposal_id in ("p-open", "p-rejected"):
        planned = await runner.plan(ETH, proposal_id)
        with capture_logs() as logs, pytest.raises(ProposalNotApproved):
            await runner.executor.execute(proposal_id, 0, planned, stack.key("trader"))
        assert [e["event"] for e in logs] == ["trade_not_approved"]
        assert executions(store, proposal_id) == []
    assert await stack.chain.nonce(runner.trader, pending=True) == nonce_before
    with store.reader() as session:
        assert get_proposal(session, "p-open").status is ProposalStatus.OPEN


async def test_auto_approve_executes_an_open_proposal(stack: Stack, sqlite_store: Store) -> None:
    store = sqlite_store
    add_proposal(store, stack.manifest.chain_id, "p-auto", ProposalStatus.OPEN)
    policy = RunPolicy(live=True, auto_approve=True, receipt_timeout_seconds=30)
    runner = runner_on(stack, store, policy)
    planned = await runner.plan(ETH, "p-auto")
    result = await runner.executor.execute("p-auto", 0, planned, stack.key("trader"))
    assert result.state is ExecutionState.CONFIRMED
    with store.reader() as session:
        assert get_proposal(session, "p-auto").status is ProposalStatus.EXECUTED


async def test_dry_run_sends_nothing(stack: Stack, sqlite_store: Store) -> None:
    store = sqlite_store
    add_proposal(store, stack.manifest.chain_id, "p-dry", ProposalStatus.APPROVED)
    runner = runner_on(stack, store, RunPolicy(live=False))
    nonce_before = await stack.chain.nonce(runner.trader, pending=True)
    planned = await runner.plan(ETH, "p-dry")
    with capture_logs() as logs:
        result = await runner.executor.execute("p-dry", 0, planned, stack.key("trader"))
    assert result.state is None and result.tx_hash is None
    assert [e["event"] for e in logs] == ["trade_dry_run"]
    assert executions(store, "p-dry") == []
    assert await stack.chain.nonce(runner.trader, pending=True) == nonce_before
    with store.reader() as session:
        assert get_proposal(session, "p-dry").status is ProposalStatus.APPROVED


class RecordingProxy:
    """A real local JSON-RPC proxy that forwards to the node and records the methods."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.methods: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        payload = json.loads(body)
        calls = payload if isinstance(payload, list) else [payload]
        self.methods.extend(str(call.get("method")) for call in calls)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.target, data=body, headers={"Content-Type": "application/json"}
            ) as answer,
        ):
            return web.Response(body=await answer.read(), content_type="application/json")

    async def __aenter__(self) -> RecordingProxy:
        app = web.Application()
        app.router.add_post("/", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def test_broadcasts_go_through_the_send_endpoint_only(
    stack: Stack, sqlite_store: Store
) -> None:
    store = sqlite_store
    add_proposal(store, stack.manifest.chain_id, "p-send", ProposalStatus.APPROVED)
    async with RecordingProxy(stack.node.url) as reads, RecordingProxy(stack.node.url) as sends:
        read_chain = ChainClient.from_url(reads.url)
        send_chain = ChainClient.from_url(sends.url)
        try:
            planner_side = runner_on(stack, store, FAST)
            executor_ = TradeExecutor(
                store,
                read_chain,
                TradeSender(stack.chain, stack.quoter),
                stack.manifest.chain_id,
                FAST,
                send_chain,
            )
            planned = await planner_side.plan(ETH, "p-send")
            with capture_logs() as logs:
                result = await executor_.execute("p-send", 0, planned, stack.key("trader"))
        finally:
            await read_chain.close()
            await send_chain.close()
    assert result.state is ExecutionState.CONFIRMED
    assert sends.methods == ["eth_sendRawTransaction"]
    assert "eth_sendRawTransaction" not in reads.methods
    assert "eth_getTransactionReceipt" in reads.methods
    sent = next(e for e in logs if e["event"] == "trade_sent")
    # Endpoints are logged redacted (scheme, host, port): the send proxy's, not the reader's.
    assert sent["endpoint"] == redact_url(sends.url)


async def test_a_bump_above_the_cap_keeps_the_stuck_transaction(
    stack: Stack, sqlite_store: Store
) -> None:
    store = sqlite_store
    add_proposal(store, stack.manifest.chain_id, "p-cap", ProposalStatus.APPROVED)
    base_fee = await stack.chain.next_base_fee_wei()
    # The first transaction already signs at the cap: no replacement fits under it.
    policy = RunPolicy(
        live=True,
        priority_fee_wei=10**9,
        max_fee_per_gas_wei=2 * base_fee + 10**9,
        receipt_timeout_seconds=2.0,
        replace_after_seconds=0.5,
        poll_seconds=0.1,
    )
    runner = runner_on(stack, store, policy)
    planned = await runner.plan(ETH, "p-cap")
    await stack.chain.rpc("evm_setAutomine", [False])
    with capture_logs() as logs, pytest.raises(ReceiptTimedOut):
        await runner.executor.execute("p-cap", 0, planned, stack.key("trader"))
    refused = [e for e in logs if e["event"] == "trade_replacement_refused"]
    assert refused and refused[0]["cap_wei"] == 2 * base_fee + 10**9
    assert not [e for e in logs if e["event"] == "trade_replaced"]
    (stuck,) = executions(store, "p-cap")
    assert stuck.state is ExecutionState.SENT
    # Mining resumes; the restart finds the original transaction mined.
    await stack.chain.rpc("evm_mine", [])
    (result,) = await runner_on(stack, store, policy).executor.resume(stack.key("trader"))
    assert result.state is ExecutionState.CONFIRMED and result.tx_hash == stuck.tx_hash
    with store.reader() as session:
        assert get_proposal(session, "p-cap").status is ProposalStatus.EXECUTED


async def test_a_nonce_mined_by_a_foreign_transaction_fails_the_trade(
    stack: Stack, sqlite_store: Store
) -> None:
    store = sqlite_store
    add_proposal(store, stack.manifest.chain_id, "p-taken", ProposalStatus.APPROVED)
    policy = RunPolicy(live=True, receipt_timeout_seconds=30, replace_after_seconds=600)
    runner = runner_on(stack, store, policy)
    planned = await runner.plan(ETH, "p-taken")
    await stack.chain.rpc("evm_setAutomine", [False])

    async def steal_the_nonce() -> None:
        await _until(lambda: has_state(store, "p-taken", ExecutionState.SENT))
        (ours,) = executions(store, "p-taken")
        assert ours.nonce is not None and ours.max_fee_per_gas_wei is not None
        assert ours.max_priority_fee_per_gas_wei is not None
        other = UnsignedTx(
            TxPurpose.SWAP,
            stack.manifest.chain_id,
            runner.trader,
            runner.trader,
            b"",
            0,
            21_000,
            FeeCaps(ours.max_fee_per_gas_wei * 2, ours.max_priority_fee_per_gas_wei * 2, 0),
            ours.nonce,
        )
        await stack.chain.send_raw_transaction(sign_transaction(other, stack.key("trader")).raw)
        await stack.chain.rpc("evm_mine", [])

    with pytest.raises(NonceTaken):
        await asyncio.gather(
            runner.executor.execute("p-taken", 0, planned, stack.key("trader")),
            steal_the_nonce(),
        )
    (failed,) = executions(store, "p-taken")
    assert failed.state is ExecutionState.FAILED
    with store.reader() as session:
        assert get_proposal(session, "p-taken").status is ProposalStatus.FAILED


async def test_nonces_survive_a_restart_and_drop_unsent_reservations(
    stack: Stack, sqlite_store: Store
) -> None:
    chain_id = stack.manifest.chain_id
    trader = stack.manifest.account("trader").address
    pending = await stack.chain.nonce(trader, pending=True)
    first = StoreNonces(sqlite_store, stack.chain, chain_id)
    assert [await first.next_nonce(trader) for _ in range(3)] == [pending, pending + 1, pending + 2]
    restarted = StoreNonces(sqlite_store, stack.chain, chain_id)
    assert await restarted.next_nonce(trader) == pending + 3  # the store remembers
    # Nothing of those reached the chain: start-up reconciliation closes the gap.
    found = await restarted.reconcile(trader)
    assert (found.stored_next, found.next_nonce, found.in_flight_nonces) == (
        pending + 4,
        pending,
        (),
    )
    assert await restarted.next_nonce(trader) == pending
