"""One scan: gather (async) -> plan (pure) -> quote (async) -> decide (pure).

`scan(portfolio, quotes, gas, policy)` is the entry point the daemon's scheduler calls.
It returns a `ScanResult` of proposals and `NoTrade` decisions and neither logs nor
persists: the caller logs each value's `log_fields()` and stores the proposals.

The pure halves are public so that tests, benchmarks and a simulation can drive them
with values: `plan_scan(snapshot, policy)` values the portfolio, finds breaches and
harvest candidates and lists the routes to quote; `decide_scan(plan, quotes, gas,
policy)` turns the quoted plan into decisions. Decisions are made in this order, each on
the tax year as the previous ones would leave it: the rebalance first (it is needed),
then harvests, deepest loss first. Lots a rebalance plans to sell are not harvested in
the same scan, nor (where a re-entry window applies) assets a rebalance plans to buy. A candidate whose fingerprint is already open is not quoted again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.ids import Address
from strategy.drift import DriftBreach, find_drift_breaches
from strategy.errors import QuoteUnavailable
from strategy.harvest import HarvestCandidate, blocked_buys, decide_harvest, find_harvest_candidates
from strategy.policy import RebalanceMode, StrategyPolicy
from strategy.proposals import NoTrade, NoTradeReason, Proposal, ProposalKind
from strategy.quotes import (
    GasPrice,
    GasPriceSource,
    PortfolioSource,
    QuoteSource,
    Route,
    RouteQuote,
)
from strategy.rebalance import RebalancePlan, decide_rebalance, plan_rebalances
from strategy.tax import with_realised
from strategy.valuation import Valuation, raw_price, value_portfolio
from strategy.values import PortfolioSnapshot

Decision = Proposal | NoTrade


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """What a scan will decide on, and the routes it needs quoted first."""

    snapshot: PortfolioSnapshot = field(repr=False)
    valuation: Valuation
    breaches: tuple[DriftBreach, ...]
    rebalance_plans: tuple[RebalancePlan, ...]
    harvest_candidates: tuple[HarvestCandidate, ...]
    no_trades: tuple[NoTrade, ...]
    routes: tuple[Route, ...]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The decisions of one scan."""

    valuation: Valuation
    breaches: tuple[DriftBreach, ...]
    proposals: tuple[Proposal, ...]
    no_trades: tuple[NoTrade, ...]


def plan_scan(snapshot: PortfolioSnapshot, policy: StrategyPolicy) -> ScanPlan:
    """Value the portfolio, find breaches and harvest candidates, list the routes to quote.

    Raises:
        MissingPrice: a managed asset has no price.
        UnknownAsset: a managed asset is not described in the snapshot.
    """
    valuation = value_portfolio(snapshot, policy.targets, policy.rules)
    breaches = find_drift_breaches(valuation)
    no_trades: list[NoTrade] = []
    plans: list[RebalancePlan] = []
    blocked = blocked_buys(snapshot, policy)
    if policy.rebalance.enabled and breaches:
        mode = policy.rebalance.mode
        modes = (
            (RebalanceMode.BAND_EDGE, RebalanceMode.TARGET)
            if mode is RebalanceMode.AUTO
            else (mode,)
        )
        planned_all = plan_rebalances(snapshot, valuation, breaches, policy, modes, blocked)
        for planned in planned_all:
            if isinstance(planned, NoTrade):
                no_trades.append(planned)
            elif planned.fingerprint in snapshot.open_fingerprints:
                no_trades.append(
                    NoTrade(
                        ProposalKind.REBALANCE,
                        NoTradeReason.ALREADY_PROPOSED,
                        figures=(("fingerprint", planned.fingerprint),),
                    )
                )
            else:
                plans.append(planned)
        if plans:
            no_trades = [n for n in no_trades if n.kind is not ProposalKind.REBALANCE]
    elif policy.rebalance.enabled:
        no_trades.append(NoTrade(ProposalKind.REBALANCE, NoTradeReason.WITHIN_BANDS))
    candidates: tuple[HarvestCandidate, ...] = ()
    if policy.harvest.enabled:
        in_rebalance = frozenset(use.lot_id for plan in plans for use in plan.choice.uses)
        bought = frozenset(t.buy_asset for plan in plans for t in plan.trades)
        found, skipped = find_harvest_candidates(snapshot, valuation, policy, in_rebalance, bought)
        no_trades.extend(skipped)
        fresh: list[HarvestCandidate] = []
        for candidate in found:
            if candidate.fingerprint in snapshot.open_fingerprints:
                no_trades.append(
                    NoTrade(
                        ProposalKind.HARVEST,
                        NoTradeReason.ALREADY_PROPOSED,
                        candidate.asset,
                        candidate.wallet,
                        (("fingerprint", candidate.fingerprint),),
                    )
                )
            else:
                fresh.append(candidate)
        candidates = tuple(fresh)
    routes = dict.fromkeys(
        [t.route for plan in plans for t in plan.trades] + [c.route for c in candidates]
    )
    return ScanPlan(
        snapshot, valuation, breaches, tuple(plans), candidates, tuple(no_trades), tuple(routes)
    )


