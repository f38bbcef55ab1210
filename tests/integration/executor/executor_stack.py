"""The executor's stack (chain client, quoter, router, planner, sender) wired on a node
running the world, with the world's prices and ordinary guard limits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from executor.chain import ChainClient
from executor.guards import GuardLimits
from executor.planning import ExecutorPolicy, TradePlanner
from executor.pricing import ReferencePrices
from executor.quoting import RouteQuoter, UniswapDeployment
from executor.routes import Hop, PoolKind, Route, Token
from executor.routing import TradeRouter
from executor.sending import TradeSender
from harvestd.world.manifest import Manifest
from ledger.ids import Address


@dataclass(frozen=True, slots=True)
class Node:
    """A running node with the world deployed on it."""

    name: str
    url: str
    manifest: Manifest


class Secret:
    """A SecretStr look-alike holding a dev key."""

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"


def deployment_of(manifest: Manifest) -> UniswapDeployment:
    """The executor's view of the world's Uniswap contracts."""
    c = manifest.contracts
    return UniswapDeployment(
        weth=c.weth,
        v2_factory=c.v2_factory,
        v2_router=c.v2_router,
        v3_factory=c.v3_factory,
        v3_quoter=c.quoter_v2,
        v3_router=c.swap_router,
    )


async def market_prices(quoter: RouteQuoter, manifest: Manifest) -> ReferencePrices:
    """Reference prices as a pricing source would give them: each token's V2 mid price
    against USDC (taken as 1 USD) at the latest block; the world's history moved them."""
    usdc = manifest.token("USDC")
    block = await quoter.chain.block_number()
    usd: dict[Address, Decimal] = {usdc.address: Decimal(1)}
    for token in manifest.tokens:
        if token.address == usdc.address:
            continue
        pair = await quoter.find_pool(PoolKind.V2, token.address, usdc.address, 3000)
        assert pair is not None
        route = Route((Hop(PoolKind.V2, pair, token.address, usdc.address, 3000),))
        (reserves,) = await quoter.v2_reserves(route, block)
        usd[token.address] = (Decimal(reserves.reserve_out) / Decimal(10**usdc.decimals)) / (
            Decimal(reserves.reserve_in) / Decimal(10**token.decimals)
        )
    return ReferencePrices(
        tokens={t.address: Token(t.address, t.symbol, t.decimals) for t in manifest.tokens},
        usd_per_token=usd,
        native_usd=usd[manifest.token("WETH").address],
    )


def default_limits(manifest: Manifest) -> GuardLimits:
    """Limits loose enough for ordinary trades on the world."""
    d = deployment_of(manifest)
    return GuardLimits(
        max_slippage_bps=50,
        max_price_impact_bps=150,
        max_fee_per_gas_wei=100 * 10**9,
        priority_fee_wei=10**9,
        max_gas_share_bps=100,
        allowed_tokens=frozenset(t.address for t in manifest.tokens),
        allowed_routers=frozenset({d.v2_router, d.v3_router}),
        max_trade_usd=Decimal(1_000_000),
        max_daily_usd=Decimal(5_000_000),
        deadline_seconds=120,
    )


@dataclass(frozen=True, slots=True)
class Stack:
    """The executor wired on one node."""

    node: Node
    chain: ChainClient
    deployment: UniswapDeployment
    quoter: RouteQuoter
    prices: ReferencePrices

    @property
    def manifest(self) -> Manifest:
        return self.node.manifest

    def address(self, symbol: str) -> str:
        return self.manifest.token(symbol).address

    def router(self, kinds: frozenset[PoolKind] = frozenset(PoolKind)) -> TradeRouter:
        m = self.manifest
        return TradeRouter(
            self.quoter,
            [m.token("WETH").address, m.token("USDC").address],
            {t.address: t.symbol for t in m.tokens},
            kinds=kinds,
        )

    def planner(
        self,
        limits: GuardLimits | None = None,
        kinds: frozenset[PoolKind] = frozenset(PoolKind),
        allow_split: bool = False,
    ) -> TradePlanner:
        policy = ExecutorPolicy(limits or default_limits(self.manifest), allow_split=allow_split)
        return TradePlanner(self.chain, self.router(kinds), policy, self.manifest.chain_id)

    def sender(self) -> TradeSender:
        return TradeSender(self.chain, self.quoter, receipt_timeout_seconds=30)

    def key(self, account: str) -> Secret:
        return Secret(self.manifest.account(account).private_key)
