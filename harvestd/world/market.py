"""Pure AMM arithmetic for seeding and steering the world's pools: raw prices from USD
prices, V3 sqrt prices and full-range ticks, and the V2 input that moves a pair to a
target price. Exact integers and Fractions only; no I/O.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import isqrt
from typing import Final

Q96: Final = 1 << 96
MIN_TICK: Final = -887272
MAX_TICK: Final = 887272
TICK_SPACING: Final[dict[int, int]] = {500: 10, 3000: 60, 10000: 200}


def raw_price(price0_usd: Decimal, price1_usd: Decimal, decimals0: int, decimals1: int) -> Fraction:
    """token1 smallest units per token0 smallest unit, given both USD prices."""
    return Fraction(price0_usd) / Fraction(price1_usd) * Fraction(10) ** (decimals1 - decimals0)


def sqrt_price_x96(price: Fraction) -> int:
    """Uniswap V3 sqrtPriceX96 for a raw token1/token0 price (rounded down)."""
    return isqrt(price.numerator * (1 << 192) // price.denominator)


def price_from_sqrt_x96(sqrt_price: int) -> Fraction:
    """The raw token1/token0 price of a V3 sqrtPriceX96."""
    return Fraction(sqrt_price * sqrt_price, 1 << 192)


def full_range_ticks(fee: int) -> tuple[int, int]:
    """The lowest and highest usable ticks for a fee tier's spacing.

    Raises:
        KeyError: not a Uniswap V3 fee tier (500, 3000, 10000).
    """
    spacing = TICK_SPACING[fee]
    upper = MAX_TICK // spacing * spacing
    return -upper, upper


def v2_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut (0.3 % fee)."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def v2_input_to_target(reserve0: int, reserve1: int, target: Fraction) -> tuple[bool, int]:
    """(zero_for_one, amount_in) that moves a V2 pair's reserve1/reserve0 to about
    `target`; amount_in is 0 when it is already there."""
    current = Fraction(reserve1, reserve0)
    zero_for_one = target < current
    reserve_in, reserve_out = (reserve0, reserve1) if zero_for_one else (reserve1, reserve0)

    def price_after(amount_in: int) -> Fraction:
        out = v2_amount_out(amount_in, reserve_in, reserve_out)
        new_in, new_out = reserve_in + amount_in, reserve_out - out
        return Fraction(new_out, new_in) if zero_for_one else Fraction(new_in, new_out)

    low, high = 0, reserve_in * 4
    for _ in range(200):
        if high - low <= 1:
            break
        middle = (low + high) // 2
        moved = price_after(middle)
        overshot = moved < target if zero_for_one else moved > target
        if overshot:
            high = middle
        else:
            low = middle
    return zero_for_one, low
