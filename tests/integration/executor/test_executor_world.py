"""The executor against the real world (and an Anvil fork of it): quotes equal router
outputs and executed outputs to the wei; guards refuse with nothing sent and a logged
reason; a planned swap signed and sent lands with the expected output."""

from __future__ import annotations

import time
from collections.abc import MutableMapping, Sequence
from dataclasses import replace
from typing import Any

import pytest
from executor_stack import Stack, default_limits
from structlog.testing import capture_logs

from executor.calldata import (
    decode_uint,
    decode_uint_array,
    encode_balance_of,
    encode_v2_get_amounts_out,
)
from executor.chain import CallRequest
from executor.errors import (
    GasPriceAboveCap,
    QuoteStale,
    RouterNotAllowed,
    SimulationReverted,
    SlippageExceeded,
    TokenNotAllowed,
    TradeAboveCap,
)
from executor.guards import choose_fee_caps
from executor.planning import TradeRequest
from executor.routes import Hop, PoolKind, Route
from executor.signing import sign_transaction
from executor.transactions import build_swap_call, build_swap_tx
from ledger.ids import Address

pytestmark = [pytest.mark.chain, pytest.mark.asyncio]

ETH = 10**18
V2_ONLY = frozenset({PoolKind.V2})
V3_ONLY = frozenset({PoolKind.V3})


