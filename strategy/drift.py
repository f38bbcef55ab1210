"""Drift detection and rebalance sizing: which weights left their band, and how much USD
value should leave overweight assets and reach underweight ones.

A breach is a managed asset whose weight lies outside [lower, upper] of its band. The
sizing only ever sells assets above their target and only ever buys assets below it:

- `TARGET`: every overweight asset down to its target, every underweight one up to it.
- `BAND_EDGE`: breached assets to the band's edge (`edge_buffer` inside it); the flow is
  the larger of what the over-breaches must shed and the under-breaches must receive,
  topped up from (or spread over) the other over- or underweight assets in proportion to
  their distance from target.

Assets that may not be bought now (a re-entry window after a loss sale) receive nothing;
if no asset can receive the flow, nothing is sold either.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ledger.ids import Address
from strategy.policy import RebalanceMode
from strategy.valuation import Holding, Valuation
from strategy.values import ZERO


class BandSide(StrEnum):
    """Which edge of its band a weight crossed."""

    OVER = "over"
    UNDER = "under"


@dataclass(frozen=True, slots=True)
class DriftBreach:
    """A managed asset's weight outside its band."""

    asset: Address
    weight: Decimal
    target_weight: Decimal
    lower: Decimal
    upper: Decimal
    side: BandSide


@dataclass(frozen=True, slots=True)
class RebalanceFlows:
    """USD value to sell per overweight asset and to buy per underweight asset (same totals)."""

    mode: RebalanceMode
    sells_usd: tuple[tuple[Address, Decimal], ...]
    buys_usd: tuple[tuple[Address, Decimal], ...]

    @property
    def total_usd(self) -> Decimal:
        """The value that changes hands."""
        return sum((v for _, v in self.sells_usd), ZERO)


def find_drift_breaches(valuation: Valuation) -> tuple[DriftBreach, ...]:
    """Every managed asset whose weight lies outside its band, in asset order.

    Raises:
        Nothing.
    """
    breaches: list[DriftBreach] = []
    for holding in sorted(valuation.holdings, key=lambda h: h.asset):
        target = holding.target
        if target is None or holding.weight is None:
            continue
        if holding.weight > target.upper:
            side = BandSide.OVER
        elif holding.weight < target.lower:
            side = BandSide.UNDER
        else:
            continue
        breaches.append(
            DriftBreach(
                holding.asset, holding.weight, target.weight, target.lower, target.upper, side
            )
        )
    return tuple(breaches)


def _spread(amount: Decimal, room: dict[Address, Decimal], already: dict[Address, Decimal]) -> None:
    """Add up to `amount` to `already`, split over `room` in proportion, capped by room."""
    total_room = sum(room.values(), ZERO)
    if amount <= 0 or total_room <= 0:
        return
    share = min(amount / total_room, Decimal(1))
    for asset, space in room.items():
        already[asset] = already.get(asset, ZERO) + space * share


def size_rebalance(
    valuation: Valuation,
    breaches: Collection[DriftBreach],
    mode: RebalanceMode,
    edge_buffer: Decimal,
    blocked_buys: Collection[Address] = (),
) -> RebalanceFlows:
    """How much value to move, per asset, to cure `breaches` in `mode` (TARGET or BAND_EDGE).

    Raises:
        Nothing.
    """
    total = valuation.managed_value_usd
    managed = [h for h in valuation.holdings if h.target is not None and h.weight is not None]

    def gap(h: Holding) -> Decimal:
        assert h.target is not None and h.weight is not None
        return (h.weight - h.target.weight) * total

    over_room = {h.asset: gap(h) for h in managed if gap(h) > 0}
    under_room = {h.asset: -gap(h) for h in managed if gap(h) < 0 and h.asset not in blocked_buys}
    sells: dict[Address, Decimal] = {}
    buys: dict[Address, Decimal] = {}
    if mode is RebalanceMode.TARGET:
        flow = min(sum(over_room.values(), ZERO), sum(under_room.values(), ZERO))
        _spread(flow, over_room, sells)
        _spread(flow, under_room, buys)
    else:
        for breach in breaches:
            buffer = min(edge_buffer, (breach.upper - breach.lower) / 4)
            if breach.side is BandSide.OVER:
                edge = max(breach.target_weight, breach.upper - buffer)
                sells[breach.asset] = (breach.weight - edge) * total
            elif breach.asset in under_room:
                edge = min(breach.target_weight, breach.lower + buffer)
                buys[breach.asset] = (edge - breach.weight) * total
        flow = max(sum(sells.values(), ZERO), sum(buys.values(), ZERO))
        flow = min(flow, sum(under_room.values(), ZERO))
        _spread(
            flow - sum(sells.values(), ZERO),
            {a: r - sells.get(a, ZERO) for a, r in over_room.items() if r > sells.get(a, ZERO)},
            sells,
        )
        _spread(
            flow - sum(buys.values(), ZERO),
            {a: r - buys.get(a, ZERO) for a, r in under_room.items() if r > buys.get(a, ZERO)},
            buys,
        )
        sold = sum(sells.values(), ZERO)
        if sold > flow and sold > 0:
            # Not enough room to buy into: sell only what can be placed.
            sells = {a: v * flow / sold for a, v in sells.items()}
        bought = sum(buys.values(), ZERO)
        if bought > flow and bought > 0:
            buys = {a: v * flow / bought for a, v in buys.items()}
    return RebalanceFlows(
        mode,
        tuple(sorted((a, v) for a, v in sells.items() if v > 0)),
        tuple(sorted((a, v) for a, v in buys.items() if v > 0)),
    )
