"""Prices read from the pools' Sync logs agree with the pools' own reserves at every block,
and a classified swap is valued by DESIGN.md's rule."""

from __future__ import annotations

from decimal import Decimal

import pytest
from indexer_scenario import run_scenario
from indexer_testchain import World

from indexer.classify import PoolProtocol, classify_transaction
from indexer.gather import gather_range
from indexer.native import TraceMethod
from indexer.pricing import (
    PriceBook,
    apply_prices,
    fetch_decimals,
    fetch_pool_price_at,
    fetch_pool_prices,
    fetch_pool_tokens,
    v2_price,
)
from indexer.rpc import RpcClient
from indexer.sweep import AdaptiveSpan, LogSweeper
from ledger.events import NATIVE_ASSET, EventKind
from ledger.ids import Address, ChainId


@pytest.mark.asyncio
async def test_sync_log_prices_match_reserves_and_value_swaps(bare_world: World) -> None:
    scenario = run_scenario(bare_world)
    pairs = {
        Address(p.address): PoolProtocol.UNISWAP_V2
        for p in (bare_world.pair_ab, bare_world.pair_aw, bare_world.pair_bw)
    }
    a, b, weth = (Address(t.address) for t in (bare_world.tka, bare_world.tkb, bare_world.weth))
    owned = frozenset(Address(w) for w in bare_world.wallets)
    async with RpcClient(bare_world.url) as rpc:
        pools = await fetch_pool_tokens(rpc, pairs)
        decimals = await fetch_decimals(rpc, {a, b, weth})
        assert decimals == {a: 18, b: 18, weth: 18}
        sweeper = LogSweeper(rpc, span=AdaptiveSpan(span=3))
        prices, errors = await fetch_pool_prices(sweeper, pools, decimals, 0, scenario.to_block)
        assert errors == []
        # The fallback: state at a past block by eth_call (Anvil keeps every block's state).
        by_call = await fetch_pool_price_at(
            rpc, pools[Address(bare_world.pair_aw.address)], decimals, scenario.to_block - 3
        )
        gathered = await gather_range(
            LogSweeper(rpc),
            ChainId(31337),
            owned,
            scenario.from_block,
            scenario.to_block,
            TraceMethod.TRACE_FILTER,
        )
    # TKB plays the USD stable here; WETH is the numeraire.
    book = PriceBook.build(pools, decimals, frozenset({b}), weth, prices)
    for pool in pools:
        pair = bare_world.pair_contract(pool)
        for block in range(scenario.from_block, scenario.to_block + 1):
            r0, r1, _ = pair.functions.getReserves().call(block_identifier=block)
            state = book.pool_price_at(pool, block)
            assert state is not None and state.price0_in_1 == v2_price(r0, r1, 18, 18)
    assert by_call is not None
    assert (
        by_call.price0_in_1 == book.pool_price_at(by_call.pool, scenario.to_block - 3).price0_in_1
    )  # type: ignore[union-attr]
    # TKA is priced directly against the stable TKB, the native coin through WETH/TKB.
    block = scenario.to_block
    assert book.usd_price(b, block) == Decimal(1)
    assert book.usd_price(NATIVE_ASSET, block) == book.usd_price(weth, block)
    assert book.usd_price(weth, block) is not None
    swap_tx = scenario.steps["swap_a_b"]
    bundle = next(x for x in gathered.bundles if x.receipt.tx_hash == swap_tx)
    events = classify_transaction(
        bundle, owned, wrapped_native=frozenset({weth}), pools=pools
    ).events
    valued = apply_prices(events, book)
    out_leg = next(e for e in valued if e.kind is EventKind.SWAP_OUT)
    in_leg = next(e for e in valued if e.kind is EventKind.SWAP_IN)
    gas = next(e for e in valued if e.kind is EventKind.GAS)
    # The stable side (TKB, $1) sets the value of both legs.
    assert in_leg.asset == b
    assert out_leg.value_usd == in_leg.value_usd == Decimal(in_leg.amount_raw) / Decimal(10**18)
    assert gas.value_usd is not None and gas.value_usd > 0
    assert out_leg.fee_usd == gas.value_usd and in_leg.fee_usd == 0
    assert not any(e.price_missing for e in valued)


@pytest.mark.asyncio
async def test_a_price_before_any_pool_state_is_missing(bare_world: World) -> None:
    a, b, weth = (Address(t.address) for t in (bare_world.tka, bare_world.tkb, bare_world.weth))
    pairs = {Address(bare_world.pair_aw.address): PoolProtocol.UNISWAP_V2}
    async with RpcClient(bare_world.url) as rpc:
        pools = await fetch_pool_tokens(rpc, pairs)
        # At block 1 the pair did not exist yet: the call answers no reserves.
        early = await fetch_pool_price_at(
            rpc, pools[Address(bare_world.pair_aw.address)], {a: 18, weth: 18}, 1
        )
    assert early is None
    book = PriceBook.build(pools, {a: 18, b: 18, weth: 18}, frozenset({b}), weth, [])
    assert book.usd_price(a, 10**6) is None
    assert book.value_usd(a, 10**18, 10**6) is None
