"""Helpers for the exactly-once tests: a migrated store, proposals in it, the executor's
runner wired on a world node, a planned native-ETH -> USDC trade, and counts read from the
chain. Also a `__main__` entry: the child process the SIGKILL test starts and kills."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from executor_stack import Secret, Stack, deployment_of, market_prices

from executor.chain import ChainClient
from executor.execution import RunPolicy, TradeExecutor
from executor.nonces import StoreNonces
from executor.planning import PlannedTrade, TradeRequest
from executor.quoting import RouteQuoter
from executor.routes import PoolKind
from executor.sending import TradeSender
from harvestd.world.manifest import load_manifest
from ledger.ids import Address, ChainId
from ledger.store import (
    Store,
    create_proposal,
    list_executions,
    open_store,
    update_proposal_status,
)
from ledger.store.records import (
    ExecutionRecord,
    ExecutionState,
    ProposalRecord,
    ProposalStatus,
)

ETH = 10**18
SWAP_V2_TOPIC = bytes.fromhex("d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822")
SWAP_V3_TOPIC = bytes.fromhex("c42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67")


def migrated_store(url: str) -> Store:
    """A store on `url`, migrated to head."""
    store = open_store(url)
    store.upgrade()
    return store


def add_proposal(
    store: Store, chain_id: ChainId, proposal_id: str, status: ProposalStatus
) -> ProposalRecord:
    """A one-trade proposal, moved to `status` (open, approved or rejected)."""
    now = datetime.now(UTC)
    record = ProposalRecord(
        id=proposal_id,
        kind="harvest",
        status=ProposalStatus.OPEN,
        fingerprint=f"fp-{proposal_id}",
        chain_id=chain_id,
        wallet=None,
        reason="sell ETH for USDC (test)",
        created_at=now,
        updated_at=now,
        expires_at=None,
        expected_short_term_gain_usd=Decimal("-12.5"),
        expected_long_term_gain_usd=Decimal(0),
        expected_exempt_gain_usd=Decimal(0),
        expected_tax_effect_usd=Decimal("3.1"),
        expected_cost_usd=Decimal("0.4"),
        trade_count=1,
        details={"trades": [{"sell": "ETH", "buy": "USDC"}]},
    )
    with store.transaction() as session:
        created = create_proposal(session, record)
        if status is not ProposalStatus.OPEN:
            created = update_proposal_status(session, proposal_id, status)
    return created


def executions(store: Store, proposal_id: str) -> list[ExecutionRecord]:
    """Every attempt of a proposal's trades."""
    with store.reader() as session:
        return list_executions(session, proposal_id=proposal_id)


def has_state(store: Store, proposal_id: str, state: ExecutionState, attempt: int = 1) -> bool:
    """Whether the given attempt exists in `state`."""
    return any(r.attempt == attempt and r.state is state for r in executions(store, proposal_id))


@dataclass(frozen=True, slots=True)
class Runner:
    """A runner on one node, for one trader."""

    executor: TradeExecutor
    stack: Stack
    trader: Address

    async def plan(self, eth_wei: int, proposal_id: str) -> PlannedTrade:
        """A V2 native-ETH -> USDC trade (one swap, no approval)."""
        planner = self.stack.planner(kinds=frozenset({PoolKind.V2}))
        request = TradeRequest(
            self.trader,
            Address(self.stack.address("WETH")),
            Address(self.stack.address("USDC")),
            eth_wei,
            native_in=True,
            proposal_id=proposal_id,
        )
        return await planner.plan(request, self.stack.prices)


def runner_on(
    stack: Stack, store: Store, policy: RunPolicy, send_chain: ChainClient | None = None
) -> Runner:
    """The exactly-once runner wired on a stack (approval nonces from the store too)."""
    chain_id = stack.manifest.chain_id
    nonces = StoreNonces(store, stack.chain, chain_id)
    sender = TradeSender(stack.chain, stack.quoter, nonces=nonces)
    executor_ = TradeExecutor(store, stack.chain, sender, chain_id, policy, send_chain)
    return Runner(executor_, stack, stack.manifest.account("trader").address)


async def swap_logs_from(chain: ChainClient, sender: Address, first_block: int) -> int:
    """Uniswap Swap logs in transactions sent by `sender` since `first_block`."""
    count = 0
    latest = await chain.block_number()
    for number in range(first_block, latest + 1):
        block = await chain.rpc("eth_getBlockByNumber", [hex(number), True])
        assert isinstance(block, dict)
        for tx in block["transactions"]:
            if tx["from"].lower() != sender.lower():
                continue
            receipt = await chain.receipt(tx["hash"])
            assert receipt is not None
            count += sum(
                1
                for entry in receipt.logs
                if entry.topics and entry.topics[0] in (SWAP_V2_TOPIC, SWAP_V3_TOPIC)
            )
    return count


async def _child(args: dict[str, str]) -> None:
    """Plan and execute one trade with a long receipt timeout; the parent kills us."""
    manifest = load_manifest(Path(args["manifest"])).with_rpc_url(args["rpc_url"])
    chain = ChainClient.from_url(args["rpc_url"], timeout_seconds=30)
    deployment = deployment_of(manifest)
    quoter = RouteQuoter(chain, deployment)
    from executor_stack import Node

    stack = Stack(
        Node("world", args["rpc_url"], manifest),
        chain,
        deployment,
        quoter,
        await market_prices(quoter, manifest),
    )
    store = open_store(args["db_url"])
    policy = RunPolicy(
        live=True, receipt_timeout_seconds=600, replace_after_seconds=600, poll_seconds=0.1
    )
    runner = runner_on(stack, store, policy)
    planned = await runner.plan(int(args["eth_wei"]), args["proposal_id"])
    key = Secret(manifest.account("trader").private_key)
    await runner.executor.execute(args["proposal_id"], 0, planned, key)


if __name__ == "__main__":
    asyncio.run(_child(json.loads(sys.argv[1])))
