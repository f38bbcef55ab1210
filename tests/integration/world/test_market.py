"""The pure AMM arithmetic the world uses to seed and steer its pools (no chain)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from harvestd.world.market import (
    MAX_TICK,
    full_range_ticks,
    price_from_sqrt_x96,
    raw_price,
    sqrt_price_x96,
    v2_amount_out,
    v2_input_to_target,
)


def test_raw_price_scales_by_decimals() -> None:
    # 1 WETH (18 decimals) = 3000 USDC (6 decimals): 3000e6 / 1e18 raw units
    assert raw_price(Decimal(3000), Decimal(1), 18, 6) == Fraction(3000, 10**12)
    assert raw_price(Decimal(1), Decimal(3000), 6, 18) == Fraction(10**12, 3000)


def test_sqrt_price_round_trips_within_a_part_per_billion() -> None:
    price = raw_price(Decimal(60000), Decimal(3000), 8, 18)
    back = price_from_sqrt_x96(sqrt_price_x96(price))
    assert abs(back - price) / price < Fraction(1, 10**9)


def test_full_range_ticks_are_usable() -> None:
    for fee, spacing in ((500, 10), (3000, 60)):
        lower, upper = full_range_ticks(fee)
        assert lower == -upper
        assert upper % spacing == 0
        assert MAX_TICK - spacing < upper <= MAX_TICK


@given(
    reserve0=st.integers(10**9, 10**27),
    reserve1=st.integers(10**9, 10**27),
    move_bps=st.integers(-4000, 6000).filter(lambda b: abs(b) > 10),
)
def test_v2_input_reaches_the_target_price(reserve0: int, reserve1: int, move_bps: int) -> None:
    target = Fraction(reserve1, reserve0) * (1 + Fraction(move_bps, 10_000))
    zero_for_one, amount_in = v2_input_to_target(reserve0, reserve1, target)
    assert zero_for_one == (move_bps < 0)
    if zero_for_one:
        out = v2_amount_out(amount_in, reserve0, reserve1)
        after = Fraction(reserve1 - out, reserve0 + amount_in)
    else:
        out = v2_amount_out(amount_in, reserve1, reserve0)
        after = Fraction(reserve1 + amount_in, reserve0 - out)
    assert abs(after - target) / target < Fraction(1, 10**6)
