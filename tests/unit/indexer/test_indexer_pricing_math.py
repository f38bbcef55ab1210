"""Exact price math, price routing and the swap valuation rule (no float anywhere)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from math import isqrt

from indexer_unit_logs import BLOCK_HASH, TX, addr

from indexer.classify import PoolProtocol, PoolTokens
from indexer.pricing import PoolPrice, PriceBook, apply_prices, v2_price, v3_price
from ledger.events import NATIVE_ASSET, TX_LEVEL, ChainRef, EventKind, LedgerEvent
from ledger.ids import Address, BlockNumber, ChainId, LogIndex

USDC, WETH, TKA, TKZ = addr(200), addr(201), addr(202), addr(203)
P_WETH_USDC, P_TKA_WETH = addr(300), addr(301)
DECIMALS = {USDC: 6, WETH: 18, TKA: 8, TKZ: 18}


def test_v2_price_scales_by_decimals() -> None:
    # 1000 WETH (18) against 2,000,000 USDC (6): one WETH is worth 2000 USDC.
    assert v2_price(1000 * 10**18, 2_000_000 * 10**6, 18, 6) == Decimal(2000)
    assert v2_price(0, 5, 18, 18) is None


def test_v3_price_is_exact_for_exact_squares() -> None:
    assert v3_price(2**96, 18, 18) == Decimal(1)
    assert v3_price(3 * 2**96, 18, 18) == Decimal(9)
    assert v3_price(0, 18, 18) is None


def test_v3_price_usdc_weth_pool() -> None:
    # token0 USDC (6), token1 WETH (18); ETH at 2000 USDC -> 1 USDC = 0.0005 WETH.
    sqrt_price = isqrt(5 * 10**8 * 2**192)
    price = v3_price(sqrt_price, 6, 18)
    assert price is not None
    assert abs(price - Decimal("0.0005")) < Decimal("1e-30")


def _book(prices: list[PoolPrice]) -> PriceBook:
    pools = {
        P_WETH_USDC: PoolTokens(P_WETH_USDC, PoolProtocol.UNISWAP_V3, USDC, WETH),
        P_TKA_WETH: PoolTokens(P_TKA_WETH, PoolProtocol.UNISWAP_V2, TKA, WETH),
    }
    return PriceBook.build(pools, DECIMALS, frozenset({USDC}), WETH, prices)


def _price(
    pool: Address, t0: Address, t1: Address, p: str, block: int, index: int = 0
) -> PoolPrice:
    return PoolPrice(pool, t0, t1, Decimal(p), BlockNumber(block), LogIndex(index))


BOOK = _book(
    [
        _price(P_WETH_USDC, USDC, WETH, "0.0005", 10),  # ETH = 2000
        _price(P_WETH_USDC, USDC, WETH, "0.00025", 20),  # ETH = 4000
        _price(P_TKA_WETH, TKA, WETH, "0.01", 15),
    ]
)


def test_prices_route_through_the_numeraire_and_follow_time() -> None:
    assert BOOK.usd_price(USDC, 1) == 1
    assert BOOK.usd_price(WETH, 9) is None
    assert BOOK.usd_price(WETH, 10) == Decimal(2000)
    assert BOOK.usd_price(NATIVE_ASSET, 25) == Decimal(4000)
    assert BOOK.usd_price(TKA, 14) is None  # its pool had no state yet
    assert BOOK.usd_price(TKA, 15) == Decimal(20)
    assert BOOK.usd_price(TKA, 20) == Decimal(40)
    assert BOOK.usd_price(TKZ, 20) is None
    assert BOOK.value_usd(TKA, 150_000_000, 20) == Decimal(60)  # 1.5 TKA (8 decimals)


def _event(kind: EventKind, asset: Address, amount: int, log_index: int = 0) -> LedgerEvent:
    ref = ChainRef(ChainId(1), BlockNumber(20), BLOCK_HASH, TX, LogIndex(log_index))
    return LedgerEvent(
        ref=ref,
        leg=0,
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        kind=kind,
        wallet=addr(1),
        asset=asset,
        amount_raw=amount,
        value_usd=None,
    )


def test_a_swap_is_valued_once_by_its_stable_side_and_gas_reduces_proceeds() -> None:
    gas = _event(EventKind.GAS, NATIVE_ASSET, 10**15, TX_LEVEL)
    out_leg = _event(EventKind.SWAP_OUT, TKA, 10**8, 0)  # 1 TKA, 20 USD when block 20 began
    in_leg = _event(EventKind.SWAP_IN, USDC, 39_500_000, 1)  # 39.5 USDC received
    gas_v, out_v, in_v = apply_prices([gas, out_leg, in_leg], BOOK)
    assert out_v.value_usd == in_v.value_usd == Decimal("39.5")
    assert gas_v.value_usd == Decimal(2)  # 0.001 ETH at 2000 (block 19)
    assert out_v.fee_usd == Decimal(2) and in_v.fee_usd == 0
    assert not any(e.price_missing for e in (gas_v, out_v, in_v))


def test_without_a_stable_side_the_priced_side_values_the_swap() -> None:
    out_leg = _event(EventKind.SWAP_OUT, TKZ, 10**18, 0)  # unpriced
    in_leg = _event(EventKind.SWAP_IN, TKA, 2 * 10**8, 1)  # 2 TKA = 40 USD at block 19
    out_v, in_v = apply_prices([out_leg, in_leg], BOOK)
    assert out_v.value_usd == in_v.value_usd == Decimal(40)


def test_a_missing_price_is_missing_not_guessed() -> None:
    out_leg = _event(EventKind.SWAP_OUT, TKZ, 10**18, 0)
    in_leg = replace(_event(EventKind.SWAP_IN, TKZ, 5, 1), asset=addr(999))
    received = _event(EventKind.RECEIVE, TKZ, 1, 2)
    valued = apply_prices([out_leg, in_leg, received], BOOK)
    assert all(e.value_usd is None and e.price_missing for e in valued)
