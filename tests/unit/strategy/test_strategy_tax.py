"""The year's tax estimate: netting of terms, the US $3000 limit, carry-forward value."""

from __future__ import annotations

from decimal import Decimal as D

from strategy_builders import US_RATES, year

from strategy.tax import tax_effect, tax_for_year
from strategy.values import TaxRates, TaxYearState


def test_gains_on_both_sides_are_taxed_at_their_own_rates() -> None:
    # 0.37 x 1000 + 0.20 x 2000
    assert tax_for_year(US_RATES, D(1000), D(2000)) == D("770.00")


def test_a_long_term_loss_offsets_short_term_gains_at_the_short_term_rate() -> None:
    # (5000 - 2000) x 0.37
    assert tax_for_year(US_RATES, D(5000), D(-2000)) == D("1110.00")


def test_a_short_term_loss_offsets_long_term_gains_at_the_long_term_rate() -> None:
    # (5000 - 2000) x 0.20
    assert tax_for_year(US_RATES, D(-2000), D(5000)) == D("600.00")


def test_a_net_loss_offsets_ordinary_income_up_to_the_limit_only() -> None:
    assert tax_for_year(US_RATES, D(-1000), D(0)) == D("-370.00")
    assert tax_for_year(US_RATES, D(-6000), D(-4000)) == D("-1110.00")  # 3000 x 0.37


def test_carried_forward_losses_are_valued_at_the_configured_rate() -> None:
    rates = TaxRates(D("0.37"), D("0.20"), D("0.37"), D(3000), D("0.15"))
    # 3000 x 0.37 now, 7000 carried forward valued at 0.15
    assert tax_for_year(rates, D(-10000), D(0)) == D("-2160.00")


def test_a_harvested_loss_first_cancels_gains_then_uses_the_limit() -> None:
    # 5000 of short-term gains cancelled at 0.37 (1850), then 3000 against income (1110),
    # the remaining 2000 carried forward at 0 this year.
    assert tax_effect(US_RATES, year(short="5000"), D(-10000), D(0)) == D("-2960.00")


def test_carried_losses_from_earlier_years_count_against_this_years_gains() -> None:
    state = TaxYearState(2026, D(4000), D(0), carried_short_loss_usd=D(4000))
    # the carried loss already cancels the gains: a new loss only reaches the limit
    assert tax_effect(US_RATES, state, D(-5000), D(0)) == D("-1110.00")
