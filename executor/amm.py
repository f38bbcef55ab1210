"""Exact integer AMM arithmetic: Uniswap V2 outputs and marginal (spot) outputs of V2/V3 pools.

`v2_amount_out` is UniswapV2Library.getAmountOut to the wei; chained per hop it equals the
Router02's `getAmountsOut`. The spot functions give what an amount would buy at a pool's
current marginal price after the pool fee, the yardstick for price impact. No floats.
"""

from __future__ import annotations

from dataclasses import dataclass

from executor.errors import NoRouteFound
from ledger.ids import Address

Q192 = 2**192


@dataclass(frozen=True, slots=True)
class V2Reserves:
    """A V2 pair's reserves oriented for one swap direction."""

    reserve_in: int
    reserve_out: int


def v2_amount_out(amount_in_raw: int, reserve_in: int, reserve_out: int) -> int:
    """The V2 router's getAmountOut: output of one hop after the 0.3 % fee, rounded down.

    Raises:
        ValueError: a non-positive input or an empty reserve (the library reverts there too).
    """
    if amount_in_raw <= 0:
        raise ValueError(f"amount_in_raw must be > 0, got {amount_in_raw}")
    if reserve_in <= 0 or reserve_out <= 0:
        raise ValueError(
            f"insufficient liquidity: reserve_in={reserve_in} reserve_out={reserve_out}"
        )
    amount_in_with_fee = amount_in_raw * 997
    return (amount_in_with_fee * reserve_out) // (reserve_in * 1000 + amount_in_with_fee)


def v2_amounts_out(
    amount_in_raw: int, hops: tuple[V2Reserves, ...], token_in: Address, token_out: Address
) -> tuple[int, ...]:
    """The router's getAmountsOut over several hops: every intermediate amount, input first.

    Raises:
        NoRouteFound: a hop has no liquidity or rounds the amount down to zero.
    """
    amounts = [amount_in_raw]
    for reserves in hops:
        try:
            amounts.append(v2_amount_out(amounts[-1], reserves.reserve_in, reserves.reserve_out))
        except ValueError:
            raise NoRouteFound(token_in, token_out, amount_in_raw) from None
    return tuple(amounts)


def v2_spot_out(amount_in_raw: int, reserve_in: int, reserve_out: int) -> int:
    """What `amount_in_raw` buys at the pair's marginal price after the 0.3 % fee."""
    if reserve_in <= 0:
        return 0
    return amount_in_raw * reserve_out * 997 // (reserve_in * 1000)


def v3_spot_out(amount_in_raw: int, sqrt_price_x96: int, zero_for_one: bool, fee_ppm: int) -> int:
    """What `amount_in_raw` buys at a V3 pool's current price (slot0) after its fee.

    The pool's price is token1 per token0 = sqrtPriceX96² / 2¹⁹².
    """
    if sqrt_price_x96 <= 0:
        return 0
    after_fee = amount_in_raw * (1_000_000 - fee_ppm)
    price_num = sqrt_price_x96 * sqrt_price_x96
    if zero_for_one:
        return after_fee * price_num // (Q192 * 1_000_000)
    return after_fee * Q192 // (price_num * 1_000_000)
