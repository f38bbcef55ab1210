"""Quoting on Uniswap V2 and V3: pool discovery, candidate routes, and quotes at one block.

V2 quotes are computed off-chain from each pair's `getReserves` with the router's exact
integer formula (`executor.amm`), so they equal Router02.getAmountsOut to the wei. V3
quotes come from QuoterV2 (`quoteExactInputSingle` / `quoteExactInput`) by eth_call,
which also estimates the swap's gas. Every read of one quoting round is pinned to one
block number, recorded on the `RouteQuote`.

Gathers over the chain (`ChainClient`); the choice between quotes is `executor.routing`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.exceptions import DecodingError

from executor.amm import V2Reserves, v2_amounts_out, v2_spot_out, v3_spot_out
from executor.calldata import (
    ZERO_ADDRESS,
    decode_address,
    decode_quote_exact_input,
    decode_quote_exact_input_single,
    decode_v2_reserves,
    decode_v3_sqrt_price,
    encode_quote_exact_input,
    encode_quote_exact_input_single,
    encode_v2_get_pair,
    encode_v2_get_reserves,
    encode_v3_get_pool,
    encode_v3_path,
    encode_v3_slot0,
    sort_tokens,
)
from executor.chain import CallRequest, ChainClient
from executor.errors import CallReverted, NoRouteFound
from executor.routes import V2_FEE_PPM, V3_FEE_TIERS, Hop, PoolKind, Route, RouteQuote
from ledger.ids import Address, BlockNumber


@dataclass(frozen=True, slots=True)
class UniswapDeployment:
    """Where the Uniswap contracts of one chain live."""

    weth: Address
    v2_factory: Address
    v2_router: Address
    v3_factory: Address
    v3_quoter: Address
    v3_router: Address
    v3_fee_tiers: tuple[int, ...] = V3_FEE_TIERS


@dataclass(frozen=True, slots=True)
class GasModel:
    """Gas of a whole swap transaction, by protocol and hop count.

    V2 has no on-chain estimate, so a fixed base plus a per-extra-hop cost is used; V3
    adds the router and transaction overhead to QuoterV2's estimate of the pool swaps.
    Measured on the local world's receipts: V2 one hop 101k-118k, two hops 158k-175k;
    V3 token-to-token receipts were 4k-25k above QuoterV2's estimate (native ETH input
    adds the wrap). The swap actually signed is always re-estimated with eth_estimateGas.
    """

    v2_first_hop: int = 105_000
    v2_extra_hop: int = 60_000
    v3_overhead: int = 22_000

    def v2_gas(self, hops: int) -> int:
        """Gas of a V2 router swap through `hops` pairs."""
        return self.v2_first_hop + self.v2_extra_hop * (hops - 1)

    def v3_gas(self, quoter_gas_estimate: int) -> int:
        """Gas of a V3 router swap given the quoter's estimate."""
        return quoter_gas_estimate + self.v3_overhead


