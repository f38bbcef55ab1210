"""Decisions as frozen values: a `Proposal` (a harvest or a rebalance, with its trades,
lots, expected gains, tax effect, costs and net benefit) or a `NoTrade` saying why
nothing was proposed.

Both give `log_fields()`: stable, unit-suffixed keys with string or int values, for the
caller's structured events (`proposal_created`, `trade_skipped`). A proposal's
`fingerprint` names what it would do, not the figures it expects: kind, wallets, assets,
re-entry and the lots used. Prices and amounts move every tick; the fingerprint does not,
so an equivalent open proposal is recognised and not proposed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ledger.ids import Address
from strategy.lotchoice import LotUse
from strategy.values import ZERO, LotId

LogFields = dict[str, str | int]


class ProposalKind(StrEnum):
    """What a proposal does."""

    HARVEST = "harvest"
    REBALANCE = "rebalance"


class ProposalReason(StrEnum):
    """Why a proposal was made."""

    LOSS_HARVEST = "loss_harvest"
    """An unrealised loss saves more tax than harvesting it costs."""
    DRIFT_BREACH = "drift_breach"
    """A weight left its band."""


class Reentry(StrEnum):
    """Where a harvest's proceeds go."""

    SAME_ASSET = "same_asset"
    SUBSTITUTE = "substitute"
    NONE = "none"
    """Not a harvest (a rebalance buys what is underweight)."""


class NoTradeReason(StrEnum):
    """Why a scan proposed nothing for a candidate."""

    LOSS_BELOW_MINIMUM = "loss_below_minimum"
    SAVING_BELOW_COST = "saving_below_cost"
    PRIOR_PURCHASE_IN_WINDOW = "prior_purchase_in_window"
    """A recent purchase of the asset would cancel the loss (wash sale, superficial loss)."""
    SAME_DAY_PURCHASE = "same_day_purchase"
    """A purchase the same day would be matched to the sale (uk same-day rule)."""
    NO_SUBSTITUTE = "no_substitute"
    """Re-entry into the same asset is not allowed and no substitute is configured."""
    SUBSTITUTE_IN_WINDOW = "substitute_in_window"
    """Buying the substitute would cancel a recent loss on it."""
    REBALANCE_BUYS_ASSET = "rebalance_buys_asset"
    """The rebalance proposed in the same scan buys this asset: it would cancel the loss."""
    CONFLICTS_IN_SCAN = "conflicts_in_scan"
    """Another decision of the same scan buys this asset, or sold the substitute at a loss."""
    QUOTE_UNAVAILABLE = "quote_unavailable"
    ALREADY_PROPOSED = "already_proposed"
    WITHIN_BANDS = "within_bands"
    NO_BUY_CANDIDATE = "no_buy_candidate"
    """A breach, but every underweight asset is inside a re-entry window."""
    TRADES_TOO_SMALL = "trades_too_small"


@dataclass(frozen=True, slots=True)
class Trade:
    """One swap: sell `amount_raw` of `sell_asset` from `wallet` for `buy_asset`."""

    wallet: Address
    sell_asset: Address
    buy_asset: Address
    amount_raw: int
    expected_out_raw: int
    lots: tuple[LotUse, ...]
    """The lots the sale uses (specific identification); empty for a buy-back leg."""


@dataclass(frozen=True, slots=True)
class Costs:
    """What executing a proposal is expected to cost, in USD."""

    gas_usd: Decimal
    fee_usd: Decimal
    price_impact_usd: Decimal

    @property
    def total_usd(self) -> Decimal:
        """All costs together."""
        return self.gas_usd + self.fee_usd + self.price_impact_usd

    def __add__(self, other: Costs) -> Costs:
        return Costs(
            self.gas_usd + other.gas_usd,
            self.fee_usd + other.fee_usd,
            self.price_impact_usd + other.price_impact_usd,
        )


NO_COSTS = Costs(ZERO, ZERO, ZERO)


def _usd(value: Decimal) -> str:
    """A stable text form of a USD figure: rounded to the cent, no exponent."""
    return str(value.quantize(Decimal("0.01")))