def _raw_prices(plan: ScanPlan) -> dict[Address, Decimal]:
    prices: dict[Address, Decimal] = {}
    for asset in plan.snapshot.prices:
        if asset in plan.snapshot.assets:
            prices[asset] = raw_price(plan.snapshot, asset)
    return prices


def decide_scan(
    plan: ScanPlan,
    quotes: Mapping[Route, RouteQuote | QuoteUnavailable],
    gas: GasPrice,
    policy: StrategyPolicy,
) -> ScanResult:
    """Turn a quoted plan into proposals and no-trade decisions.

    Raises:
        MissingPrice: an asset on a route has no price.
    """
    snapshot = plan.snapshot
    now = snapshot.taken_at
    prices = _raw_prices(plan)
    year = snapshot.year
    proposals: list[Proposal] = []
    no_trades = list(plan.no_trades)
    if plan.rebalance_plans:
        decided = decide_rebalance(plan.rebalance_plans, quotes, gas, prices, policy, year, now)
        if isinstance(decided, Proposal):
            proposals.append(decided)
            year = with_realised(year, decided.realised_short_usd, decided.realised_long_usd)
        else:
            no_trades.append(decided)
    # Inside a re-entry window, one scan must not buy what it sells at a loss: a harvest
    # into a substitute that an earlier decision of this scan sold at a loss, or of an
    # asset an earlier decision bought, would cancel that loss.
    windowed = policy.rules.reentry_window_days is not None
    sold_at_loss = {u.asset for p in proposals for u in p.lots if u.gain_usd < 0}
    bought = {t.buy_asset for p in proposals for t in p.trades}
    for candidate in plan.harvest_candidates:
        substitute = candidate.route.path[-1]
        if windowed and (candidate.asset in bought or substitute in sold_at_loss):
            conflict = candidate.asset if candidate.asset in bought else substitute
            no_trades.append(
                NoTrade(
                    ProposalKind.HARVEST,
                    NoTradeReason.CONFLICTS_IN_SCAN,
                    candidate.asset,
                    candidate.wallet,
                    (("conflicting_asset", conflict),),
                )
            )
            continue
        quote = quotes.get(candidate.route)
        if quote is None:
            quote = QuoteUnavailable(
                candidate.asset, candidate.route.path[1], candidate.amount_raw, "not quoted"
            )
        decided = decide_harvest(candidate, quote, gas, prices, policy, year, now)
        if isinstance(decided, Proposal):
            proposals.append(decided)
            year = with_realised(year, decided.realised_short_usd, decided.realised_long_usd)
            sold_at_loss.add(candidate.asset)
            bought.update(t.buy_asset for t in decided.trades)
        else:
            no_trades.append(decided)
    return ScanResult(plan.valuation, plan.breaches, tuple(proposals), tuple(no_trades))


async def quote_route(source: QuoteSource, route: Route) -> RouteQuote | QuoteUnavailable:
    """Quote a route leg by leg, each leg selling what the previous one delivers.

    Raises:
        Nothing: a `QuoteUnavailable` from the source is returned, not raised.
    """
    amount = route.amount_raw
    inputs: list[int] = []
    legs = []
    try:
        for sell, buy in route.legs:
            inputs.append(amount)
            leg = await source.quote(sell, buy, amount)
            legs.append(leg)
            amount = leg.amount_out_raw
    except QuoteUnavailable as error:
        return error
    return RouteQuote(route, tuple(inputs), tuple(legs))


async def fetch_quotes(
    source: QuoteSource, routes: tuple[Route, ...], max_concurrent: int
) -> dict[Route, RouteQuote | QuoteUnavailable]:
    """Quote every route, at most `max_concurrent` at a time.

    Raises:
        StrategyError: the first error other than `QuoteUnavailable` a source raised (the
            other quotes are cancelled).
    """
    limit = asyncio.Semaphore(max(1, max_concurrent))

    async def one(route: Route) -> RouteQuote | QuoteUnavailable:
        async with limit:
            return await quote_route(source, route)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {route: group.create_task(one(route)) for route in routes}
    except ExceptionGroup as failed:
        # The TaskGroup wraps what a source raised; callers expect the error itself.
        raise failed.exceptions[0] from failed
    return {route: task.result() for route, task in tasks.items()}


async def scan(
    portfolio: PortfolioSource,
    quotes: QuoteSource,
    gas: GasPriceSource,
    policy: StrategyPolicy,
    *,
    max_concurrent_quotes: int = 4,
) -> ScanResult:
    """Gather a snapshot and the gas price, plan, quote what the plan needs, decide.

    Raises:
        MissingPrice: a managed asset, or one on a route, has no price.
        UnknownAsset: a managed asset is not described in the snapshot.
        StrategyError: whatever the sources raise besides `QuoteUnavailable`.
    """
    snapshot = await portfolio.snapshot()
    gas_price = await gas.gas_price()
    plan = plan_scan(snapshot, policy)
    quoted = await fetch_quotes(quotes, plan.routes, max_concurrent_quotes)
    return decide_scan(plan, quoted, gas_price, policy)