class RouteQuoter:
    """Discovers pools and quotes routes between two tokens at a chosen block."""

    def __init__(
        self,
        chain: ChainClient,
        deployment: UniswapDeployment,
        gas_model: GasModel | None = None,
    ) -> None:
        self._chain = chain
        self._deployment = deployment
        self._gas_model = gas_model or GasModel()
        # Pools never move once created, so found addresses are kept for the process's life;
        # absent pools are not cached (they may be created later).
        self._pools: dict[tuple[PoolKind, Address, Address, int], Address] = {}
        self._block_cache: dict[tuple[str, Address, int], int | tuple[int, int]] = {}
        self._cache_block: BlockNumber | None = None

    @property
    def chain(self) -> ChainClient:
        """The node this quoter reads."""
        return self._chain

    @property
    def deployment(self) -> UniswapDeployment:
        """The contracts this quoter uses."""
        return self._deployment

    @property
    def gas_model(self) -> GasModel:
        """The gas figures used for routes without an on-chain estimate."""
        return self._gas_model

    async def find_pool(
        self, kind: PoolKind, token_a: Address, token_b: Address, fee_ppm: int
    ) -> Address | None:
        """The V2 pair or V3 pool of two tokens (and fee tier), or None if it does not exist.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        token0, token1 = sort_tokens(token_a, token_b)
        key = (kind, token0, token1, fee_ppm)
        if key in self._pools:
            return self._pools[key]
        if kind is PoolKind.V2:
            request = CallRequest(self._deployment.v2_factory, encode_v2_get_pair(token0, token1))
        else:
            request = CallRequest(
                self._deployment.v3_factory, encode_v3_get_pool(token0, token1, fee_ppm)
            )
        pool = decode_address(await self._chain.call(request))
        if pool == ZERO_ADDRESS:
            return None
        self._pools[key] = pool
        return pool

    async def _hop(
        self, kind: PoolKind, token_in: Address, token_out: Address, fee_ppm: int
    ) -> Hop | None:
        pool = await self.find_pool(kind, token_in, token_out, fee_ppm)
        return None if pool is None else Hop(kind, pool, token_in, token_out, fee_ppm)

    async def find_routes(
        self, token_in: Address, token_out: Address, connectors: Sequence[Address] = ()
    ) -> tuple[Route, ...]:
        """Every direct and one-connector route on V2 and on each V3 fee tier.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        fees_by_kind = {PoolKind.V2: (V2_FEE_PPM,), PoolKind.V3: self._deployment.v3_fee_tiers}
        middles = [c for c in dict.fromkeys(connectors) if c not in (token_in, token_out)]
        pairs = {(token_in, token_out)}
        for middle in middles:
            pairs |= {(token_in, middle), (middle, token_out)}
        wanted = [
            (kind, a, b, fee)
            for kind, fees in fees_by_kind.items()
            for a, b in pairs
            for fee in fees
        ]
        found = await asyncio.gather(*(self._hop(*args) for args in wanted))
        hops = {args: hop for args, hop in zip(wanted, found, strict=True) if hop is not None}
        routes: list[Route] = []
        for kind, fees in fees_by_kind.items():
            for fee in fees:
                direct = hops.get((kind, token_in, token_out, fee))
                if direct is not None:
                    routes.append(Route((direct,)))
            for middle in middles:
                for fee_a in fees:
                    first = hops.get((kind, token_in, middle, fee_a))
                    if first is None:
                        continue
                    for fee_b in fees:
                        second = hops.get((kind, middle, token_out, fee_b))
                        if second is not None:
                            routes.append(Route((first, second)))
        return tuple(routes)

    def _at_block(self, block: BlockNumber) -> None:
        if self._cache_block != block:
            self._block_cache.clear()
            self._cache_block = block

    async def _v2_reserves(self, hop: Hop, block: BlockNumber) -> V2Reserves:
        self._at_block(block)
        key = ("v2", hop.pool, 0)
        cached = self._block_cache.get(key)
        if not isinstance(cached, tuple):
            raw = await self._chain.call(CallRequest(hop.pool, encode_v2_get_reserves()), block)
            cached = decode_v2_reserves(raw)
            self._block_cache[key] = cached
        reserve0, reserve1 = cached
        token0, _ = sort_tokens(hop.token_in, hop.token_out)
        if hop.token_in == token0:
            return V2Reserves(reserve0, reserve1)
        return V2Reserves(reserve1, reserve0)

    async def _v3_sqrt_price(self, hop: Hop, block: BlockNumber) -> int:
        self._at_block(block)
        key = ("v3", hop.pool, 0)
        cached = self._block_cache.get(key)
        if not isinstance(cached, int):
            raw = await self._chain.call(CallRequest(hop.pool, encode_v3_slot0()), block)
            cached = decode_v3_sqrt_price(raw)
            self._block_cache[key] = cached
        return cached

    async def v2_reserves(self, route: Route, block: BlockNumber) -> tuple[V2Reserves, ...]:
        """Each hop's reserves, oriented in the route's direction, at a block.

        Raises:
            RpcError, RpcUnavailable, CallReverted: the node failed.
        """
        return tuple(await asyncio.gather(*(self._v2_reserves(hop, block) for hop in route.hops)))

    async def quote_route(self, route: Route, amount_in_raw: int, block: BlockNumber) -> RouteQuote:
        """The route's output for an exact input at a block.

        Raises:
            NoRouteFound: the route has no liquidity for this amount.
            RpcError, RpcUnavailable: the node failed.
        """
        if amount_in_raw <= 0:
            raise NoRouteFound(route.token_in, route.token_out, amount_in_raw)
        if route.kind is PoolKind.V2:
            return await self._quote_v2(route, amount_in_raw, block)
        return await self._quote_v3(route, amount_in_raw, block)

    async def _quote_v2(self, route: Route, amount_in_raw: int, block: BlockNumber) -> RouteQuote:
        reserves = await self.v2_reserves(route, block)
        amounts = v2_amounts_out(amount_in_raw, reserves, route.token_in, route.token_out)
        spot = amount_in_raw
        for hop_reserves in reserves:
            spot = v2_spot_out(spot, hop_reserves.reserve_in, hop_reserves.reserve_out)
        if amounts[-1] <= 0:
            raise NoRouteFound(route.token_in, route.token_out, amount_in_raw)
        return RouteQuote(
            route=route,
            amount_in_raw=amount_in_raw,
            amount_out_raw=amounts[-1],
            spot_out_raw=spot,
            gas_units=self._gas_model.v2_gas(len(route.hops)),
            block_number=block,
        )

    async def _quote_v3(self, route: Route, amount_in_raw: int, block: BlockNumber) -> RouteQuote:
        quoter = self._deployment.v3_quoter
        if len(route.hops) == 1:
            hop = route.hops[0]
            request = CallRequest(
                quoter,
                encode_quote_exact_input_single(
                    hop.token_in, hop.token_out, amount_in_raw, hop.fee_ppm
                ),
            )
        else:
            path = encode_v3_path(route.tokens, route.fees_ppm)
            request = CallRequest(quoter, encode_quote_exact_input(path, amount_in_raw))
        try:
            raw, sqrt_prices = await asyncio.gather(
                self._chain.call(request, block),
                asyncio.gather(*(self._v3_sqrt_price(hop, block) for hop in route.hops)),
            )
            if len(route.hops) == 1:
                result = decode_quote_exact_input_single(raw)
            else:
                result = decode_quote_exact_input(raw)
        except (CallReverted, DecodingError):
            # The quoter reverts when a pool cannot fill the amount (no liquidity in range).
            raise NoRouteFound(route.token_in, route.token_out, amount_in_raw) from None
        spot = amount_in_raw
        for hop, sqrt_price in zip(route.hops, sqrt_prices, strict=True):
            token0, _ = sort_tokens(hop.token_in, hop.token_out)
            spot = v3_spot_out(spot, sqrt_price, hop.token_in == token0, hop.fee_ppm)
        if result.amount_out_raw <= 0:
            raise NoRouteFound(route.token_in, route.token_out, amount_in_raw)
        return RouteQuote(
            route=route,
            amount_in_raw=amount_in_raw,
            amount_out_raw=result.amount_out_raw,
            spot_out_raw=spot,
            gas_units=self._gas_model.v3_gas(result.gas_estimate),
            block_number=block,
        )

    async def quote_routes(
        self, routes: Sequence[Route], amount_in_raw: int, block: BlockNumber
    ) -> tuple[RouteQuote, ...]:
        """Quotes of every route that can fill the amount at the block (others left out).

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """

        async def quote_or_none(route: Route) -> RouteQuote | None:
            try:
                return await self.quote_route(route, amount_in_raw, block)
            except NoRouteFound:
                return None

        found = await asyncio.gather(*(quote_or_none(route) for route in routes))
        return tuple(quote for quote in found if quote is not None)
