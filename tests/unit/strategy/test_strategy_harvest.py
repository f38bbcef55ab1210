"""The harvest scan, hand-checked: cost versus saving, re-entry rules, windows, the limit.

Quotes come from `FakeQuotes` at mid prices with no fee or impact unless a test says so,
and 150,000 gas a swap at 20 gwei with the native coin at $2000: $6 a swap.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from strategy_builders import (
    ETH,
    NOW,
    STETH,
    UK_RATES,
    USDC,
    W1,
    W2,
    WBTC,
    FakeQuotes,
    lot,
    policy,
    raw,
    run_scan,
    snapshot,
    year,
)

from strategy.proposals import NoTrade, NoTradeReason, Proposal, ProposalKind, Reentry
from strategy.scan import plan_scan
from strategy.values import Acquisition, Jurisdiction, LossDisposal, TaxRates

BIG_LOSS = lot("eth1", ETH, "10", "30000", 100)  # worth 20000: a 10000 short-term loss


def _harvests(result_proposals: tuple[Proposal, ...]) -> list[Proposal]:
    return [p for p in result_proposals if p.kind is ProposalKind.HARVEST]


def _skips(no_trades: tuple[NoTrade, ...]) -> list[NoTrade]:
    return [n for n in no_trades if n.kind is ProposalKind.HARVEST]


def test_a_loss_too_small_for_its_gas_is_not_harvested() -> None:
    """1 ETH bought at 2010: proceeds 2000 - 6 gas = 1994, a 16 loss saving 0.37 x 16 =
    5.92, against 12 of gas for the round trip ETH -> USDC -> ETH."""
    result = run_scan(snapshot([lot("small", ETH, "1", "2010", 30)]), policy(rebalance=False))
    assert result.proposals == ()
    [skip] = _skips(result.no_trades)
    assert skip.reason is NoTradeReason.SAVING_BELOW_COST
    assert (skip.asset, skip.wallet) == (ETH, W1)
    assert skip.figure("loss_usd") == "10.00"
    assert skip.figure("saving_usd") == "5.92"
    assert skip.figure("costs_usd") == "12.00"
    assert skip.log_fields()["reason"] == "saving_below_cost"


def test_a_loss_under_the_minimum_is_not_considered() -> None:
    result = run_scan(
        snapshot([lot("small", ETH, "1", "2010", 30)]),
        policy(rebalance=False, min_loss_usd="50"),
    )
    [skip] = _skips(result.no_trades)
    assert skip.reason is NoTradeReason.LOSS_BELOW_MINIMUM
    assert skip.figure("min_loss_usd") == "50.00"


def test_without_wash_sale_the_proceeds_go_back_into_the_same_asset() -> None:
    """10 ETH at 30000 sold for 20000 USDC less 6 gas: -10006 short term against 20000 of
    short-term gains saves 0.37 x 10006 = 3702.22; costs 12 (two swaps)."""
    result = run_scan(snapshot([BIG_LOSS], tax_year=year(short="20000")), policy(rebalance=False))
    [harvest] = _harvests(result.proposals)
    assert harvest.reentry is Reentry.SAME_ASSET
    sell, buy_back = harvest.trades
    assert (sell.sell_asset, sell.buy_asset, sell.amount_raw) == (ETH, USDC, raw(ETH, "10"))
    assert sell.expected_out_raw == raw(USDC, "20000")
    assert [(u.lot_id, u.amount_raw) for u in sell.lots] == [("eth1", raw(ETH, "10"))]
    assert (buy_back.sell_asset, buy_back.buy_asset) == (USDC, ETH)
    assert buy_back.amount_raw == raw(USDC, "20000")
    assert buy_back.expected_out_raw == raw(ETH, "10")
    assert buy_back.lots == ()
    assert harvest.realised_short_usd == D(-10006)
    assert harvest.realised_long_usd == 0
    assert harvest.tax_effect_usd == D("-3702.22")
    assert harvest.costs.gas_usd == D(12)
    assert harvest.costs.total_usd == D(12)
    assert harvest.net_benefit_usd == D("3690.22")


def test_with_wash_sale_on_the_proceeds_go_into_the_substitute_never_the_same_asset() -> None:
    result = run_scan(
        snapshot([BIG_LOSS], tax_year=year(short="20000")),
        policy(rebalance=False, wash_sale=True),
    )
    [harvest] = _harvests(result.proposals)
    assert harvest.reentry is Reentry.SUBSTITUTE
    [trade] = harvest.trades
    assert (trade.sell_asset, trade.buy_asset) == (ETH, STETH)
    assert trade.expected_out_raw == raw(STETH, "10")
    assert all(t.buy_asset != ETH for t in harvest.trades)
    assert harvest.costs.total_usd == D(6)  # one swap
    assert harvest.tax_effect_usd == D("-3702.22")


def test_with_wash_sale_on_and_no_substitute_nothing_is_harvested() -> None:
    result = run_scan(snapshot([BIG_LOSS]), policy(rebalance=False, wash_sale=True, substitutes={}))
    assert _harvests(result.proposals) == []
    [skip] = _skips(result.no_trades)
    assert skip.reason is NoTradeReason.NO_SUBSTITUTE


def test_a_purchase_in_the_previous_30_days_blocks_the_harvest_under_wash_sale() -> None:
    recent = lot("eth2", ETH, "1", "1900", 10)  # bought 10 days ago, at a gain
    blocked = run_scan(
        snapshot([BIG_LOSS, recent], tax_year=year(short="20000")),
        policy(rebalance=False, wash_sale=True),
    )
    assert _harvests(blocked.proposals) == []
    [skip] = _skips(blocked.no_trades)
    assert skip.reason is NoTradeReason.PRIOR_PURCHASE_IN_WINDOW
    assert skip.figure("last_purchase_at") == (NOW - timedelta(days=10)).isoformat()

    free = run_scan(
        snapshot([BIG_LOSS, recent], tax_year=year(short="20000")),
        policy(rebalance=False, wash_sale=False),
    )
    assert len(_harvests(free.proposals)) == 1


def test_a_closed_recent_purchase_blocks_too() -> None:
    bought = Acquisition(ETH, W1, NOW - timedelta(days=29), raw(ETH, "1"))
    result = run_scan(
        snapshot([BIG_LOSS], acquisitions=[bought]), policy(rebalance=False, wash_sale=True)
    )
    [skip] = _skips(result.no_trades)
    assert skip.reason is NoTradeReason.PRIOR_PURCHASE_IN_WINDOW


def test_a_substitute_inside_its_own_window_is_not_bought() -> None:
    sold = LossDisposal(STETH, W1, NOW - timedelta(days=5), D(100))
    result = run_scan(
        snapshot([BIG_LOSS], loss_disposals=[sold]), policy(rebalance=False, wash_sale=True)
    )
    [skip] = _skips(result.no_trades)
    assert skip.reason is NoTradeReason.SUBSTITUTE_IN_WINDOW


def test_uk_30_day_rule_sends_the_proceeds_into_the_substitute() -> None:
    """uk pools ETH at its average cost; 20 % on the 10006 loss against 20000 of gains."""
    result = run_scan(
        snapshot([BIG_LOSS], tax_year=year(short="20000")),
        policy(code=Jurisdiction.UK, rates=UK_RATES, rebalance=False),
    )
    [harvest] = _harvests(result.proposals)
    assert harvest.reentry is Reentry.SUBSTITUTE
    assert [(t.sell_asset, t.buy_asset) for t in harvest.trades] == [(ETH, STETH)]
    assert harvest.tax_effect_usd == D("-2001.20")
    assert harvest.lots[0].term is None


def test_uk_same_day_purchase_blocks_the_harvest() -> None:
    bought = Acquisition(ETH, W1, NOW - timedelta(hours=2), raw(ETH, "1"))
    result = run_scan(
        snapshot([BIG_LOSS], acquisitions=[bought]),
        policy(code=Jurisdiction.UK, rates=UK_RATES, rebalance=False),
    )
    [skip] = _skips(result.no_trades)
    assert skip.reason is NoTradeReason.SAME_DAY_PURCHASE


def test_the_3000_limit_makes_a_second_loss_worthless_without_carry_forward_value() -> None:
    """No gains this year: the ETH loss (10006) is worth 0.37 x 3000 = 1110 against income;
    the WBTC loss after it (5006) is worth nothing more this year."""
    lots = [BIG_LOSS, lot("btc1", WBTC, "1", "65000", 100)]
    result = run_scan(snapshot(lots), policy(rebalance=False))
    [harvest] = _harvests(result.proposals)
    assert harvest.trades[0].sell_asset == ETH
    assert harvest.tax_effect_usd == D("-1110.00")
    [skip] = _skips(result.no_trades)
    assert (skip.asset, skip.reason) == (WBTC, NoTradeReason.SAVING_BELOW_COST)
    assert skip.figure("saving_usd") == "0.00"


def test_carried_forward_losses_count_when_they_are_given_a_value() -> None:
    rates = TaxRates(D("0.37"), D("0.20"), D("0.37"), D(3000), D("0.20"))
    lots = [BIG_LOSS, lot("btc1", WBTC, "1", "65000", 100)]
    result = run_scan(snapshot(lots), policy(rebalance=False, rates=rates))
    eth, btc = _harvests(result.proposals)
    # 1110 against income plus 0.20 x 7006 carried forward
    assert eth.tax_effect_usd == D("-2511.20")
    # 0.20 x 5006, all carried forward
    assert btc.tax_effect_usd == D("-1001.20")


def test_fees_and_price_impact_count_as_costs() -> None:
    quotes = FakeQuotes(fee_bps=D(30), impact_bps=D(20))
    result = run_scan(
        snapshot([BIG_LOSS], tax_year=year(short="20000")),
        policy(rebalance=False, wash_sale=True),
        quotes,
    )
    [harvest] = _harvests(result.proposals)
    assert harvest.costs.fee_usd == D(60)  # 30 bps of 20000
    assert harvest.costs.price_impact_usd == D(40)  # 20 bps of 20000
    assert harvest.trades[0].expected_out_raw == raw(STETH, "9.95")
    # proceeds 19900 - 6 gas: a loss of 10106
    assert harvest.realised_short_usd == D(-10106)


def test_the_margin_is_required_on_top_of_the_costs() -> None:
    lots = [lot("mid", ETH, "1", "2100", 30)]  # loss 106 after gas: saves 39.22; costs 12
    assert _harvests(run_scan(snapshot(lots), policy(rebalance=False)).proposals)
    result = run_scan(snapshot(lots), policy(rebalance=False, margin_ratio="2.5"))
    [skip] = _skips(result.no_trades)
    assert skip.figure("required_saving_usd") == "42.00"


def test_de_does_not_harvest_tax_free_long_held_lots() -> None:
    lots = [lot("old", ETH, "1", "5000", 800), lot("new", ETH, "1", "5000", 100, wallet=W1)]
    result = run_scan(
        snapshot(lots, tax_year=year(short="20000")),
        policy(code=Jurisdiction.DE, rebalance=False),
    )
    # FIFO must sell "old" (exempt, worthless) before "new": the deepest taxable prefix
    [harvest] = _harvests(result.proposals)
    assert [u.lot_id for u in harvest.lots] == ["old", "new"]
    assert harvest.realised_exempt_usd == D(-3003)
    assert harvest.realised_short_usd == D(-3003)


def test_an_unquotable_route_is_a_no_trade() -> None:
    quotes = FakeQuotes(unavailable={(ETH, STETH)})
    result = run_scan(snapshot([BIG_LOSS]), policy(rebalance=False, wash_sale=True), quotes)
    [skip] = _skips(result.no_trades)
    assert skip.reason is NoTradeReason.QUOTE_UNAVAILABLE
    assert skip.figure("quote_error") == "no pool"


def test_an_open_equivalent_proposal_is_not_proposed_or_quoted_again() -> None:
    pol = policy(rebalance=False)
    first = run_scan(snapshot([BIG_LOSS], tax_year=year(short="20000")), pol)
    [harvest] = first.proposals
    again = snapshot(
        [BIG_LOSS],
        tax_year=year(short="20000"),
        prices={ETH: "1990"},  # the price moved; the proposal is still the same one
        open_fingerprints=[harvest.fingerprint],
    )
    assert plan_scan(again, pol).routes == ()
    result = run_scan(again, pol)
    assert result.proposals == ()
    [skip] = _skips(result.no_trades)
    assert skip.reason is NoTradeReason.ALREADY_PROPOSED
    assert skip.figure("fingerprint") == harvest.fingerprint


def test_log_fields_are_stable_and_carry_units() -> None:
    result = run_scan(snapshot([BIG_LOSS], tax_year=year(short="20000")), policy(rebalance=False))
    [harvest] = result.proposals
    fields = harvest.log_fields()
    assert fields["kind"] == "harvest"
    assert fields["net_benefit_usd"] == "3690.22"
    assert fields["trade_0_amount_raw"] == str(raw(ETH, "10"))
    assert fields == harvest.log_fields()
    plain = {"fingerprint", "subject", "kind", "reason", "reentry"}
    for key, value in fields.items():
        assert isinstance(value, str | int)
        assert key in plain or key.endswith(("_usd", "_count", "_raw", "_asset", "_wallet"))


def test_uk_pools_an_asset_across_wallets_before_judging_a_loss() -> None:
    """Alone, W1's lot is 1000 under water; pooled with W2's cheap lot the average cost is
    2000, the price: nothing to harvest in the uk. Per-wallet us lots do harvest W1."""
    lots = [lot("dear", ETH, "1", "3000", 100), lot("cheap", ETH, "1", "1000", 100, wallet=W2)]
    uk = run_scan(
        snapshot(lots, tax_year=year(short="20000")),
        policy(code=Jurisdiction.UK, rates=UK_RATES, rebalance=False),
    )
    assert _harvests(uk.proposals) == []
    us = run_scan(snapshot(lots, tax_year=year(short="20000")), policy(rebalance=False))
    [harvest] = _harvests(us.proposals)
    assert [u.lot_id for u in harvest.lots] == ["dear"]


def test_uk_harvest_costs_the_pool_average() -> None:
    """Pool: 2 ETH for 7000 (3500 each). W1 sells its 1 ETH at 2000 less 6 gas: -1506."""
    lots = [lot("a", ETH, "1", "3000", 100), lot("b", ETH, "1", "4000", 100, wallet=W2)]
    result = run_scan(
        snapshot(lots, tax_year=year(short="20000")),
        policy(code=Jurisdiction.UK, rates=UK_RATES, rebalance=False),
    )
    by_wallet = {p.trades[0].wallet: p for p in _harvests(result.proposals)}
    assert by_wallet[W1].realised_short_usd == D(-1506)
    assert by_wallet[W1].lots[0].cost_usd == D(3500)


def test_two_harvests_into_each_other_are_not_both_proposed_under_wash_sale() -> None:
    """ETH and stETH are each other's substitute and both at a loss: harvesting ETH buys
    stETH, which would wash a stETH harvest in the same scan (and the other way round)."""
    lots = [BIG_LOSS, lot("st1", STETH, "5", "12000", 100)]
    result = run_scan(
        snapshot(lots, tax_year=year(short="20000")), policy(rebalance=False, wash_sale=True)
    )
    [harvest] = _harvests(result.proposals)
    assert harvest.trades[0].sell_asset == ETH  # the deeper loss goes first
    [skip] = _skips(result.no_trades)
    assert (skip.asset, skip.reason) == (STETH, NoTradeReason.CONFLICTS_IN_SCAN)
    assert harvest.subject == f"harvest:{W1}:{ETH}"
