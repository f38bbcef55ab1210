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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

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
    term_of,
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


@dataclass(slots=True)
class _Unit:
    """A lot as the optimiser sees it: amount, per-raw-unit gain, term (mutable scratch)."""

    lot: OpenLot
    term: Term | None
    unit_gain: Decimal
    walk_gain: Decimal


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
    if rules.lot_order is LotOrder.FIFO:
        method = LotMethod.FIFO
    uses: list[LotUse] = []
    for sale in sales:
        held = sum(lot.amount_raw for lot in sale.lots)
        if held < sale.amount_raw:
            raise InsufficientHoldings(sale.asset, sale.amount_raw, held)
    if rules.lot_order is LotOrder.POOLED:
        for sale in sales:
            uses.extend(_pooled_uses(sale))
    elif method is LotMethod.MIN_TAX:
        uses.extend(_min_tax_uses(sales, rules, rates, year, sold_at))
    else:
        for sale in sales:
            uses.extend(_ordered_uses(sale, method, rules, sold_at))
    return summarise_uses(method, uses, rates, year)


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
    terms = {lot.lot_id: term_of(lot.holding_period_start, sold_at, rules) for lot in sale.lots}
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
class _Piece:
    """One straight piece of an asset's boundary path: move `units` raw units of split."""

    slope_key: Decimal
    sale_index: int
    units: int
    """Signed change of k (units taken from the short-term bucket)."""
    d_short: Decimal
    d_long: Decimal


def _prefix_sum(units: Sequence[_Unit], amount_raw: int, gains: str) -> Decimal:
    total = ZERO
    left = amount_raw
    for unit in units:
        if left <= 0:
            break
        piece = min(left, unit.lot.amount_raw)
        total += piece * (unit.walk_gain if gains == "walk" else unit.unit_gain)
        left -= piece
    return total


def _boundary_pieces(
    sale_index: int, short: Sequence[_Unit], long: Sequence[_Unit], q: int, k_a: int, k_b: int
) -> list[_Piece]:
    """The pieces of one asset's boundary path from split k_a to split k_b."""
    pieces: list[_Piece] = []
    cum_s = [0]
    for unit in short:
        cum_s.append(cum_s[-1] + unit.lot.amount_raw)
    cum_l = [0]
    for unit in long:
        cum_l.append(cum_l[-1] + unit.lot.amount_raw)
    k = k_a
    if k_a < k_b:
        # Add short-term units above k, drop long-term units below q - k.
        i = _lot_at(cum_s, k, upward=True)
        j = _lot_at(cum_l, q - k, upward=False)
        while k < k_b:
            d = min(cum_s[i + 1] - k, (q - k) - cum_l[j], k_b - k)
            ds = d * short[i].walk_gain
            dl = -d * long[j].walk_gain
            _append_piece(pieces, sale_index, d, ds, dl)
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
            ds = -d * short[i].walk_gain
            dl = d * long[j].walk_gain
            _append_piece(pieces, sale_index, -d, ds, dl)
            k -= d
            if k == cum_s[i]:
                i -= 1
            if q - k == cum_l[j + 1]:
                j += 1
    return pieces


def _append_piece(
    pieces: list[_Piece], sale_index: int, units: int, ds: Decimal, dl: Decimal
) -> None:
    span = ds - dl
    if span == 0:
        return  # moves nothing in (S, L): any split along it is as good
    pieces.append(_Piece(ds / span, sale_index, units, ds, dl))


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
) -> list[LotUse]:
    shorts: list[list[_Unit]] = []
    longs: list[list[_Unit]] = []
    splits: list[int] = []
    pieces: list[_Piece] = []
    s = year.base_short_usd
    lg = year.base_long_usd
    for index, sale in enumerate(sales):
        unit_proceeds = sale.proceeds_usd / sale.amount_raw if sale.amount_raw else ZERO
        short: list[_Unit] = []
        long: list[_Unit] = []
        for lot in sale.lots:
            if lot.amount_raw <= 0:
                continue
            term = term_of(lot.holding_period_start, sold_at, rules)
            gain = unit_proceeds - lot.cost_usd / lot.amount_raw
            if term is None or term is Term.SHORT:
                short.append(_Unit(lot, term, gain, gain))
            else:
                long.append(_Unit(lot, term, gain, ZERO if term is Term.EXEMPT else gain))
        short.sort(key=lambda u: u.unit_gain)
        long.sort(key=lambda u: (u.walk_gain, u.unit_gain))
        q = sale.amount_raw
        held_s = sum(u.lot.amount_raw for u in short)
        held_l = sum(u.lot.amount_raw for u in long)
        k_lo = max(0, q - held_l)
        k_hi = min(q, held_s)
        neg_s = sum(u.lot.amount_raw for u in short if u.walk_gain < 0)
        neg_l = sum(u.lot.amount_raw for u in long if u.walk_gain < 0)
        k_a = min(max(neg_s, k_lo), k_hi)
        k_b = min(max(q - neg_l, k_lo), k_hi)
        s += _prefix_sum(short, k_a, "walk")
        lg += _prefix_sum(long, q - k_a, "walk")
        shorts.append(short)
        longs.append(long)
        splits.append(k_a)
        pieces.extend(_boundary_pieces(index, short, long, q, k_a, k_b))

    # Steepest long-term reduction per unit of short-term increase first: the walk then
    # follows the convex boundary from the least-S vertex to the least-L vertex.
    pieces.sort(key=lambda p: p.slope_key)
    limit = rates.loss_limit_usd
    best_tax = tax_for_year(rates, s, lg)
    best_piece = -1
    best_t = ZERO
    for position, piece in enumerate(pieces):
        for t in _crossings(s, lg, piece.d_short, piece.d_long, limit):
            value = tax_for_year(rates, s + t * piece.d_short, lg + t * piece.d_long)
            if value < best_tax:
                best_tax, best_piece, best_t = value, position, t
        s += piece.d_short
        lg += piece.d_long
        value = tax_for_year(rates, s, lg)
        if value < best_tax:
            best_tax, best_piece, best_t = value, position, Decimal(1)
    for piece in pieces[: max(best_piece, 0)]:
        splits[piece.sale_index] += piece.units
    if best_piece >= 0:
        last = pieces[best_piece]
        partial = int(abs(last.units) * best_t)
        splits[last.sale_index] += partial if last.units > 0 else -partial

    uses: list[LotUse] = []
    for index, sale in enumerate(sales):
        k = splits[index]
        terms = {u.lot.lot_id: u.term for u in (*shorts[index], *longs[index])}
        uses.extend(_take([u.lot for u in shorts[index]], k, sale, terms))
        uses.extend(_take([u.lot for u in longs[index]], sale.amount_raw - k, sale, terms))
    return uses
