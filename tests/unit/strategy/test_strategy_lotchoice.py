"""The lot choice: FIFO, HIFO, and the exact least-tax optimiser, hand-checked."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st
from strategy_builders import ETH, NOW, US_RATES, WBTC, lot, raw, year

from ledger.ids import Address
from strategy.lotchoice import SaleRequest, choose_lots
from strategy.tax import tax_effect
from strategy.values import Jurisdiction, LotMethod, Term, rules_for, term_of

US = rules_for(Jurisdiction.US)

# Sell 10 ETH at $2000 with $10,000 of short-term gains already realised this year.
LOTS = (
    lot("old_lt", ETH, "5", "2500", 1000),  # long term, +1500/ETH: 300/ETH of tax
    lot("lt", ETH, "5", "7500", 700),  # long term, +500/ETH: 100/ETH of tax
    lot("st", ETH, "5", "8500", 60),  # short term, +300/ETH: 111/ETH of tax
    lot("st_loss", ETH, "5", "12000", 30),  # short term, -400/ETH: saves 148/ETH
)
SALE = SaleRequest(ETH, raw(ETH, "10"), D(20000), LOTS)


def _lots_used(method: LotMethod) -> dict[str, int]:
    choice = choose_lots(method, [SALE], US, US_RATES, year(short="10000"), NOW)
    return {str(u.lot_id): u.amount_raw for u in choice.uses}


def test_fifo_takes_the_oldest_lots() -> None:
    choice = choose_lots(LotMethod.FIFO, [SALE], US, US_RATES, year(short="10000"), NOW)
    assert _lots_used(LotMethod.FIFO) == {"old_lt": raw(ETH, "5"), "lt": raw(ETH, "5")}
    assert choice.long_usd == D(10000)
    assert choice.tax_effect_usd == D("2000.00")


def test_hifo_takes_the_dearest_lots() -> None:
    choice = choose_lots(LotMethod.HIFO, [SALE], US, US_RATES, year(short="10000"), NOW)
    assert _lots_used(LotMethod.HIFO) == {"st_loss": raw(ETH, "5"), "st": raw(ETH, "5")}
    assert choice.short_usd == D(-500)
    assert choice.tax_effect_usd == D("-185.00")


def test_least_tax_beats_fifo_and_hifo() -> None:
    """The loss first, then the long-term lot whose gain costs 100/ETH, not 111/ETH."""
    choice = choose_lots(LotMethod.MIN_TAX, [SALE], US, US_RATES, year(short="10000"), NOW)
    assert _lots_used(LotMethod.MIN_TAX) == {"st_loss": raw(ETH, "5"), "lt": raw(ETH, "5")}
    assert (choice.short_usd, choice.long_usd) == (D(-2000), D(2500))
    # -2000 x 0.37 + 2500 x 0.20
    assert choice.tax_effect_usd == D("-240.00")


def test_least_tax_uses_the_loss_limit_when_there_are_no_gains() -> None:
    """With no gains this year a short-term loss of 2000 is worth 0.37 x 2000 against
    income, so selling the loss lot with the long-term gain lot nets to a gain; the
    optimiser instead pairs the loss with the short-term lot (net loss 500 -> -185)."""
    choice = choose_lots(LotMethod.MIN_TAX, [SALE], US, US_RATES, year(), NOW)
    assert {str(u.lot_id) for u in choice.uses} == {"st_loss", "st"}
    assert choice.tax_effect_usd == D("-185.00")


def test_terms_follow_the_anniversary_rule() -> None:
    sold_on_anniversary = lot("a", ETH, "1", "100", 365)
    sale = SaleRequest(ETH, raw(ETH, "1"), D(2000), (sold_on_anniversary,))
    choice = choose_lots(LotMethod.FIFO, [sale], US, US_RATES, year(), NOW)
    assert choice.uses[0].term is Term.SHORT


def test_de_forces_fifo_and_exempts_long_held_lots() -> None:
    de = rules_for(Jurisdiction.DE)
    choice = choose_lots(LotMethod.MIN_TAX, [SALE], de, US_RATES, year(), NOW)
    assert {str(u.lot_id) for u in choice.uses} == {"old_lt", "lt"}
    assert choice.exempt_usd == D(10000)
    assert choice.tax_effect_usd == 0


@settings(max_examples=80, deadline=None)
@given(
    lots=st.lists(
        st.tuples(
            st.sampled_from([ETH, WBTC]),
            st.integers(1, 4),
            st.integers(0, 80),
            st.sampled_from([30, 200, 500, 900]),
        ),
        min_size=1,
        max_size=5,
    ),
    sell_share=st.integers(1, 100),
    short=st.integers(-6000, 6000),
    long=st.integers(-6000, 6000),
)
def test_least_tax_is_never_beaten_by_any_whole_unit_choice(
    lots: list[tuple[Address, int, int, int]], sell_share: int, short: int, long: int
) -> None:
    """Brute force over every whole-unit allocation of one or two small sales (raw units
    of ETH are too fine, so these lots are a few raw units of a $1000-per-raw-unit asset)."""
    open_lots = tuple(
        replace(
            lot(f"l{i}", asset, "0", "0", days), amount_raw=amount, cost_usd=D(cost * 25 * amount)
        )
        for i, (asset, amount, cost, days) in enumerate(lots)
    )
    sales = []
    for asset in sorted({x.asset for x in open_lots}):
        own = tuple(x for x in open_lots if x.asset == asset)
        q = max(1, sum(x.amount_raw for x in own) * sell_share // 100)
        sales.append(SaleRequest(asset, q, D(1000 * q), own))
    state = year(str(short), str(long))
    best = choose_lots(LotMethod.MIN_TAX, sales, US, US_RATES, state, NOW)
    for sale in sales:
        assert sum(u.amount_raw for u in best.uses if u.asset == sale.asset) == sale.amount_raw
    unit_gain = [D(1000) - x.cost_usd / x.amount_raw for x in open_lots]
    short_term = [term_of(x.holding_period_start, NOW, US) is Term.SHORT for x in open_lots]
    wanted = {sale.asset: sale.amount_raw for sale in sales}
    # one raw unit of rounding is allowed: the optimum may lie between two whole units
    slack = max(abs(g) for g in unit_gain) * D("0.37") + D("0.000001")
    for split in itertools.product(*(range(x.amount_raw + 1) for x in open_lots)):
        sold: dict[Address, int] = {}
        for n, x in zip(split, open_lots, strict=True):
            sold[x.asset] = sold.get(x.asset, 0) + n
        if sold != wanted:
            continue
        s = sum(
            (n * g for n, g, st_ in zip(split, unit_gain, short_term, strict=True) if st_), D(0)
        )
        lg = sum(
            (n * g for n, g, st_ in zip(split, unit_gain, short_term, strict=True) if not st_), D(0)
        )
        assert best.tax_effect_usd <= tax_effect(US_RATES, state, s, lg) + slack
