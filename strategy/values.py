"""The strategy's own frozen input values: lots, assets, prices, targets, tax rules and rates.

The daemon's wiring converts ledger lots and store rows into these; the strategy never
reads the store itself. Amounts are raw integers of the token's smallest unit, money is
exact `Decimal` USD, times are timezone-aware UTC. Nothing here does I/O.

- `OpenLot`: one open lot of one asset in one wallet, with its cost basis.
- `Asset`, `Price`: what an asset is (decimals) and what one whole unit is worth now.
- `AssetTarget`, `Targets`: the allocation and its drift bands.
- `Jurisdiction`, `LotMethod`, `Term` are the lot engine's enums (`ledger.engine.values`);
  a term of None means the jurisdiction has no terms.
- `JurisdictionRules`: the parts of a jurisdiction the strategy needs (terms, lot order,
  wash-sale / 30-day / superficial-loss windows); `rules_for` builds the presets.
- `TaxRates`, `TaxYearState`: marginal rates and what has been realised so far this year.
- `PortfolioSnapshot`: everything one scan decides on, gathered at one moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import NewType

from ledger.engine.values import Jurisdiction, LotMethod, Term
from ledger.ids import Address
from strategy.errors import InvalidTargets

__all__ = [
    "ONE",
    "ZERO",
    "Acquisition",
    "Asset",
    "AssetTarget",
    "Jurisdiction",
    "JurisdictionRules",
    "LossDisposal",
    "LotId",
    "LotMethod",
    "LotOrder",
    "OpenLot",
    "PortfolioSnapshot",
    "Price",
    "Targets",
    "TaxRates",
    "TaxYearState",
    "Term",
    "long_term_cutoff",
    "rules_for",
    "term_before",
    "term_of",
]

LotId = NewType("LotId", str)
"""Identity of an open lot as the ledger names it (the acquiring event's key)."""

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10_000)


class LotOrder(StrEnum):
    """Who decides which lots a disposal uses."""

    CHOICE = "choice"
    """The owner may identify lots (us specific identification, generic)."""
    FIFO = "fifo"
    """The law fixes first-in first-out (de)."""
    POOLED = "pooled"
    """Each asset is one pool at average cost (uk Section 104, ca adjusted cost base)."""


@dataclass(frozen=True, slots=True)
class JurisdictionRules:
    """The rules of one jurisdiction that decide what a harvest or a rebalance may do."""

    code: Jurisdiction
    lot_order: LotOrder
    long_term_after_years: int | None
    """Long term when sold more than this many years after the holding period started
    (a sale on the anniversary is still short term); None: no terms."""
    long_term_exempt: bool
    """Long-term disposals are tax free, gains and losses alike (de)."""
    prior_purchase_window_days: int | None
    """A purchase of the same asset this many days before a loss sale cancels the loss
    (us wash sale, ca superficial loss); None: no such rule."""
    same_day_rule: bool
    """A purchase of the same asset on the day of the sale is matched to it (uk)."""
    reentry_window_days: int | None
    """Buying the same asset back within this many days after a loss sale cancels the
    loss (us wash sale, uk 30-day rule, ca superficial loss); None: re-entry is free."""
    long_term_after_days: int | None = None
    """Overrides the anniversary rule: long term when held more than this many days."""

    @property
    def allows_same_asset_reentry(self) -> bool:
        """True when proceeds of a loss sale may go straight back into the same asset."""
        return self.reentry_window_days is None


def rules_for(
    code: Jurisdiction, *, wash_sale: bool = False, long_term_after_days: int | None = None
) -> JurisdictionRules:
    """The strategy's rules for a jurisdiction (`wash_sale` only matters for `us`).

    Raises:
        Nothing: every `Jurisdiction` has a preset.
    """
    rules = _preset(code, wash_sale)
    if long_term_after_days is not None and rules.long_term_after_years is not None:
        rules = replace(rules, long_term_after_days=long_term_after_days)
    return rules


