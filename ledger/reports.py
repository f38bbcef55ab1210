"""Pure report builders over a `LedgerResult`: IRS Form 8949 (us), the HMRC capital gains
computation (uk), and holdings valued at given prices with their unrealised gain or loss.

Nothing here reads or writes anything; values stay exact (`Decimal`), rounding is the
presenter's business. Amounts are shown in whole tokens, which needs each asset's
decimal places (`decimals`, as `BasisFile.decimals` or the token registry gives them).

- Form 8949: one row per matched piece, Part I short term and Part II long term; column
  (f) code `W` and column (g) the disallowed loss for a wash sale; column (h) is
  proceeds - cost + adjustment. Date acquired is the lot's acquisition date (a wash
  sale's tacked holding period shows in the part the row lands in, not in the date).
- HMRC computation (SA108 "Other property, assets and gains" figures): the number of
  disposals, disposal proceeds, allowable costs, gains in the period before losses, and
  losses in the period, with a row per disposal (same-day disposals already joined).
- Holdings: per holding and per lot, cost, value at the price, unrealised gain and, where
  the jurisdiction has terms, the term a sale at `as_of` would have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Final

from ledger.engine import Jurisdiction, LedgerResult, Term
from ledger.engine.errors import PriceMissing, ReportNotApplicable
from ledger.engine.jurisdictions import rules_for
from ledger.engine.money import amount_to_decimal, exact_sum, format_decimal

_EXACT: Final = Context(prec=200, rounding=ROUND_HALF_EVEN, Emax=10**6, Emin=-(10**6))
WASH_SALE_CODE: Final = "W"


def _in_period(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _name(names: Mapping[str, str] | None, asset: str) -> str:
    return asset if names is None else names.get(asset, asset)


def _utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class Form8949Row:
    """One line of Form 8949 (one matched piece of one disposal)."""

    description: str
    date_acquired: date
    date_sold: date
    proceeds: Decimal
    cost: Decimal
    code: str
    adjustment: Decimal
    gain: Decimal
    disposal_id: str
    lot: str


@dataclass(frozen=True, slots=True)
class Form8949Part:
    """Part I (short term) or Part II (long term) with its column totals."""

    term: Term
    rows: tuple[Form8949Row, ...]
    proceeds: Decimal
    cost: Decimal
    adjustment: Decimal
    gain: Decimal


@dataclass(frozen=True, slots=True)
class Form8949:
    """Both parts of Form 8949."""

    short_term: Form8949Part
    long_term: Form8949Part


def _part(term: Term, rows: Sequence[Form8949Row]) -> Form8949Part:
    return Form8949Part(
        term=term,
        rows=tuple(rows),
        proceeds=exact_sum(row.proceeds for row in rows),
        cost=exact_sum(row.cost for row in rows),
        adjustment=exact_sum(row.adjustment for row in rows),
        gain=exact_sum(row.gain for row in rows),
    )


def build_form_8949(
    result: LedgerResult,
    decimals: Mapping[str, int],
    start: date | None = None,
    end: date | None = None,
    names: Mapping[str, str] | None = None,
) -> Form8949:
    """Form 8949 rows for the disposals sold between `start` and `end` (inclusive, UTC);
    `names` turns asset keys (a chain's token addresses) into the symbols a form shows.

    Raises:
        ReportNotApplicable: the result was not replayed under `us`.
    """
    if result.policy.jurisdiction is not Jurisdiction.US:
        raise ReportNotApplicable("Form 8949", result.policy.jurisdiction.value, "us")
    rows: dict[Term, list[Form8949Row]] = {Term.SHORT: [], Term.LONG: []}
    for disposal in result.disposals:
        sold = _utc_date(disposal.time)
        if not _in_period(sold, start, end):
            continue
        for piece in disposal.pieces:
            assert piece.acquired_at is not None and piece.term in rows
            amount = amount_to_decimal(piece.amount_raw, decimals.get(disposal.asset, 0))
            rows[piece.term].append(
                Form8949Row(
                    description=f"{format_decimal(amount)} {_name(names, disposal.asset)}",
                    date_acquired=_utc_date(piece.acquired_at),
                    date_sold=sold,
                    proceeds=piece.proceeds,
                    cost=piece.cost,
                    code=WASH_SALE_CODE if piece.disallowed_loss else "",
                    adjustment=piece.disallowed_loss,
                    gain=_EXACT.add(piece.gain, piece.disallowed_loss),
                    disposal_id=disposal.id,
                    lot=piece.lot,
                )
            )
    return Form8949(
        short_term=_part(Term.SHORT, rows[Term.SHORT]), long_term=_part(Term.LONG, rows[Term.LONG])
    )


@dataclass(frozen=True, slots=True)
class HmrcDisposalRow:
    """One disposal in the HMRC computation (same-day disposals are already one)."""

    disposal_id: str
    date: date
    asset: str
    amount: Decimal
    proceeds: Decimal
    allowable_costs: Decimal
    gain: Decimal


@dataclass(frozen=True, slots=True)
class HmrcComputation:
    """The SA108 figures for a period, with the disposals behind them."""

    start: date | None
    end: date | None
    rows: tuple[HmrcDisposalRow, ...]
    disposals: int
    proceeds: Decimal
    allowable_costs: Decimal
    gains: Decimal
    losses: Decimal
    net_gain: Decimal


def uk_tax_year(first_year: int) -> tuple[date, date]:
    """The UK tax year starting on 6 April of `first_year` (6 April to 5 April).

    Raises:
        ValueError: a year outside the calendar.
    """
    return date(first_year, 4, 6), date(first_year + 1, 4, 5)


def build_hmrc_computation(
    result: LedgerResult,
    decimals: Mapping[str, int],
    start: date | None = None,
    end: date | None = None,
    names: Mapping[str, str] | None = None,
) -> HmrcComputation:
    """The HMRC computation of the disposals between `start` and `end` (inclusive, UTC);
    `names` turns asset keys into the names the computation shows.

    Raises:
        ReportNotApplicable: the result was not replayed under `uk`.
    """
    if result.policy.jurisdiction is not Jurisdiction.UK:
        raise ReportNotApplicable("HMRC computation", result.policy.jurisdiction.value, "uk")
    rows = tuple(
        HmrcDisposalRow(
            disposal_id=disposal.id,
            date=_utc_date(disposal.time),
            asset=_name(names, disposal.asset),
            amount=amount_to_decimal(disposal.amount_raw, decimals.get(disposal.asset, 0)),
            proceeds=disposal.proceeds,
            allowable_costs=disposal.cost,
            gain=disposal.gain,
        )
        for disposal in result.disposals
        if _in_period(_utc_date(disposal.time), start, end)
    )
    gains = exact_sum(row.gain for row in rows if row.gain > 0)
    losses = _EXACT.minus(exact_sum(row.gain for row in rows if row.gain < 0))
    return HmrcComputation(
        start=start,
        end=end,
        rows=rows,
        disposals=len(rows),
        proceeds=exact_sum(row.proceeds for row in rows),
        allowable_costs=exact_sum(row.allowable_costs for row in rows),
        gains=gains,
        losses=losses,
        net_gain=_EXACT.subtract(gains, losses),
    )


@dataclass(frozen=True, slots=True)
class LotValuation:
    """One open lot (or pool) at a price."""

    lot: str
    amount: Decimal
    cost: Decimal
    value: Decimal
    unrealised_gain: Decimal
    term: Term | None


@dataclass(frozen=True, slots=True)
class HoldingValuation:
    """One holding at a price, with its lots."""

    asset: str
    wallet: str | None
    amount: Decimal
    price: Decimal
    cost: Decimal
    value: Decimal
    unrealised_gain: Decimal
    lots: tuple[LotValuation, ...]


def value_holdings(
    result: LedgerResult,
    prices: Mapping[str, Decimal],
    decimals: Mapping[str, int],
    as_of: datetime | None = None,
) -> tuple[HoldingValuation, ...]:
    """Every holding valued at `prices` (per whole token), exactly, with unrealised gains;
    with `as_of`, each lot's term if it were sold then.

    Raises:
        PriceMissing: a held asset has no price.
    """
    terms = rules_for(result.policy.jurisdiction).terms_for(result.policy)
    sale_day = as_of.astimezone(UTC).toordinal() if as_of is not None else None
    out: list[HoldingValuation] = []
    for holding in result.holdings:
        price = prices.get(holding.asset)
        if price is None:
            raise PriceMissing(holding.asset)
        places = decimals.get(holding.asset, 0)
        lots: list[LotValuation] = []
        for lot in holding.lots:
            amount = amount_to_decimal(lot.amount_raw, places)
            value = _EXACT.multiply(price, amount)
            term = None
            if terms is not None and sale_day is not None:
                start_day = lot.holding_period_start.astimezone(UTC).toordinal()
                term = terms.term(terms.deadline(start_day), sale_day)
            lots.append(
                LotValuation(
                    lot=lot.id,
                    amount=amount,
                    cost=lot.cost,
                    value=value,
                    unrealised_gain=_EXACT.subtract(value, lot.cost),
                    term=term,
                )
            )
        value = exact_sum(lot.value for lot in lots)
        out.append(
            HoldingValuation(
                asset=holding.asset,
                wallet=holding.wallet,
                amount=amount_to_decimal(holding.amount_raw, places),
                price=price,
                cost=holding.cost,
                value=value,
                unrealised_gain=_EXACT.subtract(value, holding.cost),
                lots=tuple(lots),
            )
        )
    return tuple(out)
