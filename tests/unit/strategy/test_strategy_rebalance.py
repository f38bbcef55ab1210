"""Drift and tax-aware rebalancing, hand-checked.

The portfolio: 10 ETH at $2000 in four lots and no USDC, against a 50/50 target with a
10-point band, and $10,000 of short-term gains already realised this year. Per ETH sold:
"old_lt" realises +1500 long term (300 of tax), "lt" +500 long term (100), "st" +300
short term (111), "st_loss" -400 short term (saves 148).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from strategy_builders import (
    ETH,
    NOW,
    US_RATES,
    USDC,
    W1,
    W2,
    WBTC,
    lot,
    policy,
    raw,
    run_scan,
    snapshot,
    targets,
    year,
)

from strategy.drift import BandSide, find_drift_breaches
from strategy.lotchoice import SaleRequest, choose_lots
from strategy.policy import RebalanceMode
from strategy.proposals import NoTradeReason, Proposal, ProposalKind
from strategy.scan import ScanResult
from strategy.valuation import value_portfolio
from strategy.values import LossDisposal, LotMethod, OpenLot

LOTS = (
    lot("old_lt", ETH, "2.5", "1250", 1000),
    lot("lt", ETH, "2.5", "3750", 700),
    lot("st", ETH, "2.5", "4250", 60),
    lot("st_loss", ETH, "2.5", "6000", 30),
)
GAINS = year(short="10000")


def _rebalance(result: ScanResult) -> Proposal:
    [proposal] = [p for p in result.proposals if p.kind is ProposalKind.REBALANCE]
    return proposal


def _weight_after(proposal: Proposal, lots: tuple[OpenLot, ...] = LOTS) -> D:
    """ETH's weight once the trades are done, at mid prices (USDC at $1, ETH at $2000)."""
    eth_raw = sum(x.amount_raw for x in lots) - sum(t.amount_raw for t in proposal.trades)
    usdc_raw = sum(t.expected_out_raw for t in proposal.trades)
    eth_usd = D(eth_raw).scaleb(-18) * 2000
    usdc_usd = D(usdc_raw).scaleb(-6)
    return eth_usd / (eth_usd + usdc_usd)


def _tax_by(method: LotMethod, proposal: Proposal) -> D:
    """The tax effect another method would have had on the same sale."""
    [trade] = proposal.trades
    proceeds = sum((u.proceeds_usd for u in trade.lots), D(0))
    sale = SaleRequest(ETH, trade.amount_raw, proceeds, LOTS)
    return choose_lots(method, [sale], policy().rules, US_RATES, GAINS, NOW).tax_effect_usd


def test_a_weight_outside_its_band_is_a_breach() -> None:
    snap = snapshot(LOTS)
    breaches = find_drift_breaches(value_portfolio(snap, policy().targets, policy().rules))
    assert [(b.asset, b.side, b.weight) for b in breaches] == [
        (USDC, BandSide.UNDER, D(0)),
        (ETH, BandSide.OVER, D(1)),
    ]


def test_the_relative_band_applies_when_it_is_tighter() -> None:
    eth = lot("e", ETH, "5.6", "11200", 30)  # 11200 of 20000: 56 %
    usdc = lot("u", USDC, "8800", "8800", 30)
    loose = policy(allocation=targets((ETH, "0.5"), (USDC, "0.5"), abs_band="0.10"))
    tight = policy(allocation=targets((ETH, "0.5"), (USDC, "0.5"), rel_band="0.10"))
    snap = snapshot([eth, usdc])
    assert find_drift_breaches(value_portfolio(snap, loose.targets, loose.rules)) == ()
    assert len(find_drift_breaches(value_portfolio(snap, tight.targets, tight.rules))) == 2


def test_inside_the_bands_nothing_is_proposed() -> None:
    lots = [lot("e", ETH, "5", "10000", 30), lot("u", USDC, "10000", "10000", 30)]
    result = run_scan(snapshot(lots), policy(harvest=False))
    assert result.proposals == ()
    [skip] = result.no_trades
    assert skip.reason is NoTradeReason.WITHIN_BANDS