def _preset(code: Jurisdiction, wash_sale: bool) -> JurisdictionRules:
    if code is Jurisdiction.US:
        window = 30 if wash_sale else None
        return JurisdictionRules(code, LotOrder.CHOICE, 1, False, window, False, window)
    if code is Jurisdiction.UK:
        return JurisdictionRules(code, LotOrder.POOLED, None, False, None, True, 30)
    if code is Jurisdiction.DE:
        return JurisdictionRules(code, LotOrder.FIFO, 1, True, None, False, None)
    if code is Jurisdiction.CA:
        return JurisdictionRules(code, LotOrder.POOLED, None, False, 30, False, 30)
    return JurisdictionRules(code, LotOrder.CHOICE, None, False, None, False, None)


def long_term_cutoff(rules: JurisdictionRules, sold_at: datetime) -> datetime | None:
    """Lots whose holding period started before this instant (UTC) are long term (or
    exempt) in a sale at `sold_at`; the rest are short term. None: no terms.

    One comparison per lot instead of a calendar computation per lot.

    Raises:
        Nothing.
    """
    return _cutoff_on(rules, sold_at.astimezone(UTC).date())


def term_of(
    holding_period_start: datetime, sold_at: datetime, rules: JurisdictionRules
) -> Term | None:
    """The term of a disposal at `sold_at` of a lot whose holding period began then;
    None where the jurisdiction has no terms (uk, ca, generic).

    Raises:
        Nothing.
    """
    cutoff = long_term_cutoff(rules, sold_at)
    return term_before(cutoff, rules, holding_period_start)


def term_before(
    cutoff: datetime | None, rules: JurisdictionRules, holding_period_start: datetime
) -> Term | None:
    """The term of a lot given the sale's `long_term_cutoff`.

    Raises:
        Nothing.
    """
    if cutoff is None:
        return None
    if holding_period_start < cutoff:
        return Term.EXEMPT if rules.long_term_exempt else Term.LONG
    return Term.SHORT


def _deadline(rules: JurisdictionRules, start: date) -> date:
    """The last sale date on which a lot whose holding period began on `start` is short."""
    if rules.long_term_after_days is not None:
        return start + timedelta(days=rules.long_term_after_days)
    years = rules.long_term_after_years or 0
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February: the anniversary is 28 February
        return date(start.year + years, 2, 28)