@dataclass(frozen=True, slots=True)
class Proposal:
    """A trade set the strategy recommends, with everything needed to review it."""

    kind: ProposalKind
    reason: ProposalReason
    reentry: Reentry
    trades: tuple[Trade, ...]
    realised_short_usd: Decimal
    realised_long_usd: Decimal
    realised_exempt_usd: Decimal
    tax_effect_usd: Decimal
    """Change in this year's estimated tax (negative: saved)."""
    costs: Costs
    created_at: datetime
    figures: tuple[tuple[str, str], ...] = ()
    """Extra figures behind the decision (weights, band edges, required saving)."""

    @property
    def net_benefit_usd(self) -> Decimal:
        """Tax saved minus costs (negative for a rebalance that realises gains)."""
        return -self.tax_effect_usd - self.costs.total_usd

    @property
    def lots(self) -> tuple[LotUse, ...]:
        """Every lot use of every trade."""
        return tuple(use for trade in self.trades for use in trade.lots)

    @property
    def subject(self) -> str:
        """What the proposal is about, lots aside: `harvest:<wallet>:<asset>` or
        `rebalance`. A newer proposal supersedes an open one with the same subject."""
        if self.kind is ProposalKind.HARVEST and self.trades:
            first = self.trades[0]
            return f"{self.kind.value}:{first.wallet}:{first.sell_asset}"
        return self.kind.value

    @property
    def fingerprint(self) -> str:
        """A stable id of what this proposal would do (not of its expected figures)."""
        return compute_fingerprint(
            self.kind,
            self.reentry,
            [
                (t.wallet, t.sell_asset, t.buy_asset, [u.lot_id for u in t.lots])
                for t in self.trades
            ],
        )

    def log_fields(self) -> LogFields:
        """Stable, unit-suffixed key-values for the caller's `proposal_created` event."""
        fields: LogFields = {
            "fingerprint": self.fingerprint,
            "subject": self.subject,
            "kind": self.kind.value,
            "reason": self.reason.value,
            "reentry": self.reentry.value,
            "trade_count": len(self.trades),
            "lot_count": len(self.lots),
            "realised_short_usd": _usd(self.realised_short_usd),
            "realised_long_usd": _usd(self.realised_long_usd),
            "realised_exempt_usd": _usd(self.realised_exempt_usd),
            "tax_effect_usd": _usd(self.tax_effect_usd),
            "gas_usd": _usd(self.costs.gas_usd),
            "fee_usd": _usd(self.costs.fee_usd),
            "price_impact_usd": _usd(self.costs.price_impact_usd),
            "costs_usd": _usd(self.costs.total_usd),
            "net_benefit_usd": _usd(self.net_benefit_usd),
        }
        for index, trade in enumerate(self.trades):
            fields[f"trade_{index}_wallet"] = trade.wallet
            fields[f"trade_{index}_sell_asset"] = trade.sell_asset
            fields[f"trade_{index}_buy_asset"] = trade.buy_asset
            fields[f"trade_{index}_amount_raw"] = str(trade.amount_raw)
            fields[f"trade_{index}_expected_out_raw"] = str(trade.expected_out_raw)
        for key, value in self.figures:
            fields[key] = value
        return fields


@dataclass(frozen=True, slots=True)
class NoTrade:
    """A decision not to trade, with the figures that led to it."""

    kind: ProposalKind
    reason: NoTradeReason
    asset: Address | None = None
    wallet: Address | None = None
    figures: tuple[tuple[str, str], ...] = ()

    def figure(self, key: str) -> str | None:
        """One of the figures by key, or None."""
        for name, value in self.figures:
            if name == key:
                return value
        return None

    def log_fields(self) -> LogFields:
        """Stable, unit-suffixed key-values for the caller's `trade_skipped` event."""
        fields: LogFields = {"kind": self.kind.value, "reason": self.reason.value}
        if self.asset is not None:
            fields["asset"] = self.asset
        if self.wallet is not None:
            fields["wallet"] = self.wallet
        for key, value in self.figures:
            fields[key] = value
        return fields


def compute_fingerprint(
    kind: ProposalKind,
    reentry: Reentry,
    legs: Iterable[tuple[Address, Address, Address, Iterable[LotId]]],
) -> str:
    """The fingerprint of a proposal of `kind` made of `legs` (wallet, sell, buy, lot ids).

    A harvest is named by its lots too (a new losing lot is a new harvest); a rebalance
    only by its (wallet, sell, buy) legs, since its lot choice shifts with every price.

    Raises:
        Nothing.
    """
    parts = [kind.value, reentry.value]
    for wallet, sell, buy, lot_ids in sorted(legs, key=lambda leg: (leg[0], leg[1], leg[2])):
        parts.append(wallet + ":" + sell + ">" + buy)
        if kind is ProposalKind.HARVEST:
            parts.extend(sorted(str(lot_id) for lot_id in lot_ids))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def usd_figure(key: str, value: Decimal) -> tuple[str, str]:
    """A (key, text) figure of a USD amount; `key` should end in `_usd`.

    Raises:
        Nothing.
    """
    return (key, _usd(value))