def test_a_rebalance_to_target_ends_inside_the_band_and_beats_fifo_and_hifo() -> None:
    """Sell 5 ETH for 10000 USDC (less 6 of gas): the loss lot and the cheap long-term
    lot. Per ETH proceeds 9994 / 5 = 1998.8: st_loss -1003 short, lt +1247 long:
    -0.37 x 1003 + 0.20 x 1247 = -121.71."""
    result = run_scan(snapshot(LOTS, tax_year=GAINS), policy(harvest=False))
    proposal = _rebalance(result)
    [trade] = proposal.trades
    assert (trade.wallet, trade.sell_asset, trade.buy_asset) == (W1, ETH, USDC)
    assert trade.amount_raw == raw(ETH, "5")
    assert {u.lot_id: u.amount_raw for u in trade.lots} == {
        "st_loss": raw(ETH, "2.5"),
        "lt": raw(ETH, "2.5"),
    }
    assert (proposal.realised_short_usd, proposal.realised_long_usd) == (D(-1003), D(1247))
    assert proposal.tax_effect_usd == D("-121.71")
    assert _weight_after(proposal) == D("0.5")
    assert proposal.tax_effect_usd < _tax_by(LotMethod.FIFO, proposal)  # +998.60
    assert proposal.tax_effect_usd < _tax_by(LotMethod.HIFO, proposal)  # -93.05


def test_loss_lots_are_sold_first() -> None:
    result = run_scan(snapshot(LOTS, tax_year=year()), policy(harvest=False))
    uses = {str(u.lot_id): u.amount_raw for u in _rebalance(result).lots}
    assert uses["st_loss"] == raw(ETH, "2.5")


def test_band_edge_mode_stops_at_the_edge_and_realises_less() -> None:
    """To the 60 % edge: sell 4 ETH (8000), the loss lot and 1.5 ETH of "lt"."""
    to_target = _rebalance(run_scan(snapshot(LOTS, tax_year=GAINS), policy(harvest=False)))
    to_edge = _rebalance(
        run_scan(
            snapshot(LOTS, tax_year=GAINS),
            policy(harvest=False, mode=RebalanceMode.BAND_EDGE),
        )
    )
    [trade] = to_edge.trades
    assert trade.amount_raw == raw(ETH, "4")
    assert {u.lot_id: u.amount_raw for u in trade.lots} == {
        "st_loss": raw(ETH, "2.5"),
        "lt": raw(ETH, "1.5"),
    }
    assert _weight_after(to_edge) == D("0.6")
    assert to_edge.realised_long_usd < to_target.realised_long_usd
    assert to_edge.tax_effect_usd < to_target.tax_effect_usd


def test_band_edge_buffer_keeps_the_weight_inside_the_band() -> None:
    proposal = _rebalance(
        run_scan(
            snapshot(LOTS, tax_year=GAINS),
            policy(harvest=False, mode=RebalanceMode.BAND_EDGE, edge_buffer="0.01"),
        )
    )
    assert proposal.trades[0].amount_raw == raw(ETH, "4.1")
    assert _weight_after(proposal) == D("0.59")


def test_auto_mode_goes_to_target_only_when_the_extra_cost_is_worth_it() -> None:
    """Edge: 4 ETH for 7994: -1003.75 short, +747.75 long: -221.84 tax + 6 gas.
    Target: -121.71 + 6. Going to target costs 100.13 more."""
    snap = snapshot(LOTS, tax_year=GAINS)
    cheap = _rebalance(run_scan(snap, policy(harvest=False, mode=RebalanceMode.AUTO)))
    assert cheap.trades[0].amount_raw == raw(ETH, "4")
    assert ("extra_cost_to_target_usd", "100.13") in cheap.figures
    generous = _rebalance(
        run_scan(
            snap,
            policy(harvest=False, mode=RebalanceMode.AUTO, max_extra_cost_to_target_usd="150"),
        )
    )
    assert generous.trades[0].amount_raw == raw(ETH, "5")


def test_each_wallet_sells_its_own_lots_in_its_own_swap() -> None:
    lots = (*LOTS[:3], lot("st_loss", ETH, "2.5", "6000", 30, wallet=W2))
    proposal = _rebalance(run_scan(snapshot(lots, tax_year=GAINS), policy(harvest=False)))
    by_wallet = {t.wallet: t for t in proposal.trades}
    assert set(by_wallet) == {W1, W2}
    assert [u.lot_id for u in by_wallet[W2].lots] == ["st_loss"]
    assert [u.lot_id for u in by_wallet[W1].lots] == ["lt"]
    assert all(u.wallet == t.wallet for t in proposal.trades for u in t.lots)
    assert _weight_after(proposal, lots) == D("0.5")


