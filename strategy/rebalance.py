"""Tax-aware rebalancing: plan the sales that cure a drift breach with the least tax,
turn them into swaps per wallet, and decide once the swaps are quoted.

`plan_rebalances` sizes the flows (`strategy.drift.size_rebalance`), chooses the lots of
every overweight asset together with the exact least-tax optimiser
(`strategy.lotchoice`, which takes losses first and otherwise the gains that cost least
tax given the year so far), and splits each wallet's sale over the underweight assets
it buys. `decide_rebalance` prices the planned swaps with their real quotes, recomputes
the realised gains with proceeds net of costs, and in AUTO mode keeps the band-edge plan
when going to target costs more than `max_extra_cost_to_target_usd` more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from ledger.ids import Address
from strategy.drift import DriftBreach, RebalanceFlows, size_rebalance
from strategy.errors import MissingPrice, QuoteUnavailable
from strategy.lotchoice import LotChoice, LotUse, SaleRequest, choose_lots_each, summarise_uses
from strategy.policy import RebalanceMode, StrategyPolicy
from strategy.proposals import (
    NO_COSTS,
    Costs,
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
from strategy.tax import tax_effect
from strategy.valuation import Valuation
from strategy.values import ZERO, LotMethod, PortfolioSnapshot, TaxYearState, Term


@dataclass(frozen=True, slots=True)
class PlannedTrade:
    """A swap a rebalance would make, with the lot uses valued at current prices."""

    wallet: Address
    sell_asset: Address
    buy_asset: Address
    amount_raw: int
    value_usd: Decimal
    lots: tuple[LotUse, ...]

    @property
    def route(self) -> Route:
        """The route to quote."""
        return Route((self.sell_asset, self.buy_asset), self.amount_raw)


@dataclass(frozen=True, slots=True)
class RebalancePlan:
    """One way (TARGET or BAND_EDGE) of curing the breaches, before quoting."""

    mode: RebalanceMode
    breaches: tuple[DriftBreach, ...]
    flows: RebalanceFlows
    choice: LotChoice
    trades: tuple[PlannedTrade, ...]

    @property
    def fingerprint(self) -> str:
        """The fingerprint the resulting proposal will have."""
        return compute_fingerprint(
            ProposalKind.REBALANCE,
            Reentry.NONE,
            [(t.wallet, t.sell_asset, t.buy_asset, ()) for t in self.trades],
        )


def _split_uses(uses: Sequence[LotUse], amounts: Sequence[int]) -> list[tuple[LotUse, ...]]:
    """Cut an ordered list of lot uses into consecutive parts of the given raw amounts."""
    parts: list[tuple[LotUse, ...]] = []
    queue = list(uses)
    for wanted in amounts:
        part: list[LotUse] = []
        left = wanted
        while left > 0 and queue:
            use = queue[0]
            if use.amount_raw <= left:
                part.append(use)
                left -= use.amount_raw
                queue.pop(0)
            else:
                share = Decimal(left) / use.amount_raw
                part.append(
                    replace(
                        use,
                        amount_raw=left,
                        cost_usd=use.cost_usd * share,
                        proceeds_usd=use.proceeds_usd * share,
                    )
                )
                queue[0] = replace(
                    use,
                    amount_raw=use.amount_raw - left,
                    cost_usd=use.cost_usd - part[-1].cost_usd,
                    proceeds_usd=use.proceeds_usd - part[-1].proceeds_usd,
                )
                left = 0
        parts.append(tuple(part))
    return parts


def plan_rebalances(
    snapshot: PortfolioSnapshot,
    valuation: Valuation,
    breaches: tuple[DriftBreach, ...],
    policy: StrategyPolicy,
    modes: Sequence[RebalanceMode],
    blocked: frozenset[Address],
) -> list[RebalancePlan | NoTrade]:
    """Plan the least-tax rebalance that cures `breaches`, once per mode (TARGET or
    BAND_EDGE); the lots of each sold asset are sorted once for all modes.

    Raises:
        InsufficientHoldings: never in practice (sales are sized from the holdings).
    """
    sized: list[tuple[RebalanceMode, RebalanceFlows, list[SaleRequest]]] = []
    results: dict[RebalanceMode, RebalancePlan | NoTrade] = {}
    for mode in modes:
        flows = size_rebalance(valuation, breaches, mode, policy.rebalance.edge_buffer, blocked)
        if not flows.sells_usd or not flows.buys_usd:
            results[mode] = NoTrade(
                ProposalKind.REBALANCE,
                NoTradeReason.NO_BUY_CANDIDATE,
                figures=(("mode", mode.value), ("blocked_asset_count", str(len(blocked)))),
            )
            continue
        sales: list[SaleRequest] = []
        for asset, value in flows.sells_usd:
            holding = valuation.holding(asset)
            assert holding is not None  # sized from the holdings
            amount = min(int(value / holding.raw_price_usd), holding.amount_raw)
            if amount > 0:
                proceeds = amount * holding.raw_price_usd
                sales.append(SaleRequest(asset, amount, proceeds, valuation.lots_by_asset[asset]))
        sized.append((mode, flows, sales))
    choices = choose_lots_each(
        LotMethod.MIN_TAX,
        [sales for _, _, sales in sized],
        policy.rules,
        policy.rates,
        snapshot.year,
        snapshot.taken_at,
    )
    for (mode, flows, sales), choice in zip(sized, choices, strict=True):
        results[mode] = _plan_trades(snapshot, breaches, policy, mode, flows, sales, choice)
    return [results[mode] for mode in modes]


def _plan_trades(
    snapshot: PortfolioSnapshot,
    breaches: tuple[DriftBreach, ...],
    policy: StrategyPolicy,
    mode: RebalanceMode,
    flows: RebalanceFlows,
    sales: list[SaleRequest],
    choice: LotChoice,
) -> RebalancePlan | NoTrade:
    # Each (wallet, asset) sale is spread over the buys in order (north-west corner).
    total_buy = sum((v for _, v in flows.buys_usd), ZERO)
    total_sell = sum((s.proceeds_usd for s in sales), ZERO)
    scale = total_sell / total_buy if total_buy > 0 else ZERO
    buy_assets = [asset for asset, _ in flows.buys_usd]
    buy_room = [value * scale for _, value in flows.buys_usd]
    trades: list[PlannedTrade] = []
    dropped = False
    by_sale: dict[tuple[Address, Address], list[LotUse]] = {}
    for use in choice.uses:
        by_sale.setdefault((use.asset, use.wallet), []).append(use)
    buy_index = 0
    for (asset, wallet), uses in sorted(by_sale.items()):
        amount = sum(u.amount_raw for u in uses)
        value = sum((u.proceeds_usd for u in uses), ZERO)
        pieces: list[tuple[Address, int]] = []
        value_left = value
        amount_left = amount
        while amount_left > 0 and buy_index < len(buy_assets):
            room = buy_room[buy_index]
            take = min(room, value_left)
            is_last = take >= value_left or buy_index == len(buy_assets) - 1
            piece = amount_left if is_last else min(amount_left, int(amount * take / value))
            pieces.append((buy_assets[buy_index], piece))
            amount_left -= piece
            value_left -= take
            buy_room[buy_index] = room - take
            if room - take <= 0:
                buy_index += 1
            if is_last:
                break
        parts = _split_uses(uses, [p[1] for p in pieces])
        for (buy_asset, piece), part in zip(pieces, parts, strict=True):
            piece_value = sum((u.proceeds_usd for u in part), ZERO)
            if piece > 0 and piece_value >= policy.rebalance.min_trade_usd:
                trades.append(PlannedTrade(wallet, asset, buy_asset, piece, piece_value, part))
            elif piece > 0:
                dropped = True
    if not trades:
        return NoTrade(
            ProposalKind.REBALANCE,
            NoTradeReason.TRADES_TOO_SMALL,
            figures=(
                ("mode", mode.value),
                usd_figure("min_trade_usd", policy.rebalance.min_trade_usd),
            ),
        )
    if dropped:  # small trades were left out: the choice realises less
        kept = tuple(use for t in trades for use in t.lots)
        choice = summarise_uses(LotMethod.MIN_TAX, kept, policy.rates, snapshot.year)
    return RebalancePlan(mode, breaches, flows, choice, tuple(trades))


@dataclass(frozen=True, slots=True)
class _Quoted:
    """A plan with its quotes: costs and (from per-trade sums) the tax it would cause."""

    plan: RebalancePlan
    quotes: tuple[RouteQuote, ...]
    factors: tuple[Decimal, ...]
    """Per trade: quoted net proceeds over the mid-price proceeds the lots were valued at."""
    costs: Costs
    tax_effect_usd: Decimal


def _quote_plan(
    plan: RebalancePlan,
    quotes: Mapping[Route, RouteQuote | QuoteUnavailable],
    gas: GasPrice,
    raw_prices: Mapping[Address, Decimal],
    policy: StrategyPolicy,
    year: TaxYearState,
) -> _Quoted | NoTrade:
    found: list[RouteQuote] = []
    factors: list[Decimal] = []
    costs = NO_COSTS
    short = long = ZERO
    for planned in plan.trades:
        quote = quotes.get(planned.route)
        if quote is None or isinstance(quote, QuoteUnavailable):
            reason = "not quoted" if quote is None else quote.reason
            return NoTrade(
                ProposalKind.REBALANCE,
                NoTradeReason.QUOTE_UNAVAILABLE,
                planned.sell_asset,
                planned.wallet,
                (("quote_error", reason), ("buy_asset", planned.buy_asset)),
            )
        leg_costs = route_costs(quote, raw_prices, gas)
        costs = costs + leg_costs.total
        buy_price = raw_prices.get(planned.buy_asset)
        if buy_price is None:
            raise MissingPrice(planned.buy_asset)
        net = quote.amount_out_raw * buy_price - leg_costs.first_leg_gas_usd
        factor = net / planned.value_usd if planned.value_usd else ZERO
        # Sums per term first, then one scaling: no value per lot is built here.
        proceeds_short = cost_short = proceeds_long = cost_long = ZERO
        for use in planned.lots:
            if use.term is None or use.term is Term.SHORT:
                proceeds_short += use.proceeds_usd
                cost_short += use.cost_usd
            elif use.term is Term.LONG:
                proceeds_long += use.proceeds_usd
                cost_long += use.cost_usd
        short += proceeds_short * factor - cost_short
        long += proceeds_long * factor - cost_long
        found.append(quote)
        factors.append(factor)
    return _Quoted(
        plan, tuple(found), tuple(factors), costs, tax_effect(policy.rates, year, short, long)
    )


def _ratio(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001")))


def _propose(
    quoted: _Quoted, policy: StrategyPolicy, year: TaxYearState, now: datetime
) -> Proposal:
    trades: list[Trade] = []
    uses: list[LotUse] = []
    for planned, quote, factor in zip(
        quoted.plan.trades, quoted.quotes, quoted.factors, strict=True
    ):
        priced = tuple(
            LotUse(
                u.lot_id,
                u.wallet,
                u.asset,
                u.amount_raw,
                u.cost_usd,
                u.proceeds_usd * factor,
                u.term,
            )
            for u in planned.lots
        )
        uses.extend(priced)
        trades.append(
            Trade(
                planned.wallet,
                planned.sell_asset,
                planned.buy_asset,
                planned.amount_raw,
                quote.amount_out_raw,
                priced,
            )
        )
    choice = summarise_uses(LotMethod.MIN_TAX, uses, policy.rates, year)
    figures = [("mode", quoted.plan.mode.value), ("breach_count", str(len(quoted.plan.breaches)))]
    for index, breach in enumerate(quoted.plan.breaches):
        figures.append((f"breach_{index}_asset", breach.asset))
        figures.append((f"breach_{index}_side", breach.side.value))
        figures.append((f"breach_{index}_weight_ratio", _ratio(breach.weight)))
        figures.append((f"breach_{index}_target_ratio", _ratio(breach.target_weight)))
    return Proposal(
        kind=ProposalKind.REBALANCE,
        reason=ProposalReason.DRIFT_BREACH,
        reentry=Reentry.NONE,
        trades=tuple(trades),
        realised_short_usd=choice.short_usd,
        realised_long_usd=choice.long_usd,
        realised_exempt_usd=choice.exempt_usd,
        tax_effect_usd=choice.tax_effect_usd,
        costs=quoted.costs,
        created_at=now,
        figures=tuple(figures),
    )


def decide_rebalance(
    plans: Sequence[RebalancePlan],
    quotes: Mapping[Route, RouteQuote | QuoteUnavailable],
    gas: GasPrice,
    raw_prices: Mapping[Address, Decimal],
    policy: StrategyPolicy,
    year: TaxYearState,
    now: datetime,
) -> Proposal | NoTrade:
    """The rebalance to propose among `plans` (one per mode; two in AUTO), once quoted.

    Raises:
        MissingPrice: an asset on a route has no price in `raw_prices`.
    """
    quoted = [_quote_plan(p, quotes, gas, raw_prices, policy, year) for p in plans]
    usable = {q.plan.mode: q for q in quoted if isinstance(q, _Quoted)}
    if not usable:
        failure = quoted[0]
        assert isinstance(failure, NoTrade)
        return failure
    target = usable.get(RebalanceMode.TARGET)
    edge = usable.get(RebalanceMode.BAND_EDGE)
    if target is None or edge is None:
        return _propose(next(iter(usable.values())), policy, year, now)
    extra = (target.tax_effect_usd + target.costs.total_usd) - (
        edge.tax_effect_usd + edge.costs.total_usd
    )
    chosen = edge if extra > policy.rebalance.max_extra_cost_to_target_usd else target
    proposal = _propose(chosen, policy, year, now)
    return replace(
        proposal,
        figures=(*proposal.figures, usd_figure("extra_cost_to_target_usd", extra)),
    )
