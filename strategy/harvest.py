"""The harvest scan: which unrealised losses are worth realising now, and where the
proceeds go.

Two pure steps around the quoting:

1. `find_harvest_candidates`: per (wallet, asset), the lots a harvest would sell (the
   losing lots where lots may be chosen; the FIFO prefix with the deepest loss under de;
   the wallet's whole holding where assets are pooled), the route (A -> cash -> A where
   the jurisdiction allows re-entry into the same asset, else A -> configured
   substitute), and `NoTrade`s for groups the rules rule out: a loss under the minimum,
   a purchase of the same asset inside the prior-purchase window (us wash sale, ca
   superficial loss) or on the same day (uk), no substitute, a substitute that is
   itself inside a re-entry window.
2. `decide_harvest`: with the route's real quote and the gas price, the expected
   realised loss (proceeds net of fees, price impact and the sale's gas), its tax effect
   given the year so far, the full cost, and the verdict: harvest only when
   saving >= cost x (1 + margin_ratio) + margin_usd.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ledger.ids import Address
from strategy.errors import MissingPrice, QuoteUnavailable
from strategy.lotchoice import SaleRequest, sell_whole_lots
from strategy.policy import StrategyPolicy
from strategy.proposals import (
    NoTrade,
    NoTradeReason,
    Proposal,
    ProposalKind,
    ProposalReason,
    Reentry,
    Trade,
    compute_fingerprint,
    usd_figure,
)
from strategy.quotes import GasPrice, Route, RouteQuote, route_costs
from strategy.valuation import Valuation
from strategy.values import (
    ZERO,
    LotId,
    LotOrder,
    OpenLot,
    PortfolioSnapshot,
    TaxYearState,
    Term,
)


@dataclass(frozen=True, slots=True)
class HarvestCandidate:
    """A group of losing lots in one wallet that a harvest would sell, and its route."""

    wallet: Address
    asset: Address
    lots: tuple[OpenLot, ...]
    amount_raw: int
    loss_usd: Decimal
    """Unrealised loss at the current price before costs (positive)."""
    reentry: Reentry
    route: Route
    pool_unit_cost_usd: Decimal | None = None
    """Where assets are pooled (uk, ca): the pool's average cost per raw unit, owner-wide."""

    @property
    def fingerprint(self) -> str:
        """The fingerprint the resulting proposal will have."""
        lot_ids = [lot.lot_id for lot in self.lots]
        return compute_fingerprint(
            ProposalKind.HARVEST,
            self.reentry,
            [
                (self.wallet, sell, buy, lot_ids if index == 0 else [])
                for index, (sell, buy) in enumerate(self.route.legs)
            ],
        )


def _select_lots(
    group: list[tuple[OpenLot, Decimal]], order: LotOrder
) -> list[tuple[OpenLot, Decimal]]:
    """The lots of one (wallet, asset) a harvest would sell where the law fixes the order:
    the whole holding for a pool, the FIFO prefix with the deepest taxable loss."""
    if order is LotOrder.POOLED:
        return group if sum((gain for _, gain in group), ZERO) < 0 else []
    ordered = sorted(group, key=lambda pair: (pair[0].acquired_at, pair[0].lot_id))
    running = ZERO
    best = ZERO
    best_len = 0
    for index, (_, gain) in enumerate(ordered):
        running += gain
        if running < best:
            best, best_len = running, index + 1
    return ordered[:best_len]


def _recent_purchases(
    snapshot: PortfolioSnapshot, valuation: Valuation, since: datetime
) -> dict[Address, list[tuple[datetime, LotId | None]]]:
    """Acquisitions at or after `since`, per asset: open lots and closed ones alike."""
    recent: dict[Address, list[tuple[datetime, LotId | None]]] = {}
    for asset, lots in valuation.lots_by_asset.items():
        for lot in lots:
            if lot.acquired_at >= since:
                recent.setdefault(asset, []).append((lot.acquired_at, lot.lot_id))
    for acq in snapshot.recent_acquisitions:
        if acq.acquired_at >= since:
            recent.setdefault(acq.asset, []).append((acq.acquired_at, acq.lot_id))
    return recent


def _last_purchase(
    recent: dict[Address, list[tuple[datetime, LotId | None]]],
    asset: Address,
    exclude: frozenset[LotId],
) -> datetime | None:
    """The latest recent acquisition of `asset` other than the lots in `exclude`."""
    times = [at for at, lot_id in recent.get(asset, ()) if lot_id is None or lot_id not in exclude]
    return max(times) if times else None


