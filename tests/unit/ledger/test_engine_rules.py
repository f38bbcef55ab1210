"""The engine's rules one by one: refusals with their fields, conversions, non-taxable
sends, loss-rule edge cases, replay order within one instant, and sale estimates."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ledger.engine import (
    Action,
    AdjustmentKind,
    DuplicateEventId,
    InsufficientLots,
    InvalidEvent,
    Jurisdiction,
    LotEvent,
    LotMethod,
    MatchRule,
    MethodNotAllowed,
    Policy,
    SpecAmountMismatch,
    SpecLot,
    SpecLotExhausted,
    SpecLotMissing,
    Term,
    estimate_sale,
    replay,
    select_lots,
)

US_FIFO = Policy(Jurisdiction.US, LotMethod.FIFO)
US_WASH = Policy(Jurisdiction.US, LotMethod.FIFO, wash_sale=True)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def buy(
    event_id: str, day: str, amount: int, value: str, asset: str = "ETH", wallet: str = "main"
) -> LotEvent:
    return LotEvent(event_id, at(day), Action.ACQUIRE, asset, amount, wallet, Decimal(value))


def sell(
    event_id: str,
    day: str,
    amount: int,
    value: str,
    asset: str = "ETH",
    wallet: str = "main",
    lots: tuple[SpecLot, ...] = (),
) -> LotEvent:
    return LotEvent(
        event_id, at(day), Action.DISPOSE, asset, amount, wallet, Decimal(value), lots=lots
    )


def test_sale_draws_only_on_its_own_wallet() -> None:
    events = [
        buy("b1", "2024-01-01", 10, "100", wallet="cold"),
        buy("b2", "2024-01-02", 3, "30"),
        sell("s1", "2024-02-01", 5, "80"),
    ]
    with pytest.raises(InsufficientLots) as caught:
        replay(events, US_FIFO)
    error = caught.value
    assert (error.wallet, error.asset, error.wanted_raw, error.held_raw, error.event_id) == (
        "main",
        "ETH",
        5,
        3,
        "s1",
    )
    assert "s1" in str(error) and "main" in str(error)


def test_pooled_jurisdictions_still_refuse_more_than_the_wallet_holds() -> None:
    events = [buy("b1", "2024-01-01", 10, "100", wallet="cold"), sell("s1", "2024-02-01", 5, "80")]
    with pytest.raises(InsufficientLots) as caught:
        replay(events, Policy(Jurisdiction.UK))
    assert caught.value.event_id == "s1"


def test_spec_lot_missing_exhausted_and_mismatched() -> None:
    base = [buy("b1", "2024-01-01", 10, "100"), buy("b2", "2024-01-02", 10, "200")]
    with pytest.raises(SpecLotMissing) as missing:
        replay([*base, sell("s1", "2024-02-01", 1, "20", lots=(SpecLot("b9", 1),))], US_FIFO)
    assert (missing.value.event_id, missing.value.lot) == ("s1", "b9")
    with pytest.raises(SpecLotExhausted) as exhausted:
        replay([*base, sell("s1", "2024-02-01", 11, "20", lots=(SpecLot("b1", 11),))], US_FIFO)
    assert (exhausted.value.event_id, exhausted.value.wanted_raw, exhausted.value.left_raw) == (
        "s1",
        11,
        10,
    )
    with pytest.raises(SpecAmountMismatch) as mismatch:
        replay([*base, sell("s1", "2024-02-01", 4, "20", lots=(SpecLot("b1", 3),))], US_FIFO)
    assert (mismatch.value.named_raw, mismatch.value.amount_raw) == (3, 4)


def test_pooled_jurisdictions_refuse_named_lots() -> None:
    events = [
        buy("b1", "2024-01-01", 10, "100"),
        sell("s1", "2024-02-01", 1, "20", lots=(SpecLot("b1", 1),)),
    ]
    for jurisdiction in (Jurisdiction.UK, Jurisdiction.CA):
        with pytest.raises(InvalidEvent) as caught:
            replay(events, Policy(jurisdiction))
        assert caught.value.event_id == "s1"


def test_spec_takes_the_named_lots() -> None:
    events = [
        buy("b1", "2024-01-01", 10, "100"),
        buy("b2", "2024-01-02", 10, "200"),
        sell("s1", "2024-02-01", 6, "90", lots=(SpecLot("b2", 4), SpecLot("b1", 2))),
    ]
    disposal = replay(events, US_FIFO).disposals[0]
    assert [(p.lot, p.rule, p.amount_raw, p.cost) for p in disposal.pieces] == [
        ("b1", MatchRule.SPEC, 2, Decimal(20)),
        ("b2", MatchRule.SPEC, 4, Decimal(80)),
    ]
    assert disposal.proceeds == 90 and disposal.gain == -10


def test_refusals_of_malformed_events() -> None:
    with pytest.raises(DuplicateEventId):
        replay([buy("b1", "2024-01-01", 1, "1"), buy("b1", "2024-01-02", 1, "1")], US_FIFO)
    naive = LotEvent("b1", datetime(2024, 1, 1), Action.ACQUIRE, "ETH", 1, value=Decimal(1))
    with pytest.raises(InvalidEvent):
        replay([naive], US_FIFO)
    with pytest.raises(InvalidEvent) as no_value:
        replay([LotEvent("b1", at("2024-01-01"), Action.ACQUIRE, "ETH", 1)], US_FIFO)
    assert no_value.value.event_id == "b1"
    with pytest.raises(MethodNotAllowed):
        replay([], Policy(Jurisdiction.UK, LotMethod.HIFO))
    with pytest.raises(MethodNotAllowed):
        replay([], Policy(Jurisdiction.DE, LotMethod.LIFO))


def test_acquisitions_come_first_within_one_instant() -> None:
    """A buy and a sale at the same time (a date-only basis file): the buy is booked first,
    whatever order the events are given in."""
    events = [sell("s1", "2024-01-01", 5, "60"), buy("b1", "2024-01-01", 5, "50")]
    result = replay(events, US_FIFO)
    assert result.disposals[0].gain == 10


def test_convert_moves_lots_keeping_cost_and_dates() -> None:
    events = [
        buy("b1", "2024-01-01", 10, "100", asset="ETH"),
        buy("b2", "2024-01-05", 10, "300", asset="ETH"),
        LotEvent("w1", at("2024-02-01"), Action.CONVERT, "ETH", 15, to_asset="WETH"),
        sell("s1", "2024-03-01", 12, "600", asset="WETH"),
    ]
    result = replay(events, US_FIFO)
    (disposal,) = result.disposals
    assert [(p.lot, p.origin, p.amount_raw, p.cost) for p in disposal.pieces] == [
        ("b1>w1", "b1", 10, Decimal(100)),
        ("b2>w1", "b2", 2, Decimal(60)),
    ]
    assert disposal.pieces[0].acquired_at == at("2024-01-01")
    holdings = {(h.asset, h.wallet): (h.amount_raw, h.cost) for h in result.holdings}
    assert holdings == {("ETH", "main"): (5, Decimal(150)), ("WETH", "main"): (3, Decimal(90))}


def test_non_taxable_send_removes_lots_without_realising() -> None:
    events = [
        buy("b1", "2024-01-01", 10, "100"),
        LotEvent("x1", at("2024-02-01"), Action.WITHDRAW, "ETH", 4),
    ]
    result = replay(events, US_FIFO)
    assert not result.disposals
    (removal,) = result.removals
    assert (removal.amount_raw, removal.cost, removal.pieces[0].lot) == (4, Decimal(40), "b1")
    assert result.holdings[0].cost == 60


def test_split_cost_rounds_half_even_and_conserves_the_total() -> None:
    """Three thirds of $100: 33.333...333 twice (18 places) and the rest, exactly $100."""
    events = [
        buy("b1", "2024-01-01", 3, "100"),
        sell("s1", "2024-02-01", 1, "50"),
        sell("s2", "2024-02-02", 1, "50"),
        sell("s3", "2024-02-03", 1, "50"),
    ]
    costs = [d.cost for d in replay(events, US_FIFO).disposals]
    assert costs == [
        Decimal("33.333333333333333333"),
        Decimal("33.333333333333333334"),
        Decimal("33.333333333333333333"),
    ]
    assert sum(costs) == 100


def test_wash_sale_partial_replacement_splits_the_replacement_lot() -> None:
    """IRS Pub 550: 50 of 100 loss shares replaced by a 100-share purchase: half the loss
    ($125) goes onto 50 of the new shares, split off as their own lot."""
    events = [
        buy("b1", "2023-01-03", 50, "500"),
        sell("s1", "2023-06-01", 50, "375"),
        buy("b2", "2023-06-10", 100, "800"),
    ]
    result = replay(events, US_WASH)
    assert result.disposals[0].disallowed_loss == 125
    lots = {lot.id: lot for lot in result.lots}
    assert lots["b2~s1"].amount_raw == 50 and lots["b2~s1"].cost == 525
    assert lots["b2"].amount_raw == 50 and lots["b2"].cost == 400
    (adjustment,) = lots["b2~s1"].adjustments
    assert (adjustment.kind, adjustment.event_id, adjustment.amount) == (
        AdjustmentKind.WASH_SALE,
        "s1",
        Decimal(125),
    )
    assert adjustment.holding_days_added == 149
    assert lots["b2"].adjustments == ()


def test_wash_sale_replacement_absorbs_only_once() -> None:
    events = [
        buy("b1", "2023-01-03", 20, "2000"),
        sell("s1", "2023-03-01", 10, "500"),
        buy("b2", "2023-03-05", 10, "600"),
        sell("s2", "2023-03-10", 10, "500"),
    ]
    result = replay(events, US_WASH)
    s1, s2 = result.disposals
    assert s1.disallowed_loss == 500
    # s2 sells the rest of b1; b2 already carries s1's loss, so s2's loss stands.
    assert s2.pieces[0].lot == "b1" and s2.disallowed_loss == 0 and s2.gain == -500


def test_wash_sale_window_closes_after_thirty_days() -> None:
    events = [
        buy("b1", "2023-01-03", 10, "1000"),
        sell("s1", "2023-06-01", 10, "750"),
        buy("b2", "2023-07-02", 10, "800"),
    ]
    result = replay(events, US_WASH)
    assert result.disposals[0].disallowed_loss == 0
    assert result.lots[0].cost == 800


def test_superficial_loss_needs_the_property_held_at_the_end_of_the_period() -> None:
    """CRA: bought back within 30 days but sold again before the 30th day: not superficial."""
    events = [
        buy("b1", "2024-01-01", 10, "1000"),
        sell("s1", "2024-03-01", 10, "600"),
        buy("b2", "2024-03-05", 10, "650"),
        sell("s2", "2024-03-20", 10, "700"),
    ]
    result = replay(events, Policy(Jurisdiction.CA))
    assert [d.disallowed_loss for d in result.disposals] == [0, 0]
    assert result.totals.net_gain == -350


def test_de_method_is_fifo_and_terms_are_exempt_after_one_year() -> None:
    events = [buy("b1", "2023-03-01", 1, "100"), sell("s1", "2024-03-02", 1, "150")]
    disposal = replay(events, Policy(Jurisdiction.DE)).disposals[0]
    assert (disposal.term, disposal.pieces[0].rule) == (Term.EXEMPT, MatchRule.FIFO)


def test_select_lots_and_estimate_sale() -> None:
    events = [
        buy("b1", "2022-01-10", 10, "10000"),
        buy("b2", "2022-06-10", 10, "30000"),
        buy("b3", "2023-03-01", 10, "20000"),
        buy("b4", "2023-09-01", 10, "14000"),
    ]
    policy = Policy(Jurisdiction.US, LotMethod.MIN_TAX)
    lots = replay(events, policy).lots
    sold_at = at("2023-10-01")
    picks = select_lots(lots, 25, Decimal(50000), sold_at, policy)
    assert [(lot.id, amount) for lot, amount in picks] == [("b2", 10), ("b3", 10), ("b1", 5)]
    estimate = estimate_sale(picks, Decimal(50000), sold_at, policy)
    assert (estimate.cost, estimate.gain) == (Decimal(55000), Decimal(-5000))
    assert (estimate.short_term_gain, estimate.long_term_gain) == (Decimal(0), Decimal(-5000))
    assert estimate.tax == Decimal("-1000")
    with pytest.raises(InsufficientLots):
        select_lots(lots, 41, Decimal(1), sold_at, policy)


def test_replay_leaves_the_garbage_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    replay([buy("b1", "2024-01-01", 1, "1")], US_FIFO)
    assert gc.isenabled()
    with pytest.raises(InsufficientLots):
        replay([sell("s1", "2024-01-01", 1, "1")], US_FIFO)
    assert gc.isenabled()
    gc.disable()
    try:
        replay([buy("b1", "2024-01-01", 1, "1")], US_FIFO)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_seq_orders_events_within_one_instant_and_times_are_read_in_utc() -> None:
    """The chain wiring's `seq` (block, log index, leg) decides within one timestamp; an
    aware non-UTC time is the same instant in UTC."""
    moment = datetime(2024, 1, 1, 12, tzinfo=UTC)
    events = [
        LotEvent("b2", moment, Action.ACQUIRE, "ETH", 1, value=Decimal(200), seq=2),
        LotEvent(
            "b1",
            moment.astimezone(timezone(timedelta(hours=5))),
            Action.ACQUIRE,
            "ETH",
            1,
            value=Decimal(100),
            seq=1,
        ),
        LotEvent("s1", moment + timedelta(days=1), Action.DISPOSE, "ETH", 1, value=Decimal(150)),
    ]
    (disposal,) = replay(events, US_FIFO).disposals
    assert disposal.pieces[0].lot == "b1" and disposal.gain == 50
    (lifo,) = replay(events, Policy(Jurisdiction.US, LotMethod.LIFO)).disposals
    assert lifo.pieces[0].lot == "b2" and lifo.gain == -50
