"""The year's tax as a function of its net short-term and long-term figures.

`tax_for_year(rates, short_usd, long_usd)` is the estimate every decision compares:
US-style netting, which the other jurisdictions are special cases of.

- Both figures gains: each is taxed at its own rate.
- One a gain, the other a loss: they net; what is left is taxed at the rate of the side
  that is still a gain (a long-term loss offsets short-term gains at the short-term rate).
- A net loss: up to `loss_limit_usd` offsets ordinary income at `ordinary_income_rate`;
  the rest carries forward and is valued at `carry_forward_value_rate`.
- Tax-free (exempt) disposals never reach it: callers leave them out of both figures.

The function is continuous, piecewise linear and non-decreasing in both figures (every
rate is >= 0), and linear between the lines short = 0, long = 0, short + long = 0 and
short + long = -loss_limit; `strategy.lotchoice` relies on exactly these facts.
"""

from __future__ import annotations

from decimal import Decimal

from strategy.values import TaxRates, TaxYearState


def tax_for_year(rates: TaxRates, short_usd: Decimal, long_usd: Decimal) -> Decimal:
    """The year's estimated tax (negative: a saving against ordinary income) on net figures.

    Raises:
        Nothing.
    """
    s = short_usd
    lg = long_usd
    if s >= 0 and lg >= 0:
        return rates.short_term_rate * s + rates.long_term_rate * lg
    net = s + lg
    if net >= 0:
        return (rates.short_term_rate if s > 0 else rates.long_term_rate) * net
    loss = -net
    offset = min(rates.loss_limit_usd, loss)
    return -rates.ordinary_income_rate * offset - rates.carry_forward_value_rate * (loss - offset)


def tax_effect(
    rates: TaxRates, year: TaxYearState, short_usd: Decimal, long_usd: Decimal
) -> Decimal:
    """How much realising `short_usd` / `long_usd` more changes the year's tax (< 0: saves).

    Raises:
        Nothing.
    """
    before = tax_for_year(rates, year.base_short_usd, year.base_long_usd)
    after = tax_for_year(rates, year.base_short_usd + short_usd, year.base_long_usd + long_usd)
    return after - before


def with_realised(year: TaxYearState, short_usd: Decimal, long_usd: Decimal) -> TaxYearState:
    """The year as it would be after also realising `short_usd` and `long_usd`.

    Raises:
        Nothing.
    """
    return TaxYearState(
        year=year.year,
        realised_short_usd=year.realised_short_usd + short_usd,
        realised_long_usd=year.realised_long_usd + long_usd,
        carried_short_loss_usd=year.carried_short_loss_usd,
        carried_long_loss_usd=year.carried_long_loss_usd,
    )