def blocked_buys(snapshot: PortfolioSnapshot, policy: StrategyPolicy) -> frozenset[Address]:
    """Assets that may not be bought now: a recent loss on them would be cancelled.

    Raises:
        Nothing.
    """
    days = policy.rules.reentry_window_days
    if days is None:
        return frozenset()
    since = snapshot.window_start(days)
    return frozenset(d.asset for d in snapshot.recent_loss_disposals if d.disposed_at >= since)


def find_harvest_candidates(
    snapshot: PortfolioSnapshot,
    valuation: Valuation,
    policy: StrategyPolicy,
    excluded_lots: frozenset[LotId] = frozenset(),
    bought_assets: frozenset[Address] = frozenset(),
) -> tuple[tuple[HarvestCandidate, ...], tuple[NoTrade, ...]]:
    """Harvest candidates, deepest loss first, and why other losing groups are not.

    `excluded_lots` are left alone (a rebalance sells them); `bought_assets` are being
    bought in the same scan, which would cancel a loss on them inside a re-entry window.

    Raises:
        Nothing.
    """
    rules = policy.rules
    harvest = policy.harvest
    # (wallet, asset) -> [(lot, taxable unrealised gain)], only losing lots where lots may
    # be chosen (a cheap test per lot; no value is built for the others).
    groups: dict[tuple[Address, Address], list[tuple[OpenLot, Decimal]]] = {}
    choice = rules.lot_order is LotOrder.CHOICE
    pooled = rules.lot_order is LotOrder.POOLED
    pool_cost: dict[Address, Decimal] = {}
    cutoff = valuation.long_term_cutoff
    exempt_before = cutoff if valuation.long_term is Term.EXEMPT else None
    for asset, lots in sorted(valuation.lots_by_asset.items()):
        if asset == harvest.cash_asset:
            continue
        holding = valuation.by_asset[asset]
        price = holding.raw_price_usd
        if pooled:
            # One pool per asset across all wallets: every lot costs the pool's average.
            unit_cost = holding.cost_usd / holding.amount_raw if holding.amount_raw else ZERO
            pool_cost[asset] = unit_cost
            pairs = [(lot, lot.amount_raw * (price - unit_cost)) for lot in lots]
        elif choice:
            pairs = [
                (lot, value - lot.cost_usd)
                for lot in lots
                if (value := lot.amount_raw * price) < lot.cost_usd
            ]
        else:
            pairs = [(lot, lot.amount_raw * price - lot.cost_usd) for lot in lots]
        for lot, gain in pairs:
            if excluded_lots and lot.lot_id in excluded_lots:
                continue
            if exempt_before is not None and lot.holding_period_start < exempt_before:
                if choice:
                    continue
                gain = ZERO  # sold with the rest under FIFO, but tax free
            key = (lot.wallet, asset)
            group = groups.get(key)
            if group is None:
                group = groups[key] = []
            group.append((lot, gain))
    prior_days = rules.prior_purchase_window_days
    prior = (
        _recent_purchases(snapshot, valuation, snapshot.window_start(prior_days))
        if prior_days is not None
        else {}
    )
    day_start = snapshot.taken_at.replace(hour=0, minute=0, second=0, microsecond=0)
    same_day = _recent_purchases(snapshot, valuation, day_start) if rules.same_day_rule else {}
    blocked = blocked_buys(snapshot, policy)
    candidates: list[HarvestCandidate] = []
    skipped: list[NoTrade] = []
    for (wallet, asset), group in sorted(groups.items()):
        chosen = group if choice else _select_lots(group, rules.lot_order)
        if not chosen:
            continue
        loss = -sum((gain for _, gain in chosen), ZERO)
        if loss <= 0:
            continue

        def skip(
            reason: NoTradeReason,
            *figures: tuple[str, str],
            a: Address = asset,
            w: Address = wallet,
        ) -> None:
            skipped.append(NoTrade(ProposalKind.HARVEST, reason, a, w, figures))

        if loss < harvest.min_loss_usd:
            skip(
                NoTradeReason.LOSS_BELOW_MINIMUM,
                usd_figure("loss_usd", loss),
                usd_figure("min_loss_usd", harvest.min_loss_usd),
            )
            continue
        if asset in bought_assets and rules.reentry_window_days is not None:
            skip(NoTradeReason.REBALANCE_BUYS_ASSET, usd_figure("loss_usd", loss))
            continue
        ids = frozenset(lot.lot_id for lot, _ in chosen)
        if prior_days is not None:
            last = _last_purchase(prior, asset, ids)
            if last is not None:
                skip(
                    NoTradeReason.PRIOR_PURCHASE_IN_WINDOW,
                    ("last_purchase_at", last.isoformat()),
                    ("window_days", str(prior_days)),
                )
                continue
        if rules.same_day_rule:
            last = _last_purchase(same_day, asset, ids)
            if last is not None:
                skip(NoTradeReason.SAME_DAY_PURCHASE, ("last_purchase_at", last.isoformat()))
                continue
        amount = sum(lot.amount_raw for lot, _ in chosen)
        if rules.allows_same_asset_reentry:
            reentry = Reentry.SAME_ASSET
            path: tuple[Address, ...] = (asset, harvest.cash_asset, asset)
        else:
            substitute = harvest.substitutes.get(asset)
            if substitute is None:
                skip(NoTradeReason.NO_SUBSTITUTE, usd_figure("loss_usd", loss))
                continue
            if substitute in blocked:
                skip(NoTradeReason.SUBSTITUTE_IN_WINDOW, ("substitute", substitute))
                continue
            reentry = Reentry.SUBSTITUTE
            path = (asset, substitute)
        candidates.append(
            HarvestCandidate(
                wallet,
                asset,
                tuple(lot for lot, _ in chosen),
                amount,
                loss,
                reentry,
                Route(path, amount),
                pool_cost.get(asset),
            )
        )
    candidates.sort(key=lambda c: (-c.loss_usd, c.wallet, c.asset))
    return tuple(candidates), tuple(skipped)


