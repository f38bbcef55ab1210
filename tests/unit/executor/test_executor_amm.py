"""Exact AMM arithmetic: the V2 router formula and marginal-price outputs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from executor.amm import V2Reserves, v2_amount_out, v2_amounts_out, v2_spot_out, v3_spot_out
from executor.errors import NoRouteFound
from ledger.ids import Address

A = Address("0x0000000000000000000000000000000000000001")
B = Address("0x0000000000000000000000000000000000000002")


def test_v2_amount_out_matches_the_library_formula_by_hand() -> None:
    # 1 ETH into a 100 ETH / 300_000 USDC pair: 997e18*300000e6 / (100e18*1000 + 997e18)
    out = v2_amount_out(10**18, 100 * 10**18, 300_000 * 10**6)
    assert out == (997 * 10**18 * 300_000 * 10**6) // (100 * 10**18 * 1000 + 997 * 10**18)
    assert out == 2_961_474_103


def test_v2_amounts_out_chains_hops() -> None:
    hops = (V2Reserves(10**12, 5 * 10**20), V2Reserves(10**21, 10**10))
    amounts = v2_amounts_out(10**6, hops, A, B)
    assert amounts[1] == v2_amount_out(10**6, 10**12, 5 * 10**20)
    assert amounts[2] == v2_amount_out(amounts[1], 10**21, 10**10)


def test_v2_empty_pool_has_no_route() -> None:
    with pytest.raises(NoRouteFound):
        v2_amounts_out(10, (V2Reserves(0, 10),), A, B)


@given(
    amount=st.integers(min_value=1, max_value=10**30),
    reserve_in=st.integers(min_value=1, max_value=2**112 - 1),
    reserve_out=st.integers(min_value=1, max_value=2**112 - 1),
)
def test_v2_output_never_beats_the_marginal_price(
    amount: int, reserve_in: int, reserve_out: int
) -> None:
    out = v2_amount_out(amount, reserve_in, reserve_out)
    assert 0 <= out < reserve_out
    assert out <= v2_spot_out(amount, reserve_in, reserve_out)


def test_v3_spot_out_both_directions() -> None:
    sqrt_price = 2**96  # price 1 token1 per token0
    assert v3_spot_out(10**6, sqrt_price, True, 3000) == 997_000
    assert v3_spot_out(10**6, sqrt_price, False, 500) == 999_500
    sqrt_price_4 = 2 * 2**96  # price 4
    assert v3_spot_out(10**6, sqrt_price_4, True, 0) == 4 * 10**6
    assert v3_spot_out(4 * 10**6, sqrt_price_4, False, 0) == 10**6