@lru_cache(maxsize=1024)
def _cutoff_on(rules: JurisdictionRules, sold: date) -> datetime | None:
    if rules.long_term_after_years is None:
        return None
    # The deadline grows with the start date: find the first start that is still short.
    if rules.long_term_after_days is not None:
        first_short = sold - timedelta(days=rules.long_term_after_days)
    else:
        first_short = sold - timedelta(days=366 * rules.long_term_after_years + 2)
        while _deadline(rules, first_short) < sold:
            first_short += timedelta(days=1)
    return datetime(first_short.year, first_short.month, first_short.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Asset:
    """A token: its address (the native coin is `ledger.events.NATIVE_ASSET`) and decimals."""

    address: Address
    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class Price:
    """The current USD price of one whole unit of an asset."""

    asset: Address
    unit_price_usd: Decimal
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class OpenLot:
    """An open lot: what is left of one acquisition of one asset in one wallet."""

    lot_id: LotId
    asset: Address
    wallet: Address
    amount_raw: int
    cost_usd: Decimal
    """Cost basis of `amount_raw` (what is left), including any disallowed loss carried in."""
    acquired_at: datetime
    holding_period_start: datetime
    """Equal to `acquired_at` unless a wash sale carried an older holding period in."""


@dataclass(frozen=True, slots=True)
class Acquisition:
    """A recent acquisition of an asset by any owned wallet, open lot or not (window checks)."""

    asset: Address
    wallet: Address
    acquired_at: datetime
    amount_raw: int
    lot_id: LotId | None = None


@dataclass(frozen=True, slots=True)
class LossDisposal:
    """A recent disposal at a loss: buying the asset back inside the window would cancel it."""

    asset: Address
    wallet: Address
    disposed_at: datetime
    loss_usd: Decimal


@dataclass(frozen=True, slots=True)
class AssetTarget:
    """The target weight of one asset and its drift band.

    The band's half-width is the tighter of `abs_band` (weight points, 0.05 = 5 points) and
    `rel_band` times the target (0.25 = a quarter of the target); at least one is set.
    """

    asset: Address
    weight: Decimal
    abs_band: Decimal | None = None
    rel_band: Decimal | None = None

    @property
    def half_width(self) -> Decimal:
        """The band's half-width in weight (0..1)."""
        widths: list[Decimal] = []
        if self.abs_band is not None:
            widths.append(self.abs_band)
        if self.rel_band is not None:
            widths.append(self.rel_band * self.weight)
        return min(widths) if widths else ZERO

    @property
    def lower(self) -> Decimal:
        """Lowest weight inside the band."""
        return max(ZERO, self.weight - self.half_width)

    @property
    def upper(self) -> Decimal:
        """Highest weight inside the band."""
        return min(ONE, self.weight + self.half_width)


@dataclass(frozen=True, slots=True)
class Targets:
    """The allocation: weights add up to exactly 1 over the assets that are managed."""

    assets: tuple[AssetTarget, ...]

    def __post_init__(self) -> None:
        total = sum((t.weight for t in self.assets), ZERO)
        if any(t.weight < 0 for t in self.assets):
            raise InvalidTargets(str(total), "a weight is negative")
        if total != ONE:
            raise InvalidTargets(str(total), "weights must add up to 1")
        if len({t.asset for t in self.assets}) != len(self.assets):
            raise InvalidTargets(str(total), "an asset is listed twice")

    def of(self, asset: Address) -> AssetTarget | None:
        """The target of `asset`, or None when it is not managed."""
        for target in self.assets:
            if target.asset == asset:
                return target
        return None


@dataclass(frozen=True, slots=True)
class TaxRates:
    """Marginal rates (0.37 = 37 %) and the loss rules the tax estimate uses.

    A net loss for the year offsets ordinary income up to `loss_limit_usd` (us: 3000,
    elsewhere 0) at `ordinary_income_rate`; the rest carries forward and is valued now at
    `carry_forward_value_rate` (0 = a carried loss is worth nothing this year).
    """

    short_term_rate: Decimal
    long_term_rate: Decimal
    ordinary_income_rate: Decimal
    loss_limit_usd: Decimal
    carry_forward_value_rate: Decimal


@dataclass(frozen=True, slots=True)
class TaxYearState:
    """What has been realised so far in the current tax year, and losses carried into it.

    Realised figures are signed (a net loss is negative); carried losses are positive.
    """

    year: int
    realised_short_usd: Decimal
    realised_long_usd: Decimal
    carried_short_loss_usd: Decimal = ZERO
    carried_long_loss_usd: Decimal = ZERO

    @property
    def base_short_usd(self) -> Decimal:
        """Net short-term figure so far, carried short-term losses applied."""
        return self.realised_short_usd - self.carried_short_loss_usd

    @property
    def base_long_usd(self) -> Decimal:
        """Net long-term figure so far, carried long-term losses applied."""
        return self.realised_long_usd - self.carried_long_loss_usd


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """Everything one scan decides on, gathered at one moment (`taken_at`, UTC)."""

    taken_at: datetime
    assets: Mapping[Address, Asset]
    prices: Mapping[Address, Price]
    lots: tuple[OpenLot, ...] = field(repr=False)
    year: TaxYearState
    recent_acquisitions: tuple[Acquisition, ...] = ()
    """Acquisitions in the last few weeks whose lots may already be closed."""
    recent_loss_disposals: tuple[LossDisposal, ...] = ()
    open_fingerprints: frozenset[str] = field(default_factory=frozenset)
    """Fingerprints of proposals still open: an equivalent proposal is not made again."""

    def window_start(self, days: int) -> datetime:
        """The start of a window of `days` days that ends at `taken_at`."""
        return self.taken_at - timedelta(days=days)
