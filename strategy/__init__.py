"""The strategy: valuation, drift detection, harvest scan, tax-aware lot selection and
rebalancing, benefit-versus-cost decisions, and proposals.

One scan is gather (async) -> plan (pure) -> quote (async) -> decide (pure):

- `strategy.scan.scan(portfolio, quotes, gas, policy)`: the entry point; returns a
  `ScanResult` of `Proposal`s and `NoTrade`s. `plan_scan` / `decide_scan` are its pure
  halves.
- `strategy.quotes`: the Protocols the daemon implements (`PortfolioSource`,
  `QuoteSource`, `GasPriceSource`) and the `Quote`, `GasPrice`, `Route` values.
- `strategy.values`: frozen inputs (`OpenLot`, `Asset`, `Price`, `Targets`, `TaxRates`,
  `TaxYearState`, `JurisdictionRules`, `PortfolioSnapshot`); `strategy.policy`: settings.
- `strategy.valuation`, `strategy.drift`, `strategy.harvest`, `strategy.rebalance`: the
  decisions; `strategy.lotchoice`: FIFO, HIFO and the exact least-tax lot choice;
  `strategy.tax`: the year's tax estimate; `strategy.proposals`: the output values.

Nothing here logs, persists or reads configuration: the caller does, from the values.
"""