def decide_harvest(
    candidate: HarvestCandidate,
    quote: RouteQuote | QuoteUnavailable,
    gas: GasPrice,
    raw_prices: Mapping[Address, Decimal],
    policy: StrategyPolicy,
    year: TaxYearState,
    now: datetime,
) -> Proposal | NoTrade:
    """Harvest `candidate` if the tax it saves this year beats its full cost by the margin.

    Raises:
        MissingPrice: an asset on the route has no price in `raw_prices`.
    """
    wallet, asset = candidate.wallet, candidate.asset
    if isinstance(quote, QuoteUnavailable):
        return NoTrade(
            ProposalKind.HARVEST,
            NoTradeReason.QUOTE_UNAVAILABLE,
            asset,
            wallet,
            (("quote_error", quote.reason),),
        )
    costs = route_costs(quote, raw_prices, gas)
    first_buy = candidate.route.path[1]
    first_out = quote.legs[0].amount_out_raw
    buy_price = raw_prices.get(first_buy)
    if buy_price is None:
        raise MissingPrice(first_buy)
    proceeds = first_out * buy_price - costs.first_leg_gas_usd
    sale = SaleRequest(asset, candidate.amount_raw, proceeds, candidate.lots)
    choice = sell_whole_lots(
        sale, policy.rules, policy.rates, year, now, candidate.pool_unit_cost_usd
    )
    saving = -choice.tax_effect_usd
    required = costs.total.total_usd * (1 + policy.harvest.margin_ratio) + policy.harvest.margin_usd
    figures = (
        usd_figure("loss_usd", candidate.loss_usd),
        usd_figure("saving_usd", saving),
        usd_figure("costs_usd", costs.total.total_usd),
        usd_figure("required_saving_usd", required),
    )
    if saving < required or saving <= 0:
        return NoTrade(
            ProposalKind.HARVEST, NoTradeReason.SAVING_BELOW_COST, asset, wallet, figures
        )
    trades = [
        Trade(wallet, asset, first_buy, candidate.amount_raw, first_out, choice.uses),
    ]
    if len(quote.legs) > 1:
        trades.append(Trade(wallet, first_buy, asset, first_out, quote.amount_out_raw, ()))
    return Proposal(
        kind=ProposalKind.HARVEST,
        reason=ProposalReason.LOSS_HARVEST,
        reentry=candidate.reentry,
        trades=tuple(trades),
        realised_short_usd=choice.short_usd,
        realised_long_usd=choice.long_usd,
        realised_exempt_usd=choice.exempt_usd,
        tax_effect_usd=choice.tax_effect_usd,
        costs=costs.total,
        created_at=now,
        figures=figures,
    )
