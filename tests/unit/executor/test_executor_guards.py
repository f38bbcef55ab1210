"""The guards refuse with the numbers, and pass what is within limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from executor.errors import (
    DailyCapExceeded,
    DeadlineTooFar,
    GasPriceAboveCap,
    GasShareTooHigh,
    PriceImpactTooHigh,
    QuoteStale,
    RouterNotAllowed,
    SlippageExceeded,
    TokenNotAllowed,
    TradeAboveCap,
)
from executor.guards import (
    check_daily_cap,
    check_gas_share,
    check_price_impact,
    check_quote_fresh,
    check_router_allowed,
    check_slippage,
    check_tokens_allowed,
    check_trade_cap,
    choose_deadline,
    choose_fee_caps,
    min_out_from_slippage,
    price_impact_bps,
)
from ledger.ids import Address

T1 = Address("0x0000000000000000000000000000000000000001")
T2 = Address("0x0000000000000000000000000000000000000002")


def test_min_out_rounds_up() -> None:
    assert min_out_from_slippage(10_000, 50) == 9_950
    assert min_out_from_slippage(10_001, 50) == 9_951  # 9950.995 -> 9951
    assert min_out_from_slippage(10_000, 0) == 10_000
    with pytest.raises(ValueError):
        min_out_from_slippage(1, 10_001)


def test_slippage_refusal_carries_numbers() -> None:
    check_slippage("v2:A-B", 100, 100)
    with pytest.raises(SlippageExceeded) as caught:
        check_slippage("v2:A-B", 100, 99)
    assert (caught.value.route, caught.value.min_out_raw, caught.value.quoted_out_raw) == (
        "v2:A-B",
        100,
        99,
    )
    assert "99" in str(caught.value) and "100" in str(caught.value)
    assert caught.value.refusal == "slippage_exceeded"


def test_price_impact() -> None:
    assert price_impact_bps(9_900, 10_000) == Decimal(100)
    check_price_impact("r", 9_900, 10_000, 100)
    with pytest.raises(PriceImpactTooHigh) as caught:
        check_price_impact("r", 9_899, 10_000, 100)
    assert caught.value.impact_bps == Decimal("101")


def test_fee_caps_leave_room_for_base_fee_growth_within_the_cap() -> None:
    fees = choose_fee_caps(base_fee_wei=10, priority_fee_wei=2, max_fee_per_gas_wei=100)
    assert (fees.max_fee_per_gas_wei, fees.max_priority_fee_per_gas_wei) == (22, 2)
    capped = choose_fee_caps(base_fee_wei=40, priority_fee_wei=2, max_fee_per_gas_wei=50)
    assert capped.max_fee_per_gas_wei == 50
    assert capped.expected_gas_price_wei == 42
    with pytest.raises(GasPriceAboveCap) as caught:
        choose_fee_caps(base_fee_wei=49, priority_fee_wei=2, max_fee_per_gas_wei=50)
    assert (caught.value.base_fee_wei, caught.value.cap_wei) == (49, 50)


def test_gas_share() -> None:
    check_gas_share(Decimal("1"), Decimal("100"), 100)
    with pytest.raises(GasShareTooHigh):
        check_gas_share(Decimal("1.01"), Decimal("100"), 100)
    with pytest.raises(GasShareTooHigh):
        check_gas_share(Decimal("0"), Decimal("0"), 100)


def test_allow_lists() -> None:
    check_tokens_allowed((T1, T2), frozenset({T1, T2}))
    with pytest.raises(TokenNotAllowed) as caught:
        check_tokens_allowed((T1, T2), frozenset({T1}))
    assert caught.value.token == T2
    with pytest.raises(RouterNotAllowed):
        check_router_allowed(T1, frozenset({T2}))


def test_value_caps() -> None:
    check_trade_cap(Decimal("100"), Decimal("100"))
    with pytest.raises(TradeAboveCap):
        check_trade_cap(Decimal("100.01"), Decimal("100"))
    check_daily_cap(Decimal("50"), Decimal("50"), Decimal("100"))
    with pytest.raises(DailyCapExceeded) as caught:
        check_daily_cap(Decimal("50"), Decimal("51"), Decimal("100"))
    assert caught.value.spent_today_usd == Decimal("50")


def test_quote_freshness_is_two_blocks() -> None:
    check_quote_fresh(10, 12, 2)
    with pytest.raises(QuoteStale):
        check_quote_fresh(10, 13, 2)


def test_deadline_at_most_five_minutes() -> None:
    assert choose_deadline(1_000, 300) == 1_300
    with pytest.raises(DeadlineTooFar):
        choose_deadline(1_000, 301)
