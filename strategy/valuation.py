"""Valuation: holdings per asset across wallets at current prices, weights against targets,
and each open lot's unrealised gain or loss and term.

Only managed assets (those with a target) count towards the allocation's total; other
holdings (the native coin kept for gas, dust) are valued when a price exists and listed,
but carry no weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ledger.ids import Address
from strategy.errors import MissingPrice, UnknownAsset
from strategy.values import (
    ZERO,
    AssetTarget,
    JurisdictionRules,
    OpenLot,
    PortfolioSnapshot,
    Targets,
    Term,
    term_of,
)


@dataclass(frozen=True, slots=True)
class LotValuation:
    """One open lot at the current price."""

    lot: OpenLot
    value_usd: Decimal
    term: Term | None
    """The term a sale now would have (None: the jurisdiction has no terms)."""

    @property
    def unrealised_usd(self) -> Decimal:
        """Gain (negative: loss) a sale at the current price would realise, before costs."""
        return self.value_usd - self.lot.cost_usd


@dataclass(frozen=True, slots=True)
class Holding:
    """One asset across all wallets."""

    asset: Address
    amount_raw: int
    value_usd: Decimal
    cost_usd: Decimal
    raw_price_usd: Decimal
    """USD per raw unit (the whole-unit price scaled by the asset's decimals)."""
    weight: Decimal | None
    """Share of the managed total; None for an unmanaged asset."""
    target: AssetTarget | None

    @property
    def unrealised_usd(self) -> Decimal:
        """Unrealised gain (negative: loss) of the whole holding."""
        return self.value_usd - self.cost_usd


@dataclass(frozen=True, slots=True)
class Valuation:
    """The portfolio at `valued_at`."""

    valued_at: datetime
    managed_value_usd: Decimal
    holdings: tuple[Holding, ...]
    lots: tuple[LotValuation, ...]
    unpriced_assets: tuple[Address, ...]
    """Unmanaged assets held without a price: left out of every figure."""

    def holding(self, asset: Address) -> Holding | None:
        """The holding of `asset`, or None when it is neither held nor managed."""
        for holding in self.holdings:
            if holding.asset == asset:
                return holding
        return None


def raw_price(snapshot: PortfolioSnapshot, asset: Address) -> Decimal:
    """USD per raw unit of `asset`.

    Raises:
        MissingPrice: the snapshot has no price for it.
        UnknownAsset: the snapshot does not describe it (its decimals are unknown).
    """
    price = snapshot.prices.get(asset)
    if price is None:
        raise MissingPrice(asset)
    described = snapshot.assets.get(asset)
    if described is None:
        raise UnknownAsset(asset)
    return price.unit_price_usd.scaleb(-described.decimals)


def value_portfolio(
    snapshot: PortfolioSnapshot, targets: Targets, rules: JurisdictionRules
) -> Valuation:
    """Value every open lot and every holding, and weigh the managed ones.

    Raises:
        MissingPrice: a managed asset has no price.
        UnknownAsset: a managed asset is not described in the snapshot.
    """
    now = snapshot.taken_at
    managed = {t.asset: t for t in targets.assets}
    prices: dict[Address, Decimal | None] = {}
    for asset in managed:
        prices[asset] = raw_price(snapshot, asset)
    amounts: dict[Address, int] = dict.fromkeys(managed, 0)
    values: dict[Address, Decimal] = dict.fromkeys(managed, ZERO)
    costs: dict[Address, Decimal] = dict.fromkeys(managed, ZERO)
    lot_values: list[LotValuation] = []
    term_cache: dict[datetime, Term | None] = {}
    unpriced: set[Address] = set()
    for lot in snapshot.lots:
        asset = lot.asset
        if asset not in prices:
            try:
                prices[asset] = raw_price(snapshot, asset)
            except (MissingPrice, UnknownAsset):
                prices[asset] = None
        price = prices[asset]
        if price is None:
            unpriced.add(asset)
            continue
        value = lot.amount_raw * price
        start = lot.holding_period_start
        if start in term_cache:
            term = term_cache[start]
        else:
            term = term_cache[start] = term_of(start, now, rules)
        lot_values.append(LotValuation(lot, value, term))
        amounts[asset] = amounts.get(asset, 0) + lot.amount_raw
        values[asset] = values.get(asset, ZERO) + value
        costs[asset] = costs.get(asset, ZERO) + lot.cost_usd
    managed_total = sum((values[a] for a in managed), ZERO)
    holdings: list[Holding] = []
    for asset, value in values.items():
        target = managed.get(asset)
        weight = None
        if target is not None:
            weight = value / managed_total if managed_total > 0 else ZERO
        asset_price = prices[asset]
        assert asset_price is not None  # values only holds priced assets
        holdings.append(
            Holding(asset, amounts[asset], value, costs[asset], asset_price, weight, target)
        )
    return Valuation(
        now, managed_total, tuple(holdings), tuple(lot_values), tuple(sorted(unpriced))
    )