def _events(logs: Sequence[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


async def _balance(stack: Stack, token: str, owner: str) -> int:
    raw = await stack.chain.call(CallRequest(Address(token), encode_balance_of(Address(owner))))
    return decode_uint(raw)


async def _buy_with_eth(stack: Stack, account: str, symbol: str, eth_wei: int) -> int:
    """Give `account` some `symbol` by selling native ETH through the executor."""
    me = stack.manifest.account(account).address
    planner = stack.planner()
    planned = await planner.plan(
        TradeRequest(
            me,
            Address(stack.address("WETH")),
            Address(stack.address(symbol)),
            eth_wei,
            native_in=True,
        ),
        stack.prices,
    )
    outcome = await stack.sender().send(planned, stack.key(account), 10**9, 100 * 10**9)
    return outcome.amount_out_raw


async def _push_price(stack: Stack, route: Route, eth_wei: int) -> None:
    """The whale sells `eth_wei` native ETH along `route` (which starts at WETH)."""
    whale = stack.manifest.account("whale").address
    block_ts = await stack.chain.block_timestamp()
    call = build_swap_call(
        route, eth_wei, 0, whale, block_ts + 120, stack.deployment, native_in=True
    )
    fees = choose_fee_caps(await stack.chain.next_base_fee_wei(), 10**9, 100 * 10**9)
    tx = build_swap_tx(stack.manifest.chain_id, whale, call, fees, 1_000_000)
    tx = tx.with_nonce(await stack.chain.nonce(whale))
    tx_hash = await stack.chain.send_raw_transaction(sign_transaction(tx, stack.key("whale")).raw)
    receipt = await stack.chain.wait_for_receipt(tx_hash, 30)
    assert receipt.success


async def test_v2_quote_equals_router_and_executed_output(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    weth, usdc, wbtc = (Address(stack.address(s)) for s in ("WETH", "USDC", "WBTC"))
    planner = stack.planner(kinds=V2_ONLY)
    planned = await planner.plan(
        TradeRequest(trader, weth, usdc, 3 * ETH, native_in=True), stack.prices
    )
    (swap,) = planned.swaps
    assert swap.quote.route.kind is PoolKind.V2
    router_says = decode_uint_array(
        await stack.chain.call(
            CallRequest(
                stack.deployment.v2_router,
                encode_v2_get_amounts_out(3 * ETH, swap.quote.route.tokens),
            ),
            planned.quote_block,
        )
    )[-1]
    assert planned.quoted_out_raw == router_says

    before = await _balance(stack, usdc, trader)
    outcome = await stack.sender().send(planned, stack.key("trader"), 10**9, 100 * 10**9)
    after = await _balance(stack, usdc, trader)
    assert outcome.amount_out_raw == planned.quoted_out_raw == after - before

    # Two hops, token to token, with the exact approval first: still equal to the wei.
    usdc_held = after
    two_hop = [
        r
        for r in await stack.quoter.find_routes(usdc, wbtc, [weth])
        if r.kind is PoolKind.V2 and len(r.hops) == 2
    ]
    assert two_hop
    block = await stack.chain.block_number()
    quoted = await stack.quoter.quote_route(two_hop[0], usdc_held // 2, block)
    router_two = decode_uint_array(
        await stack.chain.call(
            CallRequest(
                stack.deployment.v2_router,
                encode_v2_get_amounts_out(usdc_held // 2, two_hop[0].tokens),
            ),
            block,
        )
    )
    assert quoted.amount_out_raw == router_two[-1]
    planned_token = await planner.plan(
        TradeRequest(trader, usdc, wbtc, usdc_held // 2), stack.prices
    )
    assert len(planned_token.approvals) == 1
    assert planned_token.simulated_with in {"eth_simulateV1", "pending_approval"}
    wbtc_before = await _balance(stack, wbtc, trader)
    outcome = await stack.sender().send(planned_token, stack.key("trader"), 10**9, 100 * 10**9)
    assert outcome.amount_out_raw == planned_token.quoted_out_raw
    assert await _balance(stack, wbtc, trader) - wbtc_before == planned_token.quoted_out_raw
    assert await _balance(stack, usdc, stack.deployment.v2_router) == 0


async def test_v3_quote_equals_executed_output(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    weth, usdc, link = (Address(stack.address(s)) for s in ("WETH", "USDC", "LINK"))
    planner = stack.planner(kinds=V3_ONLY)
    planned = await planner.plan(
        TradeRequest(trader, weth, usdc, 2 * ETH, native_in=True), stack.prices
    )
    assert planned.swaps[0].quote.route.kind is PoolKind.V3
    outcome = await stack.sender().send(planned, stack.key("trader"), 10**9, 100 * 10**9)
    assert outcome.amount_out_raw == planned.quoted_out_raw
    # The signed swap's gas matched the simulation (eth_estimateGas of the exact transaction).
    assert outcome.sent[-1].receipt.gas_used <= planned.swaps[0].tx.gas_limit

    # Token to token through a V3 route, approval included.
    planned_link = await planner.plan(
        TradeRequest(trader, usdc, link, outcome.amount_out_raw), stack.prices
    )
    link_before = await _balance(stack, link, trader)
    done = await stack.sender().send(planned_link, stack.key("trader"), 10**9, 100 * 10**9)
    assert done.amount_out_raw == planned_link.quoted_out_raw
    assert await _balance(stack, link, trader) - link_before == planned_link.quoted_out_raw


async def test_multi_hop_v3_quote_equals_execution(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    weth, wbtc, link = (Address(stack.address(s)) for s in ("WETH", "WBTC", "LINK"))
    routes = [
        r
        for r in await stack.quoter.find_routes(weth, link, [Address(stack.address("USDC"))])
        if r.kind is PoolKind.V3 and len(r.hops) == 2
    ]
    assert routes
    block = await stack.chain.block_number()
    quote = await stack.quoter.quote_route(routes[0], ETH, block)
    ts = await stack.chain.block_timestamp()
    call = build_swap_call(
        routes[0], ETH, quote.amount_out_raw, trader, ts + 60, stack.deployment, native_in=True
    )
    fees = choose_fee_caps(await stack.chain.next_base_fee_wei(), 10**9, 100 * 10**9)
    tx = build_swap_tx(stack.manifest.chain_id, trader, call, fees, 600_000).with_nonce(
        await stack.chain.nonce(trader)
    )
    before = await _balance(stack, link, trader)
    tx_hash = await stack.chain.send_raw_transaction(sign_transaction(tx, stack.key("trader")).raw)
    assert (await stack.chain.wait_for_receipt(tx_hash, 30)).success
    assert await _balance(stack, link, trader) - before == quote.amount_out_raw
    del wbtc


async def test_dry_run_logs_one_event_and_sends_nothing(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    nonce = await stack.chain.nonce(trader, pending=True)
    block = await stack.chain.block_number()
    with capture_logs() as logs:
        planned = await stack.planner().plan(
            TradeRequest(
                trader,
                Address(stack.address("WETH")),
                Address(stack.address("WBTC")),
                ETH,
                native_in=True,
                proposal_id="p-1",
            ),
            stack.prices,
        )
    (event,) = _events(logs, "trade_planned")
    assert event["proposal_id"] == "p-1" and event["dry_run"] is True
    assert event["min_out_raw"] == planned.min_out_raw < planned.quoted_out_raw
    assert event["transactions"][-1]["data"] == "0x" + planned.swaps[-1].tx.data.hex()
    now = max(await stack.chain.block_timestamp(), int(time.time()))
    assert 0 < planned.deadline - now <= 300
    assert planned.fees.max_fee_per_gas_wei <= 100 * 10**9
    assert planned.gas_estimate > 21_000
    assert await stack.chain.nonce(trader, pending=True) == nonce
    assert await stack.chain.block_number() == block


async def test_refuses_when_price_moves_between_quote_and_send(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    weth, usdc = Address(stack.address("WETH")), Address(stack.address("USDC"))
    planned = await stack.planner().plan(
        TradeRequest(trader, weth, usdc, 5 * ETH, native_in=True), stack.prices
    )
    await _push_price(stack, planned.swaps[0].quote.route, 300 * ETH)
    nonce = await stack.chain.nonce(trader, pending=True)
    with capture_logs() as logs, pytest.raises(SlippageExceeded) as refused:
        await stack.sender().send(planned, stack.key("trader"), 10**9, 100 * 10**9)
    assert refused.value.quoted_out_raw < refused.value.min_out_raw == planned.min_out_raw
    (event,) = _events(logs, "trade_refused")
    assert event["reason"] == "slippage_exceeded" and event["stage"] == "send"
    assert event["min_out_raw"] == planned.min_out_raw
    assert _events(logs, "trade_sent") == []
    assert await stack.chain.nonce(trader, pending=True) == nonce


async def test_refuses_base_fee_above_cap(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    normal = await stack.chain.next_base_fee_wei()
    await stack.chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(150 * 10**9)])
    try:
        with capture_logs() as logs, pytest.raises(GasPriceAboveCap) as refused:
            await stack.planner().plan(
                TradeRequest(
                    trader,
                    Address(stack.address("WETH")),
                    Address(stack.address("USDC")),
                    ETH,
                    native_in=True,
                ),
                stack.prices,
            )
    finally:
        # The next block's base fee is node configuration, not state: a revert keeps it.
        await stack.chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(normal)])
    assert refused.value.base_fee_wei == 150 * 10**9
    assert refused.value.cap_wei == 100 * 10**9
    (event,) = _events(logs, "trade_refused")
    assert event["reason"] == "gas_price_above_cap"


async def test_refuses_tokens_and_routers_not_allowed(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    limits = default_limits(stack.manifest)
    link = Address(stack.address("LINK"))
    no_link = type(limits)(
        **{
            **{f: getattr(limits, f) for f in limits.__slots__},
            "allowed_tokens": limits.allowed_tokens - {link},
        }
    )
    with capture_logs() as logs, pytest.raises(TokenNotAllowed) as refused:
        await stack.planner(no_link).plan(
            TradeRequest(trader, Address(stack.address("USDC")), link, 10**6), stack.prices
        )
    assert refused.value.token == link
    assert _events(logs, "trade_refused")[0]["reason"] == "token_not_allowed"

    v2_router_only = type(limits)(
        **{
            **{f: getattr(limits, f) for f in limits.__slots__},
            "allowed_routers": frozenset({stack.deployment.v2_router}),
        }
    )
    with capture_logs() as logs, pytest.raises(RouterNotAllowed) as refused_router:
        await stack.planner(v2_router_only, kinds=V3_ONLY).plan(
            TradeRequest(
                trader,
                Address(stack.address("WETH")),
                Address(stack.address("USDC")),
                ETH,
                native_in=True,
            ),
            stack.prices,
        )
    assert refused_router.value.router == stack.deployment.v3_router
    assert _events(logs, "trade_refused")[0]["reason"] == "router_not_allowed"


async def test_refuses_trade_above_cap(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    with capture_logs() as logs, pytest.raises(TradeAboveCap) as refused:
        await stack.planner().plan(
            TradeRequest(
                trader,
                Address(stack.address("WETH")),
                Address(stack.address("USDC")),
                1_000 * ETH,
                native_in=True,
            ),
            stack.prices,
        )
    assert refused.value.value_usd == stack.prices.value_usd(
        Address(stack.address("WETH")), 1_000 * ETH
    )
    assert refused.value.value_usd > refused.value.cap_usd
    assert _events(logs, "trade_refused")[0]["reason"] == "trade_above_cap"


async def test_refuses_when_simulation_reverts(stack: Stack) -> None:
    """Selling more USDC than the wallet holds: the exact swap reverts in simulation."""
    outsider = stack.manifest.account("outsider").address
    usdc = Address(stack.address("USDC"))
    held = await _balance(stack, usdc, outsider)
    nonce = await stack.chain.nonce(outsider, pending=True)
    with capture_logs() as logs, pytest.raises(SimulationReverted) as refused:
        await stack.planner().plan(
            TradeRequest(outsider, usdc, Address(stack.address("WETH")), held + 1_000 * 10**6),
            stack.prices,
        )
    assert refused.value.to in {stack.deployment.v2_router, stack.deployment.v3_router}
    assert _events(logs, "trade_refused")[0]["reason"] == "simulation_reverted"
    assert await stack.chain.nonce(outsider, pending=True) == nonce


async def test_mixed_chain_lands_with_the_quoted_output(stack: Stack) -> None:
    """WETH made cheap on the V2 LINK pair (the whale buys LINK there): LINK -> USDC goes
    V2 to WETH, then V3 to USDC, as two transactions, paying out exactly the quote."""
    trader = stack.manifest.account("trader").address
    weth, usdc, link = (Address(stack.address(s)) for s in ("WETH", "USDC", "LINK"))
    link_held = await _buy_with_eth(stack, "trader", "LINK", 5 * ETH)
    pair = await stack.quoter.find_pool(PoolKind.V2, weth, link, 3000)
    assert pair is not None
    await _push_price(stack, Route((Hop(PoolKind.V2, pair, weth, link, 3000),)), 400 * ETH)
    limits = replace(default_limits(stack.manifest), max_price_impact_bps=10_000)
    planned = await stack.planner(limits).plan(
        TradeRequest(trader, link, usdc, link_held), stack.prices
    )
    assert planned.sequential, planned.route_name
    assert [s.quote.route.kind for s in planned.swaps] == [PoolKind.V2, PoolKind.V3]
    weth_before = await _balance(stack, weth, trader)
    before = await _balance(stack, usdc, trader)
    outcome = await stack.sender().send(planned, stack.key("trader"), 10**9, 100 * 10**9)
    assert outcome.amount_out_raw == planned.quoted_out_raw
    assert await _balance(stack, usdc, trader) - before == planned.quoted_out_raw
    assert await _balance(stack, weth, trader) == weth_before  # the hand-over was spent in full


async def test_split_between_v2_and_v3_lands_with_the_quoted_output(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    weth, usdc = Address(stack.address("WETH")), Address(stack.address("USDC"))
    limits = replace(default_limits(stack.manifest), max_price_impact_bps=10_000)
    planner = stack.planner(limits, allow_split=True)
    planned = await planner.plan(
        TradeRequest(trader, weth, usdc, 250 * ETH, native_in=True), stack.prices
    )
    assert len(planned.swaps) == 2 and not planned.sequential, planned.route_name
    assert {s.quote.route.kind for s in planned.swaps} == {PoolKind.V2, PoolKind.V3}
    before = await _balance(stack, usdc, trader)
    outcome = await stack.sender().send(planned, stack.key("trader"), 10**9, 100 * 10**9)
    assert outcome.amount_out_raw == planned.quoted_out_raw
    assert await _balance(stack, usdc, trader) - before == planned.quoted_out_raw


async def test_refuses_a_plan_older_than_two_blocks(stack: Stack) -> None:
    trader = stack.manifest.account("trader").address
    planned = await stack.planner().plan(
        TradeRequest(
            trader,
            Address(stack.address("WETH")),
            Address(stack.address("USDC")),
            ETH,
            native_in=True,
        ),
        stack.prices,
    )
    await stack.chain.rpc("anvil_mine", [hex(3)])
    with capture_logs() as logs, pytest.raises(QuoteStale) as refused:
        await stack.sender().send(planned, stack.key("trader"), 10**9, 100 * 10**9)
    assert refused.value.current_block - refused.value.quote_block == 3
    assert _events(logs, "trade_refused")[0]["reason"] == "quote_stale"
    assert _events(logs, "trade_sent") == []
