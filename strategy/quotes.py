"""Quotes, routes and gas as the strategy sees them, the Protocols that supply them, and the
cost of a quoted route.

The daemon implements the Protocols (over the executor's quoting and the node's base fee)
and passes them to `strategy.scan.scan`:

- `QuoteSource.quote(sell_asset, buy_asset, amount_raw) -> Quote`: a real quote for one
  swap; raises `strategy.errors.QuoteUnavailable` when there is none.
- `GasPriceSource.gas_price() -> GasPrice`: the current base fee (plus tip) and the USD
  price of the native coin.
- `PortfolioSource.snapshot() -> PortfolioSnapshot`: lots, prices and the tax year.

A `Route` is a path of assets quoted leg by leg, each leg selling what the previous one
bought (a same-asset harvest is A -> cash -> A).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from ledger.ids import Address
from strategy.errors import MissingPrice
from strategy.proposals import Costs
from strategy.values import BPS, ZERO, PortfolioSnapshot

WEI_PER_NATIVE = Decimal(10) ** 18


@dataclass(frozen=True, slots=True)
class Quote:
    """One swap's quote: what comes out, its gas, the pools' fee and the price impact."""

    amount_out_raw: int
    gas_units: int
    fee_bps: Decimal
    price_impact_bps: Decimal


@dataclass(frozen=True, slots=True)
class GasPrice:
    """The price of gas now: what a swap would pay per unit, and the native coin in USD."""

    base_fee_wei: int
    priority_fee_wei: int
    native_price_usd: Decimal

    def cost_usd(self, gas_units: int) -> Decimal:
        """USD cost of `gas_units` at this price."""
        return (
            gas_units
            * (self.base_fee_wei + self.priority_fee_wei)
            * self.native_price_usd
            / WEI_PER_NATIVE
        )


@dataclass(frozen=True, slots=True)
class Route:
    """Sell `amount_raw` of `path[0]` through `path[1:]`, leg by leg."""

    path: tuple[Address, ...]
    amount_raw: int

    @property
    def legs(self) -> tuple[tuple[Address, Address], ...]:
        """(sell, buy) of each swap."""
        return tuple(zip(self.path[:-1], self.path[1:], strict=True))


@dataclass(frozen=True, slots=True)
class RouteQuote:
    """A route's legs quoted in order; `inputs_raw[i]` is what leg i sells."""

    route: Route
    inputs_raw: tuple[int, ...]
    legs: tuple[Quote, ...]

    @property
    def amount_out_raw(self) -> int:
        """What the last leg delivers."""
        return self.legs[-1].amount_out_raw


class QuoteSource(Protocol):
    """Real quotes for single swaps (the daemon wraps the executor's quoting)."""

    async def quote(self, sell_asset: Address, buy_asset: Address, amount_raw: int) -> Quote:
        """Quote selling `amount_raw` of `sell_asset` for `buy_asset` on the best route.

        Raises:
            QuoteUnavailable: there is no route or the node could not be asked.
        """
        ...


class GasPriceSource(Protocol):
    """The current gas price and the native coin's USD price."""

    async def gas_price(self) -> GasPrice:
        """The price a swap sent now would pay.

        Raises:
            StrategyError: translated from the adapter's own errors.
        """
        ...


class PortfolioSource(Protocol):
    """The open lots, prices and tax year the scan decides on."""

    async def snapshot(self) -> PortfolioSnapshot:
        """Gather everything one scan needs, as of now.

        Raises:
            StrategyError: translated from the store's or the price source's errors.
        """
        ...


@dataclass(frozen=True, slots=True)
class LegCosts:
    """Costs of a quoted route, with the first leg's share kept apart (it is the sale)."""

    total: Costs
    first_leg_gas_usd: Decimal


def route_costs(
    quote: RouteQuote, raw_prices: Mapping[Address, Decimal], gas: GasPrice
) -> LegCosts:
    """Gas, pool fees and price impact of a quoted route, in USD at current prices.

    Raises:
        MissingPrice: an asset on the route has no price in `raw_prices`.
    """
    total = Costs(ZERO, ZERO, ZERO)
    first_gas = ZERO
    for index, ((sell, _buy), leg) in enumerate(zip(quote.route.legs, quote.legs, strict=True)):
        price = raw_prices.get(sell)
        if price is None:
            raise MissingPrice(sell)
        value_in = quote.inputs_raw[index] * price
        gas_usd = gas.cost_usd(leg.gas_units)
        if index == 0:
            first_gas = gas_usd
        total = total + Costs(
            gas_usd, value_in * leg.fee_bps / BPS, value_in * leg.price_impact_bps / BPS
        )
    return LegCosts(total, first_gas)
