"""Choosing a route: the best output net of gas, and an optional V2/V3 split.

`choose_route` is pure: given quotes taken at one block and the gas cost per unit in the
output token, it keeps the quote with the largest output minus gas. `search_split`
divides the input between the best V2 and the best V3 route (two transactions) and keeps
the split only when it nets more than the best single route. `TradeRouter` gathers the
quotes (through `RouteQuoter`) and applies both; its `quote` is the simple interface the
strategy uses through the daemon's wiring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from executor.errors import NoRouteFound
from executor.pricing import ReferencePrices
from executor.quoting import RouteQuoter
from executor.routes import (
    V2_FEE_PPM,
    Chain,
    Hop,
    Plan,
    PoolKind,
    Route,
    RouteQuote,
    RoutingChoice,
    Split,
)
from ledger.ids import Address, BlockNumber

SPLIT_GRID: tuple[int, ...] = tuple(range(10, 100, 10))
"""Share of the input (percent) sent through V2 in the coarse split search."""


def gas_cost_out_raw(gas_units: int, out_per_gas_unit: Decimal) -> int:
    """Gas cost in raw output-token units, rounded up."""
    return int((gas_units * out_per_gas_unit).to_integral_value(rounding=ROUND_CEILING))


def out_per_gas_unit(prices: ReferencePrices, gas_price_wei: int, token_out: Address) -> Decimal:
    """Raw output-token units that one gas unit costs at the pricing source's prices.

    Raises:
        PriceMissing: the output token has no price.
    """
    token = prices.token(token_out)
    usd = Decimal(gas_price_wei) * prices.native_usd / Decimal(10**18)
    return usd * (Decimal(10) ** token.decimals) / prices.price_usd(token_out)


def net_out_raw(plan: Plan, out_per_gas: Decimal) -> int:
    """A plan's output minus its gas cost, both in raw output-token units."""
    return plan.amount_out_raw - gas_cost_out_raw(plan.gas_units, out_per_gas)


def best_quote(quotes: Sequence[RouteQuote], out_per_gas: Decimal) -> RouteQuote:
    """The quote with the best output net of gas (ties: fewer hops, then V2 before V3).

    Raises:
        ValueError: no quotes.
    """
    if not quotes:
        raise ValueError("no quotes to choose from")
    return max(
        quotes,
        key=lambda q: (
            net_out_raw(q, out_per_gas),
            -len(q.route.hops),
            q.route.kind is PoolKind.V2,
        ),
    )


def choose_route(quotes: Sequence[RouteQuote], out_per_gas: Decimal) -> RoutingChoice:
    """The routing decision without splitting: the best quote by output net of gas.

    Raises:
        ValueError: no quotes.
    """
    best = best_quote(quotes, out_per_gas)
    gas_cost = gas_cost_out_raw(best.gas_units, out_per_gas)
    return RoutingChoice(best, best.amount_out_raw - gas_cost, gas_cost, tuple(quotes))


def best_of_kind(
    quotes: Sequence[RouteQuote], kind: PoolKind, out_per_gas: Decimal
) -> RouteQuote | None:
    """The best quote of one protocol by output net of gas, if any."""
    of_kind = [q for q in quotes if q.route.kind is kind]
    if not of_kind:
        return None
    return max(of_kind, key=lambda q: net_out_raw(q, out_per_gas))


@dataclass(frozen=True, slots=True)
class QuoteSummary:
    """What the strategy needs from a quote to price a trade's costs."""

    amount_in_raw: int
    amount_out_raw: int
    gas_units: int
    pool_fee_ppm: int
    """The route's combined pool fee, in millionths of the input."""
    price_impact_bps: Decimal
    """Shortfall against the pools' marginal prices (fees excluded from impact)."""
    route: str
    block_number: BlockNumber


