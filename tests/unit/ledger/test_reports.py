"""Report builders: Form 8949 (us), the HMRC computation (uk), valued holdings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.basisfile import BasisFile, load_basis_file, parse_basis_file, run_basis_file
from ledger.engine import LedgerResult, Term
from ledger.engine.errors import PriceMissing, ReportNotApplicable
from ledger.reports import build_form_8949, build_hmrc_computation, uk_tax_year, value_holdings

EXAMPLES = Path(__file__).parent / "examples"


def _run(name: str) -> tuple[BasisFile, LedgerResult]:
    basis = load_basis_file(EXAMPLES / f"{name}.yaml")
    return basis, run_basis_file(basis)


def test_form_8949_splits_parts_and_marks_wash_sales() -> None:
    """IRS Form 8949 instructions: code W and the disallowed loss in column (g)."""
    basis = parse_basis_file("""
jurisdiction: us
method: fifo
wash_sale: true
events:
  - {id: b0, time: 2022-01-03, kind: buy, asset: ETH, amount: "1.5", value: "1500"}
  - {id: s0, time: 2023-02-01, kind: sell, asset: ETH, amount: "1.5", value: "3000"}
  - {id: b1, time: 2023-01-03, kind: buy, asset: XYZ, amount: "100", value: "1000"}
  - {id: s1, time: 2023-06-01, kind: sell, asset: XYZ, amount: "100", value: "750"}
  - {id: b2, time: 2023-06-15, kind: buy, asset: XYZ, amount: "100", value: "800"}
""")
    form = build_form_8949(run_basis_file(basis), basis.decimals)
    (long_row,) = form.long_term.rows
    assert (long_row.description, long_row.date_acquired, long_row.date_sold) == (
        "1.5 ETH",
        date(2022, 1, 3),
        date(2023, 2, 1),
    )
    assert (long_row.proceeds, long_row.cost, long_row.code, long_row.gain) == (
        Decimal(3000),
        Decimal(1500),
        "",
        Decimal(1500),
    )
    (wash_row,) = form.short_term.rows
    assert (wash_row.code, wash_row.adjustment, wash_row.gain) == ("W", Decimal(250), Decimal(0))
    assert (form.short_term.proceeds, form.short_term.cost) == (Decimal(750), Decimal(1000))
    only_2022 = build_form_8949(run_basis_file(basis), basis.decimals, end=date(2022, 12, 31))
    assert not only_2022.short_term.rows and not only_2022.long_term.rows


def test_form_8949_refuses_other_jurisdictions() -> None:
    basis, result = _run("hmrc_crypto22251")
    with pytest.raises(ReportNotApplicable) as caught:
        build_form_8949(result, basis.decimals)
    assert (caught.value.report, caught.value.jurisdiction) == ("Form 8949", "uk")


def test_hmrc_computation_of_crypto22256() -> None:
    """HMRC CRYPTO22256 figures: 3 disposals, £400,000 proceeds, gains £25,000, loss
    £163,636.36... (HMRC rounds to £163,636)."""
    basis, result = _run("hmrc_crypto22256")
    computation = build_hmrc_computation(result, basis.decimals, *uk_tax_year(2023))
    assert computation.disposals == 3
    assert computation.proceeds == Decimal(400000)
    assert computation.allowable_costs == Decimal("538636.363636363636363636")
    assert computation.gains == Decimal(25000)
    assert computation.losses == Decimal("163636.363636363636363636")
    assert computation.net_gain == Decimal("-138636.363636363636363636")
    assert [row.disposal_id for row in computation.rows] == ["s1", "s2", "s3"]
    assert build_hmrc_computation(result, basis.decimals, *uk_tax_year(2024)).disposals == 0
    assert uk_tax_year(2023) == (date(2023, 4, 6), date(2024, 4, 5))


def test_value_holdings_with_unrealised_gain_and_term() -> None:
    basis, result = _run("methods_fifo")
    (holding,) = value_holdings(
        result, {"ETH": Decimal("2500")}, basis.decimals, as_of=datetime(2024, 3, 2, tzinfo=UTC)
    )
    assert (holding.amount, holding.cost, holding.value, holding.unrealised_gain) == (
        Decimal(15),
        Decimal(24000),
        Decimal(37500),
        Decimal(13500),
    )
    assert [(lot.lot, lot.value, lot.unrealised_gain, lot.term) for lot in holding.lots] == [
        ("b3", Decimal(12500), Decimal(2500), Term.LONG),
        ("b4", Decimal(25000), Decimal(11000), Term.SHORT),
    ]
    with pytest.raises(PriceMissing):
        value_holdings(result, {}, basis.decimals)


def test_value_pooled_holdings_have_no_terms() -> None:
    basis, result = _run("hmrc_crypto22255")
    (holding,) = value_holdings(
        result, {"TOKE": Decimal("0.5")}, basis.decimals, as_of=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert holding.wallet is None and holding.value == Decimal(5250)
    assert holding.unrealised_gain == Decimal(-144750)
    assert holding.lots[0].term is None
