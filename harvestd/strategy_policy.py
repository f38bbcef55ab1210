"""Settings -> the strategy's frozen `StrategyPolicy` for one chain.

The YAML names assets by symbol; the strategy works on addresses. `policy_for_chain`
resolves every symbol against the chain's configured tokens, builds the jurisdiction's
rules, the tax rates, the targets with their drift bands, and the harvest and rebalance
policies. `tax_year_start(settings, at)` is the first instant of the tax year `at` is in.

Mapping choices (the YAML is coarser than the strategy's policy):

- `min_benefit_cost_ratio` r becomes `margin_ratio` r - 1 (saving >= r x cost);
  `min_benefit_usd` becomes `margin_usd`.
- The ordinary-income rate is the short-term rate; a carried loss is valued at the
  long-term rate; the annual loss limit applies in the `us` only.
- `reentry: same` drops the substitutes (the core then re-enters the same asset where the
  jurisdiction allows it and skips the harvest where it does not).
- Without rebalance targets, the numeraire is the only managed asset with a band that
  never breaches, so valuation and harvesting still work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from harvestd.errors import ConfigError, ConfigProblem
from harvestd.settings import ChainSettings, Settings
from harvestd.settings_types import Reentry
from ledger.ids import Address
from strategy.policy import HarvestPolicy, RebalanceMode, RebalancePolicy, StrategyPolicy
from strategy.values import (
    AssetTarget,
    Jurisdiction,
    Targets,
    TaxRates,
    rules_for,
)

__all__ = ["EDGE_BUFFER", "UnknownSymbol", "policy_for_chain", "tax_year_start", "token_addresses"]

EDGE_BUFFER: Final = Decimal("0.001")
"""Band-edge rebalances stop a tenth of a weight point inside the edge."""


class UnknownSymbol(ConfigError):
    """A strategy setting names a symbol the chain does not configure as a token."""

    def __init__(self, key: str, symbol: str, chain: str) -> None:
        self.key = key
        self.symbol = symbol
        self.chain = chain
        expected = f"a token configured on chain {chain}"
        super().__init__(
            None, (ConfigProblem(key=key, line=None, value=symbol, expected=expected),)
        )


def token_addresses(chain: ChainSettings) -> dict[str, Address]:
    """Symbol -> address of every token configured on `chain`.

    Raises:
        Nothing.
    """
    return {token.symbol: Address(token.address) for token in chain.tokens}


def _resolve(symbols: dict[str, Address], key: str, symbol: str, chain: str) -> Address:
    found = symbols.get(symbol)
    if found is None:
        raise UnknownSymbol(key, symbol, chain)
    return found


def _rates(settings: Settings) -> TaxRates:
    owner = settings.owner
    rates = owner.tax_rates
    flat = rates.flat if rates.flat is not None else Decimal(0)
    short = rates.short_term if rates.short_term is not None else flat
    long = rates.long_term if rates.long_term is not None else flat
    is_us = owner.jurisdiction.value == Jurisdiction.US.value
    return TaxRates(
        short_term_rate=short,
        long_term_rate=long,
        ordinary_income_rate=short,
        loss_limit_usd=owner.annual_loss_limit_usd if is_us else Decimal(0),
        carry_forward_value_rate=long,
    )


def _targets(settings: Settings, chain: ChainSettings, symbols: dict[str, Address]) -> Targets:
    rebalance = settings.strategy.rebalance
    if not rebalance.targets:
        cash = _resolve(symbols, f"chains.{chain.name}.numeraire", chain.numeraire, chain.name)
        return Targets((AssetTarget(cash, Decimal(1), abs_band=Decimal(1)),))
    targets: list[AssetTarget] = []
    for symbol, weight in rebalance.targets.items():
        band = rebalance.bands.band_for(symbol)
        address = _resolve(symbols, f"strategy.rebalance.targets.{symbol}", symbol, chain.name)
        targets.append(AssetTarget(address, weight, band.absolute, band.relative))
    return Targets(tuple(targets))


def policy_for_chain(settings: Settings, chain: ChainSettings) -> StrategyPolicy:
    """The strategy's policy for one configured chain.

    Raises:
        UnknownSymbol: a target, substitute or the numeraire is not a token of `chain`.
        InvalidTargets: the targets do not add up to 1 (settings validation prevents it).
    """
    symbols = token_addresses(chain)
    owner = settings.owner
    strategy = settings.strategy
    rules = rules_for(
        Jurisdiction(owner.jurisdiction.value),
        wash_sale=owner.wash_sale,
        long_term_after_days=owner.long_term_after_days,
    )
    harvest = strategy.harvest
    substitutes: dict[Address, Address] = {}
    if harvest.reentry is not Reentry.SAME:
        for asset, substitute in harvest.substitutes.items():
            key = f"strategy.harvest.substitutes.{asset}"
            substitutes[_resolve(symbols, key, asset, chain.name)] = _resolve(
                symbols, key, substitute, chain.name
            )
    cash = _resolve(symbols, f"chains.{chain.name}.numeraire", chain.numeraire, chain.name)
    rebalance = strategy.rebalance
    return StrategyPolicy(
        rules=rules,
        rates=_rates(settings),
        targets=_targets(settings, chain, symbols),
        harvest=HarvestPolicy(
            enabled=harvest.enabled,
            min_loss_usd=harvest.min_loss_usd,
            margin_usd=harvest.min_benefit_usd,
            margin_ratio=harvest.min_benefit_cost_ratio - 1,
            cash_asset=cash,
            substitutes=substitutes,
        ),
        rebalance=RebalancePolicy(
            enabled=rebalance.enabled,
            mode=RebalanceMode(rebalance.mode.value),
            edge_buffer=EDGE_BUFFER,
            max_extra_cost_to_target_usd=Decimal(0),
            min_trade_usd=rebalance.min_trade_usd,
        ),
    )


def tax_year_start(settings: Settings, at: datetime) -> datetime:
    """The first instant (UTC) of the owner's tax year that `at` falls in.

    Raises:
        Nothing.
    """
    start = settings.owner.tax_year_start
    when = at.astimezone(UTC)
    this_year = datetime(when.year, start.month, start.day, tzinfo=UTC)
    if when >= this_year:
        return this_year
    return datetime(when.year - 1, start.month, start.day, tzinfo=UTC)
