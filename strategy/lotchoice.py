"""Tax-aware lot choice: which lots a set of sales should use, by FIFO, HIFO or least tax.

`choose_lots(method, sales, rules, rates, year, sold_at)` returns a `LotChoice`: the
pieces of lots each sale uses and the realised gain by term and its tax effect. Where
the jurisdiction fixes the order (de FIFO, uk/ca pooled average cost) that order is used
whatever `method` says.

The least-tax method (`LotMethod.MIN_TAX`) is an exact optimisation, not a sort order.
The sales' amounts are fixed; lots are divisible. The year's tax depends only on the net
short-term figure S and long-term figure L (`strategy.tax`), and it is non-decreasing
in both. So:

1. Within each term, a sale should use its lowest-gain units first: for a sale of q units
   with k of them short-term, the best S is the sum of the k lowest short-term unit gains
   and the best L the sum of the q - k lowest long-term unit gains. Only the split k per
   asset is left to choose.
2. The reachable (S, L) points form a convex polygon (a Minkowski sum over the assets);
   as the tax is monotone the optimum lies on its lower-left boundary. Each asset's part
   of that boundary is the path k_a -> k_b, between the split that minimises S and the
   split that minimises L, in straight pieces that each swap one short-term lot against
   one long-term lot. Sorting all pieces of all assets by slope walks the boundary of
   the sum.
3. The tax is linear between the lines S = 0, L = 0, S + L = 0 and S + L = -limit, so
   evaluating it at each vertex and at each crossing of those lines finds the exact
   minimum. Splits are rounded down to whole raw units at the end.

Cost: O(n log n) in the number of lots, Decimal arithmetic, pure Python.
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import accumulate

from ledger.ids import Address
from strategy.errors import InsufficientHoldings
from strategy.tax import tax_effect, tax_for_year
from strategy.values import (
    ZERO,
    JurisdictionRules,
    LotId,
    LotMethod,
    LotOrder,
    OpenLot,
    TaxRates,
    TaxYearState,
    Term,
    long_term_cutoff,
    term_before,
)


@dataclass(frozen=True, slots=True)
class SaleRequest:
    """Sell `amount_raw` of `asset` for `proceeds_usd` in all, from `lots` (that asset's)."""

    asset: Address
    amount_raw: int
    proceeds_usd: Decimal
    lots: tuple[OpenLot, ...]


@dataclass(frozen=True, slots=True)
class LotUse:
    """The part of one lot a sale uses, with its share of cost and proceeds."""

    lot_id: LotId
    wallet: Address
    asset: Address
    amount_raw: int
    cost_usd: Decimal
    proceeds_usd: Decimal
    term: Term | None
    """None where the jurisdiction has no terms."""

    @property
    def gain_usd(self) -> Decimal:
        """Realised gain (negative: a loss) of this piece."""
        return self.proceeds_usd - self.cost_usd


@dataclass(frozen=True, slots=True)
class LotChoice:
    """The lots a set of sales uses, what they realise by term, and the tax effect."""

    method: LotMethod
    uses: tuple[LotUse, ...]
    short_usd: Decimal
    """Realised short-term (or term-less) gain, negative for a loss."""
    long_usd: Decimal
    exempt_usd: Decimal
    """Realised gain that is tax free (de long-term)."""
    tax_effect_usd: Decimal
    """Change in the year's tax (negative: saved)."""


def choose_lots(
    method: LotMethod,
    sales: Sequence[SaleRequest],
    rules: JurisdictionRules,
    rates: TaxRates,
    year: TaxYearState,
    sold_at: datetime,
) -> LotChoice:
    """Pick the lots for `sales` (one per asset) and report what they would realise.

    Raises:
        InsufficientHoldings: a sale wants more than its lots hold.
    """
    return choose_lots_each(method, [sales], rules, rates, year, sold_at)[0]


def choose_lots_each(
    method: LotMethod,
    sale_sets: Sequence[Sequence[SaleRequest]],
    rules: JurisdictionRules,
    rates: TaxRates,
    year: TaxYearState,
    sold_at: datetime,
) -> tuple[LotChoice, ...]:
    """`choose_lots` for several alternative sets of sales over the same lots (a
    rebalance to the band's edge and to target), sorting each asset's lots only once.

    Raises:
        InsufficientHoldings: a sale wants more than its lots hold.
    """
    if rules.lot_order is LotOrder.FIFO:
        method = LotMethod.FIFO
    held: dict[int, int] = {}  # by id(sale.lots): alternative sales share their lots
    for sales in sale_sets:
        for sale in sales:
            key = id(sale.lots)
            if key not in held:
                held[key] = sum(lot.amount_raw for lot in sale.lots)
            if held[key] < sale.amount_raw:
                raise InsufficientHoldings(sale.asset, sale.amount_raw, held[key])
    prepared: dict[tuple[Address, Decimal], tuple[_Side, _Side]] = {}
    choices: list[LotChoice] = []
    for sales in sale_sets:
        uses: list[LotUse] = []
        if rules.lot_order is LotOrder.POOLED:
            for sale in sales:
                uses.extend(_pooled_uses(sale))
        elif method is LotMethod.MIN_TAX:
            uses.extend(_min_tax_uses(sales, rules, rates, year, sold_at, prepared, held))
        else:
            for sale in sales:
                uses.extend(_ordered_uses(sale, method, rules, sold_at))
        choices.append(summarise_uses(method, uses, rates, year))
    return tuple(choices)


def sell_whole_lots(
    sale: SaleRequest,
    rules: JurisdictionRules,
    rates: TaxRates,
    year: TaxYearState,
    sold_at: datetime,
    pool_unit_cost_usd: Decimal | None = None,
) -> LotChoice:
    """A sale of every one of `sale.lots` in full (a harvest): no choice to make, one pass.

    With `pool_unit_cost_usd` (uk, ca) each piece costs the pool's average instead of its
    own lot's cost.

    Raises:
        InsufficientHoldings: `sale.amount_raw` is not what the lots hold.
    """
    held = sum(lot.amount_raw for lot in sale.lots)
    if held != sale.amount_raw:
        raise InsufficientHoldings(sale.asset, sale.amount_raw, held)
    cutoff = long_term_cutoff(rules, sold_at)
    long_term = Term.EXEMPT if rules.long_term_exempt else Term.LONG
    uses = _whole_uses(sale, cutoff, long_term)
    if pool_unit_cost_usd is not None:
        uses = [
            LotUse(
                u.lot_id,
                u.wallet,
                u.asset,
                u.amount_raw,
                u.amount_raw * pool_unit_cost_usd,
                u.proceeds_usd,
                None,
            )
            for u in uses
        ]
    short = long = exempt = ZERO
    for use in uses:
        gain = use.proceeds_usd - use.cost_usd
        if use.term is None or use.term is Term.SHORT:
            short += gain
        elif use.term is Term.LONG:
            long += gain
        else:
            exempt += gain
    method = LotMethod.FIFO if rules.lot_order is LotOrder.FIFO else LotMethod.MIN_TAX
    return LotChoice(method, tuple(uses), short, long, exempt, tax_effect(rates, year, short, long))


def summarise_uses(
    method: LotMethod, uses: Sequence[LotUse], rates: TaxRates, year: TaxYearState
) -> LotChoice:
    """Total realised gains by term and the tax effect of a list of lot uses.

    Raises:
        Nothing.
    """
    short = ZERO
    long = ZERO
    exempt = ZERO
    for use in uses:
        if use.term is None or use.term is Term.SHORT:
            short += use.gain_usd
        elif use.term is Term.LONG:
            long += use.gain_usd
        else:
            exempt += use.gain_usd
    return LotChoice(
        method=method,
        uses=tuple(uses),
        short_usd=short,
        long_usd=long,
        exempt_usd=exempt,
        tax_effect_usd=tax_effect(rates, year, short, long),
    )


def _use(lot: OpenLot, amount_raw: int, sale: SaleRequest, term: Term | None) -> LotUse:
    cost = (
        lot.cost_usd if amount_raw == lot.amount_raw else lot.cost_usd * amount_raw / lot.amount_raw
    )
    proceeds = (
        sale.proceeds_usd
        if amount_raw == sale.amount_raw
        else sale.proceeds_usd * amount_raw / sale.amount_raw
    )
    return LotUse(lot.lot_id, lot.wallet, lot.asset, amount_raw, cost, proceeds, term)


def _take(
    ordered: Sequence[OpenLot], amount_raw: int, sale: SaleRequest, terms: dict[LotId, Term | None]
) -> list[LotUse]:
    uses: list[LotUse] = []
    left = amount_raw
    for lot in ordered:
        if left <= 0:
            break
        piece = min(left, lot.amount_raw)
        if piece > 0:
            uses.append(_use(lot, piece, sale, terms[lot.lot_id]))
            left -= piece
    return uses


def _ordered_uses(
    sale: SaleRequest, method: LotMethod, rules: JurisdictionRules, sold_at: datetime
) -> list[LotUse]:
    cutoff = long_term_cutoff(rules, sold_at)
    terms = {lot.lot_id: term_before(cutoff, rules, lot.holding_period_start) for lot in sale.lots}
    if method is LotMethod.HIFO:
        ordered = sorted(
            sale.lots, key=lambda lot: (-(lot.cost_usd / lot.amount_raw), lot.acquired_at)
        )
    else:
        ordered = sorted(sale.lots, key=lambda lot: (lot.acquired_at, lot.lot_id))
    return _take(ordered, sale.amount_raw, sale, terms)


def _pooled_uses(sale: SaleRequest) -> list[LotUse]:
    """A pooled disposal draws on every lot pro rata, i.e. at the pool's average cost."""
    held = sum(lot.amount_raw for lot in sale.lots)
    uses: list[LotUse] = []
    left = sale.amount_raw
    lots = [lot for lot in sale.lots if lot.amount_raw > 0]
    for position, lot in enumerate(lots):
        piece = left if position == len(lots) - 1 else sale.amount_raw * lot.amount_raw // held
        piece = min(piece, lot.amount_raw, left)
        if piece > 0:
            uses.append(_use(lot, piece, sale, None))
            left -= piece
    return uses


@dataclass(frozen=True, slots=True)
class _Side:
    """One term's lots of one asset, lowest gain per raw unit first, with running sums."""

    lots: list[OpenLot]
    terms: list[Term | None]
    gains: list[Decimal]
    """Gain per raw unit as the tax sees it (0 for a tax-free lot)."""
    cum: list[int]
    """cum[i]: raw units in lots[:i]."""
    cum_gain: list[Decimal]
    """cum_gain[i]: gain of lots[:i] sold whole."""
    negative_raw: int
    """Raw units at a loss (they come first)."""

    def gain_of_first(self, amount_raw: int) -> Decimal:
        """The gain of the `amount_raw` lowest-gain units."""
        if amount_raw <= 0:
            return ZERO
        i = _lot_at(self.cum, amount_raw, upward=False)
        return self.cum_gain[i] + (amount_raw - self.cum[i]) * self.gains[i]


def _side(entries: list[tuple[Decimal, Decimal, int, OpenLot, Term | None]]) -> _Side:
    entries.sort()  # (gain, gain, seq, ...): seq is unique, lots are never compared
    lots = [e[3] for e in entries]
    gains = [e[0] for e in entries]
    amounts = [lot.amount_raw for lot in lots]
    cum = [0, *accumulate(amounts)]
    cum_gain = [ZERO, *accumulate(map(operator.mul, amounts, gains))]
    negative = cum[bisect_left(gains, ZERO)]  # gains ascend: the losses come first
    return _Side(lots, [e[4] for e in entries], gains, cum, cum_gain, negative)


_EMPTY = _Side([], [], [], [0], [ZERO], 0)


def _prepare(
    sale: SaleRequest, unit_proceeds: Decimal, cutoff: datetime | None, long_term: Term
) -> tuple[_Side, _Side]:
    short: list[tuple[Decimal, Decimal, int, OpenLot, Term | None]] = []
    long: list[tuple[Decimal, Decimal, int, OpenLot, Term | None]] = []
    for seq, lot in enumerate(sale.lots):
        if lot.amount_raw <= 0:
            continue
        gain = unit_proceeds - lot.cost_usd / lot.amount_raw
        if cutoff is None:
            short.append((gain, gain, seq, lot, None))
        elif lot.holding_period_start < cutoff:
            walk = ZERO if long_term is Term.EXEMPT else gain
            long.append((walk, gain, seq, lot, long_term))
        else:
            short.append((gain, gain, seq, lot, Term.SHORT))
    return _side(short), _side(long)


# A straight piece of an asset's boundary path:
# (slope key, sale index, sequence, signed change of k in raw units, d_short, d_long).
_Piece = tuple[Decimal, int, int, int, Decimal, Decimal]


def _boundary_pieces(
    sale_index: int, short: _Side, long: _Side, q: int, k_a: int, k_b: int
) -> list[_Piece]:
    """The pieces of one asset's boundary path from split k_a to split k_b."""
    pieces: list[_Piece] = []
    cum_s, cum_l = short.cum, long.cum
    k = k_a
    if k_a < k_b:
        # Add short-term units above k, drop long-term units below q - k.
        i = _lot_at(cum_s, k, upward=True)
        j = _lot_at(cum_l, q - k, upward=False)
        while k < k_b:
            d = min(cum_s[i + 1] - k, (q - k) - cum_l[j], k_b - k)
            g_s, g_l = short.gains[i], long.gains[j]
            if g_s + g_l:  # per unit: (g_s, -g_l); slope key g_s / (g_s + g_l)
                pieces.append((g_s / (g_s + g_l), sale_index, len(pieces), d, d * g_s, -d * g_l))
            k += d
            if k == cum_s[i + 1]:
                i += 1
            if q - k == cum_l[j]:
                j -= 1
    elif k_a > k_b:
        # Give back short-term loss units below k, take long-term loss units above q - k.
        i = _lot_at(cum_s, k, upward=False)
        j = _lot_at(cum_l, q - k, upward=True)
        while k > k_b:
            d = min(k - cum_s[i], cum_l[j + 1] - (q - k), k - k_b)
            g_s, g_l = short.gains[i], long.gains[j]
            if g_s + g_l:  # per unit: (-g_s, g_l), both losses; key -g_s / (-g_s - g_l)
                pieces.append((g_s / (g_s + g_l), sale_index, len(pieces), -d, -d * g_s, d * g_l))
            k -= d
            if k == cum_s[i]:
                i -= 1
            if q - k == cum_l[j + 1]:
                j += 1
    return pieces


def _lot_at(cum: Sequence[int], position: int, *, upward: bool) -> int:
    """Index of the lot holding unit `position + 1` (upward) or unit `position` (downward)."""
    lo, hi = 0, len(cum) - 2
    while lo < hi:
        mid = (lo + hi) // 2
        if (cum[mid + 1] <= position) if upward else (cum[mid + 1] < position):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _crossings(
    s: Decimal, lg: Decimal, ds: Decimal, dl: Decimal, loss_limit: Decimal
) -> list[Decimal]:
    """Fractions t in (0, 1) where (s, lg) + t (ds, dl) crosses a line where the tax bends."""
    found: list[Decimal] = []
    if ds != 0 and (s < 0) != (s + ds < 0):
        found.append(-s / ds)
    if dl != 0 and (lg < 0) != (lg + dl < 0):
        found.append(-lg / dl)
    dn = ds + dl
    if dn != 0:
        n = s + lg
        for line in (ZERO, -loss_limit):
            if (n < line) != (n + dn < line):
                found.append((line - n) / dn)
    return [t for t in found if 0 < t < 1]


def _min_tax_uses(
    sales: Sequence[SaleRequest],
    rules: JurisdictionRules,
    rates: TaxRates,
    year: TaxYearState,
    sold_at: datetime,
    prepared: dict[tuple[Address, Decimal], tuple[_Side, _Side]],
    held: dict[int, int],
) -> list[LotUse]:
    sides: list[tuple[_Side, _Side]] = []
    splits: list[int] = []
    pieces: list[_Piece] = []
    s = year.base_short_usd
    lg = year.base_long_usd
    cutoff = long_term_cutoff(rules, sold_at)
    long_term = Term.EXEMPT if rules.long_term_exempt else Term.LONG
    whole: dict[int, list[LotUse]] = {}
    for index, sale in enumerate(sales):
        if sale.amount_raw == held[id(sale.lots)]:
            # Everything is sold (a harvest): no choice to make.
            whole[index] = _whole_uses(sale, cutoff, long_term)
            for use in whole[index]:
                if use.term is None or use.term is Term.SHORT:
                    s += use.gain_usd
                elif use.term is Term.LONG:
                    lg += use.gain_usd
            sides.append((_EMPTY, _EMPTY))
            splits.append(0)
            continue
        unit_proceeds = sale.proceeds_usd / sale.amount_raw if sale.amount_raw else ZERO
        key = (sale.asset, unit_proceeds)
        if key not in prepared:
            prepared[key] = _prepare(sale, unit_proceeds, cutoff, long_term)
        short, long = prepared[key]
        q = sale.amount_raw
        k_lo = max(0, q - long.cum[-1])
        k_hi = min(q, short.cum[-1])
        k_a = min(max(short.negative_raw, k_lo), k_hi)
        k_b = min(max(q - long.negative_raw, k_lo), k_hi)
        s += short.gain_of_first(k_a)
        lg += long.gain_of_first(q - k_a)
        sides.append((short, long))
        splits.append(k_a)
        pieces.extend(_boundary_pieces(index, short, long, q, k_a, k_b))

    # Steepest long-term reduction per unit of short-term increase first: the walk then
    # follows the convex boundary from the least-S vertex to the least-L vertex.
    pieces.sort()  # (key, sale, seq, ...): (sale, seq) is unique
    limit = rates.loss_limit_usd
    best_tax = tax_for_year(rates, s, lg)
    best_piece = -1
    best_t = ZERO
    floor = -limit
    for position, (_, _, _, _, d_short, d_long) in enumerate(pieces):
        s_next = s + d_short
        lg_next = lg + d_long
        net, net_next = s + lg, s_next + lg_next
        if (
            (s < 0) != (s_next < 0)
            or (lg < 0) != (lg_next < 0)
            or (net < 0) != (net_next < 0)
            or (net < floor) != (net_next < floor)
        ):
            for t in _crossings(s, lg, d_short, d_long, limit):
                value = tax_for_year(rates, s + t * d_short, lg + t * d_long)
                if value < best_tax:
                    best_tax, best_piece, best_t = value, position, t
        s, lg = s_next, lg_next
        value = tax_for_year(rates, s, lg)
        if value < best_tax:
            best_tax, best_piece, best_t = value, position, Decimal(1)
    for piece in pieces[: max(best_piece, 0)]:
        splits[piece[1]] += piece[3]
    if best_piece >= 0:
        last = pieces[best_piece]
        partial = int(abs(last[3]) * best_t)
        splits[last[1]] += partial if last[3] > 0 else -partial

    uses: list[LotUse] = []
    for index, sale in enumerate(sales):
        if index in whole:
            uses.extend(whole[index])
            continue
        k = splits[index]
        short, long = sides[index]
        uses.extend(_take_side(short, k, sale))
        uses.extend(_take_side(long, sale.amount_raw - k, sale))
    return uses


def _whole_uses(sale: SaleRequest, cutoff: datetime | None, long_term: Term) -> list[LotUse]:
    """Every lot sold whole; proceeds shared by amount, the last piece taking the rest so
    that the pieces add up to the sale's proceeds exactly."""
    lots = [lot for lot in sale.lots if lot.amount_raw > 0]
    unit = sale.proceeds_usd / sale.amount_raw if sale.amount_raw else ZERO
    uses: list[LotUse] = []
    shared = ZERO
    last = len(lots) - 1
    for position, lot in enumerate(lots):
        proceeds = sale.proceeds_usd - shared if position == last else lot.amount_raw * unit
        shared += proceeds
        if cutoff is None:
            term: Term | None = None
        else:
            term = long_term if lot.holding_period_start < cutoff else Term.SHORT
        uses.append(
            LotUse(lot.lot_id, lot.wallet, lot.asset, lot.amount_raw, lot.cost_usd, proceeds, term)
        )
    return uses


def _take_side(side: _Side, amount_raw: int, sale: SaleRequest) -> list[LotUse]:
    uses: list[LotUse] = []
    left = amount_raw
    for lot, term in zip(side.lots, side.terms, strict=True):
        if left <= 0:
            break
        piece = min(left, lot.amount_raw)
        uses.append(_use(lot, piece, sale, term))
        left -= piece
    return uses