def test_only_overweight_assets_are_sold_and_underweight_ones_bought() -> None:
    allocation = targets((ETH, "0.4"), (WBTC, "0.3"), (USDC, "0.3"))
    lots = [
        lot("e", ETH, "6", "12000", 30),  # 12000: 60 %
        lot("b", WBTC, "0.1", "6000", 30),  # 6000: 30 %
        lot("u", USDC, "2000", "2000", 30),  # 2000: 10 %
    ]
    proposal = _rebalance(run_scan(snapshot(lots), policy(harvest=False, allocation=allocation)))
    assert {t.sell_asset for t in proposal.trades} == {ETH}
    assert {t.buy_asset for t in proposal.trades} == {USDC}
    assert sum(t.amount_raw for t in proposal.trades) == raw(ETH, "2")


def test_a_buy_inside_a_reentry_window_is_not_made() -> None:
    sold = LossDisposal(USDC, W1, NOW - timedelta(days=3), D(10))
    result = run_scan(snapshot(LOTS, loss_disposals=[sold]), policy(harvest=False, wash_sale=True))
    assert result.proposals == ()
    assert [n.reason for n in result.no_trades] == [NoTradeReason.NO_BUY_CANDIDATE]


def test_lots_a_rebalance_sells_are_not_harvested_in_the_same_scan() -> None:
    result = run_scan(snapshot(LOTS, tax_year=GAINS), policy())
    proposal = _rebalance(result)
    harvested = {
        u.lot_id for p in result.proposals if p.kind is ProposalKind.HARVEST for u in p.lots
    }
    assert harvested.isdisjoint({u.lot_id for u in proposal.lots})


def test_an_asset_the_rebalance_buys_is_not_harvested_under_wash_sale() -> None:
    """WBTC is underweight and at a loss: buying it back would wash the loss."""
    allocation = targets((ETH, "0.5"), (WBTC, "0.5"))
    lots = [lot("e", ETH, "10", "20000", 30), lot("b", WBTC, "0.1", "9000", 30)]
    result = run_scan(
        snapshot(lots), policy(allocation=allocation, wash_sale=True, substitutes={WBTC: ETH})
    )
    proposal = _rebalance(result)
    assert {t.buy_asset for t in proposal.trades} == {WBTC}
    assert [p for p in result.proposals if p.kind is ProposalKind.HARVEST] == []
    assert NoTradeReason.REBALANCE_BUYS_ASSET in [n.reason for n in result.no_trades]


def test_an_underweight_breach_alone_is_cured_from_the_overweight_assets() -> None:
    """USDC at 1000 of 19000 (5.3 %) against 20 % +- 10 points: to its 10 % edge, 900 of
    value moves in, taken from ETH and WBTC (each 9000, 47.4 % against 40 %, inside their
    bands) in proportion to how far each is over target: 450 each."""
    allocation = targets((ETH, "0.4"), (WBTC, "0.4"), (USDC, "0.2"))
    lots = [
        lot("e", ETH, "4.5", "9000", 30),
        lot("b", WBTC, "0.15", "9000", 30),
        lot("u", USDC, "1000", "1000", 30),
    ]
    snap = snapshot(lots)
    pol = policy(harvest=False, allocation=allocation, mode=RebalanceMode.BAND_EDGE)
    breaches = find_drift_breaches(value_portfolio(snap, pol.targets, pol.rules))
    assert [(b.asset, b.side) for b in breaches] == [(USDC, BandSide.UNDER)]
    proposal = _rebalance(run_scan(snap, pol))
    sold = {t.sell_asset: t.amount_raw for t in proposal.trades}
    assert {t.buy_asset for t in proposal.trades} == {USDC}
    assert abs(sold[ETH] - raw(ETH, "0.225")) <= 10**6  # 450 / 2000
    assert abs(sold[WBTC] - raw(WBTC, "0.0075")) <= 1  # 450 / 60000


def test_rebalance_log_fields_are_stable_and_carry_units() -> None:
    proposal = _rebalance(run_scan(snapshot(LOTS, tax_year=GAINS), policy(harvest=False)))
    fields = proposal.log_fields()
    assert fields["kind"] == "rebalance"
    assert fields["mode"] == "target"
    assert fields["breach_count"] == "2"
    assert fields["breach_1_asset"] == ETH
    assert fields["breach_1_weight_ratio"] == "1.0000"
    assert fields["tax_effect_usd"] == "-121.71"
    plain = {"fingerprint", "subject", "kind", "reason", "reentry", "mode"}
    suffixes = ("_usd", "_count", "_raw", "_asset", "_wallet", "_ratio", "_side")
    for key, value in fields.items():
        assert isinstance(value, str | int)
        assert key in plain or key.endswith(suffixes), key