def combined_fee_ppm(fees_ppm: Sequence[int]) -> int:
    """The fee of hops in a row: 1 - Π(1 - fee), in millionths, rounded up."""
    kept = 1
    scale = 1
    for fee in fees_ppm:
        kept *= 1_000_000 - fee
        scale *= 1_000_000
    return -((-(scale - kept) * 1_000_000) // scale)


class TradeRouter:
    """Finds the best way to sell an amount of one token for another.

    `connectors` are the tokens a two-hop route may pass through (WETH, the stablecoin);
    `kinds` the protocols (venues) routes may use.
    """

    def __init__(
        self,
        quoter: RouteQuoter,
        connectors: Sequence[Address],
        symbols: dict[Address, str] | None = None,
        kinds: frozenset[PoolKind] = frozenset(PoolKind),
    ) -> None:
        self._quoter = quoter
        self._connectors = tuple(connectors)
        self._symbols = dict(symbols or {})
        self._kinds = kinds

    @property
    def quoter(self) -> RouteQuoter:
        """The route quoter underneath."""
        return self._quoter

    def describe(self, plan: Plan) -> str:
        """A readable name of a route, split or chain."""
        if isinstance(plan, Chain):
            return " > ".join(part.route.describe(self._symbols) for part in plan.parts)
        if isinstance(plan, Split):
            return " + ".join(
                f"{part.route.describe(self._symbols)}[{part.amount_in_raw}]" for part in plan.parts
            )
        return plan.route.describe(self._symbols)

    async def quote_all(
        self, token_in: Address, token_out: Address, amount_in_raw: int, block: BlockNumber
    ) -> tuple[RouteQuote, ...]:
        """Quotes of every direct and one-connector route at a block.

        Raises:
            NoRouteFound: no route can fill the amount.
            RpcError, RpcUnavailable: the node failed.
        """
        routes = await self._quoter.find_routes(token_in, token_out, self._connectors)
        routes = tuple(route for route in routes if route.kind in self._kinds)
        quotes = await self._quoter.quote_routes(routes, amount_in_raw, block)
        if not quotes:
            raise NoRouteFound(token_in, token_out, amount_in_raw)
        return quotes

    async def search_split(
        self, quotes: Sequence[RouteQuote], out_per_gas: Decimal
    ) -> Split | None:
        """The best V2/V3 division of the input, when it nets more than either route alone.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        best_v2 = best_of_kind(quotes, PoolKind.V2, out_per_gas)
        best_v3 = best_of_kind(quotes, PoolKind.V3, out_per_gas)
        if best_v2 is None or best_v3 is None:
            return None
        amount = best_v2.amount_in_raw
        block = best_v2.block_number
        single_best = max(net_out_raw(best_v2, out_per_gas), net_out_raw(best_v3, out_per_gas))

        async def split_at(per_mille: int) -> Split | None:
            v2_amount = amount * per_mille // 1000
            try:
                v2_part = await self._quoter.quote_route(best_v2.route, v2_amount, block)
                v3_part = await self._quoter.quote_route(best_v3.route, amount - v2_amount, block)
            except NoRouteFound:
                return None
            return Split((v2_part, v3_part))

        best: Split | None = None
        best_net = single_best
        best_per_mille = 0
        for percent in SPLIT_GRID:
            candidate = await split_at(percent * 10)
            if candidate is not None and net_out_raw(candidate, out_per_gas) > best_net:
                best, best_net, best_per_mille = (
                    candidate,
                    net_out_raw(candidate, out_per_gas),
                    percent * 10,
                )
        if best is None:
            return None
        for per_mille in (
            best_per_mille - 50,
            best_per_mille - 25,
            best_per_mille + 25,
            best_per_mille + 50,
        ):
            if not 0 < per_mille < 1000:
                continue
            candidate = await split_at(per_mille)
            if candidate is not None and net_out_raw(candidate, out_per_gas) > best_net:
                best, best_net = candidate, net_out_raw(candidate, out_per_gas)
        return best

    async def _single_hop(
        self,
        kind: PoolKind,
        fee_ppm: int,
        token_in: Address,
        token_out: Address,
        amount: int,
        block: BlockNumber,
    ) -> RouteQuote | None:
        pool = await self._quoter.find_pool(kind, token_in, token_out, fee_ppm)
        if pool is None or amount <= 0:
            return None
        try:
            return await self._quoter.quote_route(
                Route((Hop(kind, pool, token_in, token_out, fee_ppm),)), amount, block
            )
        except NoRouteFound:
            return None

    async def search_chains(
        self,
        token_in: Address,
        token_out: Address,
        amount_in_raw: int,
        block: BlockNumber,
        out_per_gas: Decimal,
    ) -> Chain | None:
        """The best two-hop path whose hops are on different protocols, net of gas.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        venues = [(PoolKind.V2, V2_FEE_PPM)]
        if PoolKind.V3 in self._kinds:
            venues += [(PoolKind.V3, fee) for fee in self._quoter.deployment.v3_fee_tiers]
        if PoolKind.V2 not in self._kinds or len(venues) < 2:
            return None
        best: Chain | None = None
        for middle in self._connectors:
            if middle in (token_in, token_out):
                continue
            for kind_a, fee_a in venues:
                first = await self._single_hop(
                    kind_a, fee_a, token_in, middle, amount_in_raw, block
                )
                if first is None:
                    continue
                for kind_b, fee_b in venues:
                    if kind_b is kind_a:
                        continue
                    second = await self._single_hop(
                        kind_b, fee_b, middle, token_out, first.amount_out_raw, block
                    )
                    if second is None:
                        continue
                    chain = Chain((first, second))
                    if best is None or net_out_raw(chain, out_per_gas) > net_out_raw(
                        best, out_per_gas
                    ):
                        best = chain
        return best

    async def route(
        self,
        token_in: Address,
        token_out: Address,
        amount_in_raw: int,
        block: BlockNumber,
        out_per_gas: Decimal,
        allow_split: bool = False,
        allow_chain: bool = True,
    ) -> RoutingChoice:
        """The best plan at a block by output net of gas: a route, a split or a chain.

        Raises:
            NoRouteFound: no route can fill the amount.
            RpcError, RpcUnavailable: the node failed.
        """
        quotes = await self.quote_all(token_in, token_out, amount_in_raw, block)
        choice = choose_route(quotes, out_per_gas)
        if allow_chain:
            chain = await self.search_chains(token_in, token_out, amount_in_raw, block, out_per_gas)
            if chain is not None and net_out_raw(chain, out_per_gas) > choice.net_out_raw:
                gas_cost = gas_cost_out_raw(chain.gas_units, out_per_gas)
                choice = RoutingChoice(chain, chain.amount_out_raw - gas_cost, gas_cost, quotes)
        if allow_split:
            split = await self.search_split(quotes, out_per_gas)
            if split is not None and net_out_raw(split, out_per_gas) > choice.net_out_raw:
                gas_cost = gas_cost_out_raw(split.gas_units, out_per_gas)
                return RoutingChoice(split, split.amount_out_raw - gas_cost, gas_cost, quotes)
        return choice

    async def quote(self, sell_asset: Address, buy_asset: Address, amount_raw: int) -> QuoteSummary:
        """The best single route's output for selling `amount_raw` (ranked by gross output).

        Raises:
            NoRouteFound: no route can fill the amount.
            RpcError, RpcUnavailable: the node failed.
        """
        block = await self._quoter.chain.block_number()
        quotes = await self.quote_all(sell_asset, buy_asset, amount_raw, block)
        best = best_quote(quotes, Decimal(0))
        fee_ppm = combined_fee_ppm(best.route.fees_ppm)
        # The marginal output already has the fee taken off; impact is what size costs beyond it.
        return QuoteSummary(
            amount_in_raw=amount_raw,
            amount_out_raw=best.amount_out_raw,
            gas_units=best.gas_units,
            pool_fee_ppm=fee_ppm,
            price_impact_bps=best.price_impact_bps,
            route=self.describe(best),
            block_number=best.block_number,
        )
