"""The strategy's settings as frozen values: what to harvest, when to rebalance, how far.

`harvestd.settings` validates the YAML and converts it into a `StrategyPolicy`; the
strategy never reads configuration itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from ledger.ids import Address
from strategy.values import JurisdictionRules, Targets, TaxRates


class RebalanceMode(StrEnum):
    """How far a rebalance goes once a band is breached."""

    TARGET = "target"
    """Every managed asset back to its target weight."""
    BAND_EDGE = "band_edge"
    """Only as far as the band's edge (less `edge_buffer`), which usually realises less."""
    AUTO = "auto"
    """To target unless that costs more than `max_extra_cost_to_target_usd` over the edge."""


@dataclass(frozen=True, slots=True)
class HarvestPolicy:
    """When a loss is worth harvesting, and where its proceeds go."""

    enabled: bool
    min_loss_usd: Decimal
    """A (wallet, asset) group of losing lots is considered only from this loss up."""
    margin_usd: Decimal
    """The tax saved must exceed the full cost by at least this much ..."""
    margin_ratio: Decimal
    """... and by at least this share of the cost (0.5: saving >= 1.5 x cost)."""
    cash_asset: Address
    """The asset a same-asset harvest passes through (sell to it, buy back from it)."""
    substitutes: Mapping[Address, Address] = field(default_factory=dict)
    """A correlated asset to hold instead while a re-entry window is open."""


@dataclass(frozen=True, slots=True)
class RebalancePolicy:
    """When and how far to rebalance a drifted allocation."""

    enabled: bool
    mode: RebalanceMode
    edge_buffer: Decimal
    """In band-edge mode, stop this much weight inside the edge (0.001 = 0.1 point) so
    costs and rounding do not leave the weight on or just over the line."""
    max_extra_cost_to_target_usd: Decimal
    """AUTO mode: the extra tax plus costs of going to target instead of the edge that is
    still worth paying."""
    min_trade_usd: Decimal
    """Trades smaller than this are left out of a rebalance."""


@dataclass(frozen=True, slots=True)
class StrategyPolicy:
    """Everything the decisions need besides the snapshot and the quotes."""

    rules: JurisdictionRules
    rates: TaxRates
    targets: Targets
    harvest: HarvestPolicy
    rebalance: RebalancePolicy
