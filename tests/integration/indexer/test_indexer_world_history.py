"""The indexer against the shared Uniswap world (harvestd.world): every owner transaction of
the scripted history (V2 and V3 swaps, native ETH paid out by routers, wraps, transfers
between own wallets, receipts, approvals) is classified with the amounts the world
recorded, and valued at the price the world recorded, from pool logs alone (this node
answers no eth_call at past blocks: it was restored from a state dump)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from harvestd.world.history import TxKind
from harvestd.world.launch import World
from harvestd.world.manifest import Protocol
from indexer.classify import PoolProtocol, PoolTokens, classify_transaction
from indexer.gather import gather_range
from indexer.native import TraceMethod, detect_trace_method
from indexer.pricing import PriceBook, apply_prices, fetch_pool_price_at, fetch_pool_prices
from indexer.rpc import RpcClient
from indexer.sweep import LogSweeper
from ledger.events import NATIVE_ASSET, EventKind, LedgerEvent
from ledger.ids import Address, ChainId

SIX_PLACES = Decimal("0.000001")


@pytest.mark.asyncio
async def test_history_is_classified_and_valued_as_recorded(world: World) -> None:
    manifest, history = world.manifest, world.history
    assert history is not None
    owned = frozenset(Address(a) for _, a in history.wallets)
    weth, usdc = manifest.contracts.weth, manifest.token("USDC").address
    decimals = {Address(t.address): t.decimals for t in manifest.tokens}
    # The world values non-USDC legs in each token's V3 0.05 % USDC pool.
    price_pools = {
        Address(p.address): PoolTokens(
            Address(p.address), PoolProtocol.UNISWAP_V3, Address(p.token0), Address(p.token1)
        )
        for p in manifest.pools
        if p.protocol is Protocol.UNISWAP_V3 and p.fee == 500 and usdc in (p.token0, p.token1)
    }
    all_pools = {
        Address(p.address): PoolTokens(
            Address(p.address), PoolProtocol(p.protocol.value), Address(p.token0), Address(p.token1)
        )
        for p in manifest.pools
    }
    async with RpcClient(world.rpc_url) as rpc:
        assert await detect_trace_method(rpc) is TraceMethod.TRACE_FILTER
        sweeper = LogSweeper(rpc)
        gathered = await gather_range(
            sweeper,
            ChainId(manifest.chain_id),
            owned,
            history.first_block,
            history.last_block,
            TraceMethod.TRACE_FILTER,
        )
        prices, errors = await fetch_pool_prices(
            sweeper, price_pools, decimals, 0, history.last_block
        )
        # No archive state here: the eth_call fallback answers "missing", never a guess.
        some_pool = next(iter(price_pools.values()))
        assert await fetch_pool_price_at(rpc, some_pool, decimals, history.first_block) is None
    assert errors == []
    book = PriceBook.build(price_pools, decimals, frozenset({Address(usdc)}), Address(weth), prices)
    events: dict[str, list[LedgerEvent]] = {}
    for bundle in gathered.bundles:
        result = classify_transaction(
            bundle, owned, wrapped_native=frozenset({Address(weth)}), pools=all_pools
        )
        assert result.decode_errors == ()
        events[bundle.receipt.tx_hash] = list(apply_prices(result.events, book))
    assert set(events) == {tx.tx_hash for tx in history.transactions}

    for tx in history.transactions:
        got = events[tx.tx_hash]
        by_kind = {e.kind: e for e in got}
        gas = by_kind.get(EventKind.GAS)
        if tx.gas_payer in owned:
            assert gas is not None and gas.amount_raw == tx.gas_paid_wei, tx
        else:
            assert gas is None
        legs = [e for e in got if e.kind is not EventKind.GAS]
        if tx.kind is TxKind.SWAP:
            assert [(e.kind, e.wallet, e.asset, e.amount_raw) for e in legs] in (
                [
                    (EventKind.SWAP_OUT, tx.wallet, tx.token_in, tx.amount_in_raw),
                    (EventKind.SWAP_IN, tx.wallet, tx.token_out, tx.amount_out_raw),
                ],
                [
                    (EventKind.SWAP_IN, tx.wallet, tx.token_out, tx.amount_out_raw),
                    (EventKind.SWAP_OUT, tx.wallet, tx.token_in, tx.amount_in_raw),
                ],
            ), tx
            assert legs[0].swap is not None and legs[0].swap == legs[1].swap
            if tx.pool is not None and tx.venue != "mixed":
                assert legs[0].swap.pool == tx.pool, tx
            assert legs[0].value_usd == legs[1].value_usd
        elif tx.kind is TxKind.RECEIVE:
            assert [(e.kind, e.wallet, e.asset, e.amount_raw) for e in legs] == [
                (EventKind.RECEIVE, tx.wallet, tx.token_out, tx.amount_out_raw)
            ], tx
            assert legs[0].needs_review
        elif tx.kind is TxKind.WRAP:
            assert [(e.kind, e.asset, e.amount_raw) for e in legs] == [
                (EventKind.WRAP, weth, tx.amount_in_raw)
            ], tx
        elif tx.kind is TxKind.UNWRAP:
            assert [(e.kind, e.asset, e.amount_raw) for e in legs] == [
                (EventKind.UNWRAP, weth, tx.amount_in_raw)
            ], tx
        elif tx.kind is TxKind.TRANSFER:
            assert [(e.kind, e.asset, e.amount_raw) for e in legs] == [
                (EventKind.TRANSFER_OUT, tx.token_in, tx.amount_in_raw),
                (EventKind.TRANSFER_IN, tx.token_in, tx.amount_in_raw),
            ], tx
            assert legs[0].wallet == tx.wallet and legs[1].wallet in owned - {tx.wallet}
        else:
            assert tx.kind is TxKind.APPROVE and legs == [], tx
        if tx.value_usd is not None and tx.kind in (TxKind.SWAP, TxKind.RECEIVE):
            value = legs[0].value_usd
            assert value is not None, tx
            assert value.quantize(SIX_PLACES) == tx.value_usd, (tx, value)
        assert not any(e.price_missing for e in got), tx
    native_legs = [e for evs in events.values() for e in evs if e.asset == NATIVE_ASSET]
    assert any(e.kind is EventKind.SWAP_IN for e in native_legs)  # a router paid out ETH


@pytest.mark.asyncio
async def test_without_traces_or_past_state_the_range_is_marked_incomplete(world: World) -> None:
    history = world.history
    assert history is not None
    owned = frozenset(Address(a) for _, a in history.wallets)
    async with RpcClient(world.rpc_url) as rpc:
        with capture_logs() as logs:
            gathered = await gather_range(
                LogSweeper(rpc),
                ChainId(world.manifest.chain_id),
                owned,
                history.first_block,
                history.last_block,
                TraceMethod.BALANCE_RECONCILE,
            )
    assert not gathered.native_complete
    assert "native_reconcile_unavailable" in {e["event"] for e in logs}
    # What logs show is still found: every token-moving owner transaction.
    token_txs = {
        tx.tx_hash
        for tx in history.transactions
        if tx.kind is not TxKind.APPROVE and tx.method != "native"
    }
    assert token_txs <= {b.receipt.tx_hash for b in gathered.bundles}
