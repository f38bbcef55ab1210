"""Routes and quotes as values: the pools a swap goes through and what they were quoted at.

A `Route` is a path of one or two hops on a single protocol (all Uniswap V2 or all V3),
so that one router transaction executes it. A `RouteQuote` is one route quoted for one
input amount at one block. A `Split` is one trade divided between two routes (a V2 and a
V3 one) executed as two transactions; a `Chain` is a two-hop path whose hops are on
different protocols, executed as two consecutive transactions. Pure and frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ledger.ids import Address, BlockNumber

V2_FEE_PPM = 3000
"""Uniswap V2 charges 0.3 % on every hop (the router's 997/1000)."""

V3_FEE_TIERS: tuple[int, ...] = (500, 3000)
"""The V3 fee tiers (in millionths) the executor routes through by default."""


class PoolKind(StrEnum):
    """Which AMM design a pool is (and so which router and quoting method apply)."""

    V2 = "uniswap_v2"
    V3 = "uniswap_v3"


@dataclass(frozen=True, slots=True)
class Token:
    """An ERC-20 token the executor may trade, with what is needed to size amounts."""

    address: Address
    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class Hop:
    """One swap through one pool."""

    kind: PoolKind
    pool: Address
    token_in: Address
    token_out: Address
    fee_ppm: int
    """The pool's fee in millionths (3000 for every V2 pool)."""


@dataclass(frozen=True, slots=True)
class Route:
    """A path of hops on one protocol, executable as one router call."""

    hops: tuple[Hop, ...]

    @property
    def kind(self) -> PoolKind:
        """The protocol every hop of this route uses."""
        return self.hops[0].kind

    @property
    def token_in(self) -> Address:
        """The token the route sells."""
        return self.hops[0].token_in

    @property
    def token_out(self) -> Address:
        """The token the route buys."""
        return self.hops[-1].token_out

    @property
    def tokens(self) -> tuple[Address, ...]:
        """The token path: input, intermediates, output."""
        return (self.hops[0].token_in, *(hop.token_out for hop in self.hops))

    @property
    def fees_ppm(self) -> tuple[int, ...]:
        """The fee of each hop, in millionths."""
        return tuple(hop.fee_ppm for hop in self.hops)

    def describe(self, symbols: dict[Address, str] | None = None) -> str:
        """A short readable name, e.g. `v3:USDC-500-WETH-3000-WBTC`."""
        names = symbols or {}
        parts = [names.get(self.token_in, self.token_in)]
        for hop in self.hops:
            if self.kind is PoolKind.V3:
                parts.append(str(hop.fee_ppm))
            parts.append(names.get(hop.token_out, hop.token_out))
        prefix = "v2" if self.kind is PoolKind.V2 else "v3"
        return f"{prefix}:{'-'.join(parts)}"


@dataclass(frozen=True, slots=True)
class RouteQuote:
    """One route quoted for one input amount at one block."""

    route: Route
    amount_in_raw: int
    amount_out_raw: int
    spot_out_raw: int
    """What the input would buy at the pools' marginal prices (fees included, no impact)."""
    gas_units: int
    """Estimated gas of the whole swap transaction."""
    block_number: BlockNumber

    @property
    def price_impact_bps(self) -> Decimal:
        """How far the output falls short of the marginal-price output, in basis points."""
        if self.spot_out_raw <= 0:
            return Decimal(0)
        return Decimal(self.spot_out_raw - self.amount_out_raw) * 10_000 / self.spot_out_raw


@dataclass(frozen=True, slots=True)
class Split:
    """A trade divided between two routes, each sent as its own transaction."""

    parts: tuple[RouteQuote, ...]

    @property
    def amount_in_raw(self) -> int:
        """Total input of all parts."""
        return sum(part.amount_in_raw for part in self.parts)

    @property
    def amount_out_raw(self) -> int:
        """Total output of all parts."""
        return sum(part.amount_out_raw for part in self.parts)

    @property
    def gas_units(self) -> int:
        """Total gas of all parts' transactions."""
        return sum(part.gas_units for part in self.parts)

    @property
    def block_number(self) -> BlockNumber:
        """The block every part was quoted at (the oldest, if they differ)."""
        return min(part.block_number for part in self.parts)


@dataclass(frozen=True, slots=True)
class Chain:
    """A two-hop path whose hops are on different protocols (V2 then V3, or V3 then V2),
    executed as consecutive transactions: each leg's input is the previous leg's output."""

    parts: tuple[RouteQuote, ...]

    @property
    def amount_in_raw(self) -> int:
        """The first leg's input."""
        return self.parts[0].amount_in_raw

    @property
    def amount_out_raw(self) -> int:
        """The last leg's output."""
        return self.parts[-1].amount_out_raw

    @property
    def gas_units(self) -> int:
        """Total gas of every leg's transaction."""
        return sum(part.gas_units for part in self.parts)

    @property
    def block_number(self) -> BlockNumber:
        """The block every leg was quoted at (the oldest, if they differ)."""
        return min(part.block_number for part in self.parts)


Plan = RouteQuote | Split | Chain
"""What routing can choose: one route, a V2/V3 split, or a mixed-protocol chain."""


@dataclass(frozen=True, slots=True)
class RoutingChoice:
    """The routing decision: the best plan by output net of gas, and what it beat."""

    best: Plan
    net_out_raw: int
    """The chosen plan's output minus its gas cost converted into the output token."""
    gas_cost_out_raw: int
    candidates: tuple[RouteQuote, ...]
