"""The executor against hostile tokens on the real world: a trade in a token that is not on
the allow-list, or through a router that is not, is refused at planning with the typed
refusal and one `trade_refused` event, and nothing reaches the chain (the sender's nonce,
the node's block and its pending pool are unchanged)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from executor.chain import ChainClient
from executor.errors import RouterNotAllowed, TokenNotAllowed, TradeRefused
from executor.guards import GuardLimits
from executor.planning import ExecutorPolicy, TradePlanner, TradeRequest
from executor.pricing import ReferencePrices
from executor.quoting import RouteQuoter, UniswapDeployment
from executor.routes import Token
from executor.routing import TradeRouter
from harvestd.world.hostile import deploy_hostile
from harvestd.world.launch import World
from harvestd.world.manifest import Manifest
from ledger.ids import Address

OTHER_ROUTER = Address("0x000000000000000000000000000000000000dEaD")


def _deployment(manifest: Manifest) -> UniswapDeployment:
    c = manifest.contracts
    return UniswapDeployment(
        weth=c.weth,
        v2_factory=c.v2_factory,
        v2_router=c.v2_router,
        v3_factory=c.v3_factory,
        v3_quoter=c.quoter_v2,
        v3_router=c.swap_router,
    )


def _limits(manifest: Manifest, routers: frozenset[Address]) -> GuardLimits:
    return GuardLimits(
        max_slippage_bps=50,
        max_price_impact_bps=10_000,  # the world's history moved prices off the seeds
        max_fee_per_gas_wei=100 * 10**9,
        priority_fee_wei=10**9,
        max_gas_share_bps=100,
        allowed_tokens=frozenset(t.address for t in manifest.tokens),
        allowed_routers=routers,
        max_trade_usd=Decimal(1_000_000),
        max_daily_usd=Decimal(5_000_000),
    )


def _prices(manifest: Manifest, extra: dict[Address, Token]) -> ReferencePrices:
    # Loose prices: refusals here come before any price-impact comparison matters.
    tokens = {t.address: Token(t.address, t.symbol, t.decimals) for t in manifest.tokens}
    tokens.update(extra)
    usd = {t.address: Decimal(t.initial_price_usd) for t in manifest.tokens}
    usd.update({address: Decimal(1) for address in extra})
    return ReferencePrices(tokens=tokens, usd_per_token=usd, native_usd=Decimal(3000))


async def _chain_state(chain: ChainClient, sender: Address) -> tuple[int, int, object]:
    pending = await chain.rpc("eth_getBlockByNumber", ["pending", False])
    txs = pending.get("transactions") if isinstance(pending, dict) else None
    return await chain.nonce(sender), int(await chain.block_number()), txs


@pytest.mark.asyncio
async def test_hostile_tokens_and_routers_are_refused_and_nothing_is_sent(
    clean_world: World,
) -> None:
    manifest = clean_world.manifest
    tokens = deploy_hostile(clean_world.chain(), manifest)
    deployment = _deployment(manifest)
    sender = manifest.account("main").address
    usdc, weth = manifest.token("USDC").address, manifest.token("WETH").address
    hostile = {
        tokens.fee_on_transfer: Token(tokens.fee_on_transfer, "FEE", 18),
        tokens.bad_metadata: Token(tokens.bad_metadata, "BAD", 18),
    }
    prices = _prices(manifest, hostile)
    chain = ChainClient.from_url(clean_world.rpc_url, timeout_seconds=30)
    try:
        router = TradeRouter(
            RouteQuoter(chain, deployment),
            [weth, usdc],
            {t.address: t.symbol for t in manifest.tokens},
        )
        before = await _chain_state(chain, sender)
        all_routers = frozenset({deployment.v2_router, deployment.v3_router})
        planner = TradePlanner(
            chain, router, ExecutorPolicy(_limits(manifest, all_routers)), manifest.chain_id
        )
        refusals: list[TradeRefused] = []
        with capture_logs() as logs:
            for token_in, token_out in (
                (tokens.fee_on_transfer, usdc),
                (weth, tokens.bad_metadata),
            ):
                with pytest.raises(TokenNotAllowed) as refused:
                    await planner.plan(TradeRequest(sender, token_in, token_out, 10**18), prices)
                refusals.append(refused.value)
            # An allowed pair through routers that are not allowed.
            strict = TradePlanner(
                chain,
                router,
                ExecutorPolicy(_limits(manifest, frozenset({OTHER_ROUTER}))),
                manifest.chain_id,
            )
            with pytest.raises(RouterNotAllowed) as refused_router:
                await strict.plan(TradeRequest(sender, weth, usdc, 10**17), prices)
            refusals.append(refused_router.value)
        after = await _chain_state(chain, sender)
    finally:
        await chain.close()

    assert [r.refusal for r in refusals] == [
        "token_not_allowed",
        "token_not_allowed",
        "router_not_allowed",
    ]
    assert tokens.fee_on_transfer in str(refusals[0]) and tokens.bad_metadata in str(refusals[1])
    assert [e["reason"] for e in logs if e["event"] == "trade_refused"] == [
        r.refusal for r in refusals
    ]
    assert not any(e["event"] == "trade_planned" for e in logs)
    assert after == before
