"""Valuation: holdings per asset across wallets at current prices, weights against targets,
and each open lot's unrealised gain or loss and term.

Only managed assets (those with a target) count towards the allocation's total; other
holdings (the native coin kept for gas, dust) are valued when a price exists and listed,
but carry no weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

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
    long_term_cutoff,
)


@dataclass(frozen=True, slots=True)
class LotValuation:
    """One open lot at the current price."""

    lot: OpenLot
    value_usd: Decimal
    unrealised_usd: Decimal
    """Gain (negative: loss) a sale at the current price would realise, before costs."""
    term: Term | None
    """The term a sale now would have (None: the jurisdiction has no terms)."""


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
    """The portfolio at `valued_at`.

    Lots are kept per asset and valued on demand (`value_lot`, `lots`): a scan over a
    hundred thousand lots only builds values for the few it acts on.
    """

    valued_at: datetime
    managed_value_usd: Decimal
    holdings: tuple[Holding, ...]
    unpriced_assets: tuple[Address, ...]
    """Unmanaged assets held without a price: left out of every figure."""
    lots_by_asset: Mapping[Address, tuple[OpenLot, ...]] = field(repr=False)
    """Open lots of every priced asset (all wallets)."""
    long_term_cutoff: datetime | None
    """Lots whose holding period started before this are long term (or exempt)."""
    long_term: Term
    """`Term.LONG`, or `Term.EXEMPT` where long-held disposals are tax free."""
    by_asset: Mapping[Address, Holding] = field(default_factory=dict, repr=False)

    def holding(self, asset: Address) -> Holding | None:
        """The holding of `asset`, or None when it is neither held nor managed."""
        return self.by_asset.get(asset)

    def term_of(self, lot: OpenLot) -> Term | None:
        """The term a sale of `lot` now would have."""
        if self.long_term_cutoff is None:
            return None
        return self.long_term if lot.holding_period_start < self.long_term_cutoff else Term.SHORT

    def value_lot(self, lot: OpenLot) -> LotValuation:
        """`lot` at the current price (its asset must be priced)."""
        value = lot.amount_raw * self.by_asset[lot.asset].raw_price_usd
        return LotValuation(lot, value, value - lot.cost_usd, self.term_of(lot))

    @property
    def lots(self) -> tuple[LotValuation, ...]:
        """Every priced open lot, valued (builds one value per lot)."""
        return tuple(self.value_lot(lot) for lots in self.lots_by_asset.values() for lot in lots)


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
    prices: dict[Address, Decimal] = {}
    for asset in managed:
        prices[asset] = raw_price(snapshot, asset)
    by_asset: dict[Address, list[OpenLot]] = {asset: [] for asset in managed}
    for lot in snapshot.lots:
        bucket = by_asset.get(lot.asset)
        if bucket is None:
            bucket = by_asset[lot.asset] = []
        bucket.append(lot)
    cutoff = long_term_cutoff(rules, now)
    long_term = Term.EXEMPT if rules.long_term_exempt else Term.LONG
    amounts: dict[Address, int] = {}
    values: dict[Address, Decimal] = {}
    costs: dict[Address, Decimal] = {}
    unpriced: list[Address] = []
    priced_lots: dict[Address, tuple[OpenLot, ...]] = {}
    for asset, lots in by_asset.items():
        if asset not in prices:
            try:
                prices[asset] = raw_price(snapshot, asset)
            except (MissingPrice, UnknownAsset):
                unpriced.append(asset)
                continue
        amounts[asset] = sum(map(attrgetter("amount_raw"), lots))
        values[asset] = amounts[asset] * prices[asset]
        costs[asset] = sum(map(attrgetter("cost_usd"), lots), ZERO)
        priced_lots[asset] = tuple(lots)
    managed_total = sum((values[a] for a in managed), ZERO)
    holdings: list[Holding] = []
    for asset, value in values.items():
        target = managed.get(asset)
        weight = None
        if target is not None:
            weight = value / managed_total if managed_total > 0 else ZERO
        holdings.append(
            Holding(asset, amounts[asset], value, costs[asset], prices[asset], weight, target)
        )
    return Valuation(
        valued_at=now,
        managed_value_usd=managed_total,
        holdings=tuple(holdings),
        unpriced_assets=tuple(sorted(unpriced)),
        lots_by_asset=priced_lots,
        long_term_cutoff=cutoff,
        long_term=long_term,
        by_asset={h.asset: h for h in holdings},
    )
