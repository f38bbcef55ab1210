"""Hostile tokens through gather + classify + pricing on the real world: what is booked is
what really moved (balances read from the chain), odd amounts stay exact, spam is a
reviewable receipt without a price, and nothing crashes on malformed logs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from harvestd.world.deploy import MAX_UINT256
from harvestd.world.hostile import (
    FAKE_SENDER,
    SPAM_AMOUNT_RAW,
    HostileHistory,
    balance_of,
)
from harvestd.world.launch import World
from harvestd.world.manifest import Protocol
from indexer.classify import PoolProtocol, PoolTokens, classify_transaction
from indexer.errors import DecodeError
from indexer.gather import gather_range
from indexer.native import TraceMethod
from indexer.pricing import PriceBook, apply_prices, fetch_pool_prices
from indexer.rpc import RpcClient
from indexer.sweep import LogSweeper
from ledger.events import NATIVE_ASSET, EventKind, LedgerEvent
from ledger.ids import Address, ChainId, TxHash

ZERO = Address("0x0000000000000000000000000000000000000000")


async def _classified(
    world: World, history: HostileHistory
) -> tuple[dict[TxHash, list[LedgerEvent]], dict[TxHash, tuple[DecodeError, ...]]]:
    manifest = world.manifest
    owned = frozenset({manifest.account("main").address, manifest.account("cold").address})
    weth, usdc = manifest.contracts.weth, manifest.token("USDC").address
    decimals = {Address(t.address): t.decimals for t in manifest.tokens}
    pools = {
        Address(p.address): PoolTokens(
            Address(p.address), PoolProtocol.UNISWAP_V3, Address(p.token0), Address(p.token1)
        )
        for p in manifest.pools
        if p.protocol is Protocol.UNISWAP_V3 and p.fee == 500 and usdc in (p.token0, p.token1)
    }
    async with RpcClient(world.rpc_url) as rpc:
        sweeper = LogSweeper(rpc)
        gathered = await gather_range(
            sweeper,
            ChainId(manifest.chain_id),
            owned,
            history.first_block,
            history.last_block,
            TraceMethod.TRACE_FILTER,
        )
        prices, _ = await fetch_pool_prices(sweeper, pools, decimals, 0, history.last_block)
    book = PriceBook.build(pools, decimals, frozenset({Address(usdc)}), Address(weth), prices)
    events: dict[TxHash, list[LedgerEvent]] = {}
    errors: dict[TxHash, tuple[DecodeError, ...]] = {}
    for bundle in gathered.bundles:
        result = classify_transaction(bundle, owned, wrapped_native=frozenset({weth}), pools=pools)
        events[bundle.receipt.tx_hash] = list(apply_prices(result.events, book))
        errors[bundle.receipt.tx_hash] = result.decode_errors
    return events, errors


def _legs(
    events: list[LedgerEvent],
) -> list[tuple[EventKind, Address, Address, int, Address | None]]:
    return [
        (e.kind, e.wallet, e.asset, e.amount_raw, e.counterparty)
        for e in events
        if e.kind is not EventKind.GAS
    ]


@pytest.mark.asyncio
async def test_hostile_movements_are_booked_as_they_settled(
    hostile_world: tuple[World, HostileHistory],
) -> None:
    world, history = hostile_world
    events, errors = await _classified(world, history)
    m = world.manifest
    main, cold, outsider = (m.account(n).address for n in ("main", "cold", "outsider"))
    tokens = history.tokens
    fee, collector = tokens.fee_on_transfer, tokens.fee_collector
    step = history.steps

    # Fee-on-transfer: the receipt is what arrived (balanceOf), not what was sent.
    received = history.movement("fee_receive")
    assert received.amount_received_raw == received.amount_sent_raw * 99 // 100
    assert _legs(events[step["fee_receive"]]) == [
        (EventKind.RECEIVE, main, fee, received.amount_received_raw, outsider)
    ]
    # A send loses the full amount: what the recipient got plus the fee, both outside.
    sent = history.movement("fee_send")
    assert sorted(_legs(events[step["fee_send"]]), key=lambda leg: leg[3]) == [
        (EventKind.SEND, main, fee, sent.amount_sent_raw // 100, collector),
        (EventKind.SEND, main, fee, sent.amount_received_raw, outsider),
    ]
    # An own transfer moves what arrived; the fee leaves the owner as a send.
    own = history.movement("fee_own_transfer")
    assert _legs(events[step["fee_own_transfer"]]) == [
        (EventKind.TRANSFER_OUT, main, fee, own.amount_received_raw, cold),
        (EventKind.TRANSFER_IN, cold, fee, own.amount_received_raw, main),
        (EventKind.SEND, main, fee, own.amount_sent_raw - own.amount_received_raw, collector),
    ]
    # Receipts from unknown contracts are for review and carry no price.
    for name, token, amount in (
        ("rebase_mint", tokens.rebasing, history.movement("rebase_mint").amount_received_raw),
        ("bad_receive", tokens.bad_metadata, 123_456),
        ("huge_receive", tokens.garbage_huge_decimals, 7),
        ("max_receive", tokens.garbage_metadata, MAX_UINT256),
    ):
        legs = [e for e in events[step[name]] if e.kind is not EventKind.GAS]
        assert [(e.kind, e.wallet, e.asset, e.amount_raw) for e in legs] == [
            (EventKind.RECEIVE, main, token, amount)
        ], name
        assert legs[0].needs_review and legs[0].price_missing and legs[0].value_usd is None, name
    # 2**256 - 1 between own wallets stays exact.
    assert _legs(events[step["max_own_transfer"]]) == [
        (EventKind.TRANSFER_OUT, main, tokens.garbage_metadata, MAX_UINT256, cold),
        (EventKind.TRANSFER_IN, cold, tokens.garbage_metadata, MAX_UINT256, main),
    ]
    # Zero transfers move nothing: no lot event (main still pays gas for its own).
    assert step["zero_receive"] not in events or _legs(events[step["zero_receive"]]) == []
    zero_send = events[step["zero_send"]]
    assert [e.kind for e in zero_send] == [EventKind.GAS]
    assert zero_send[0].asset == NATIVE_ASSET and zero_send[0].value_usd is not None
    # The rebase was sent by a stranger and logs nothing for the owner.
    assert step["rebase"] not in events
    # Spam: fake Transfer logs become reviewable, unpriced receipts (nothing crashes).
    spam = events[step["spam_airdrop"]]
    assert [(e.kind, e.wallet, e.asset, e.amount_raw, e.counterparty) for e in spam] == [
        (EventKind.RECEIVE, main, tokens.spam, SPAM_AMOUNT_RAW, FAKE_SENDER),
        (EventKind.RECEIVE, cold, tokens.spam, SPAM_AMOUNT_RAW, FAKE_SENDER),
    ]
    assert all(e.needs_review and e.price_missing and e.value_usd is None for e in spam)
    # A Transfer-topic log with 5 bytes of data is reported, not booked, not raised.
    assert events[step["spam_malformed"]] == []
    assert len(errors[step["spam_malformed"]]) == 1


@pytest.mark.asyncio
async def test_booked_deltas_match_balances_except_the_silent_rebase(
    hostile_world: tuple[World, HostileHistory],
) -> None:
    world, history = hostile_world
    events, _ = await _classified(world, history)
    chain = world.chain()
    tokens = history.tokens
    signs = {
        EventKind.RECEIVE: 1,
        EventKind.TRANSFER_IN: 1,
        EventKind.SEND: -1,
        EventKind.TRANSFER_OUT: -1,
    }
    for name in ("main", "cold"):
        wallet = world.manifest.account(name).address
        for token in (
            tokens.fee_on_transfer,
            tokens.rebasing,
            tokens.bad_metadata,
            tokens.garbage_metadata,
            tokens.garbage_huge_decimals,
        ):
            booked = sum(
                signs[e.kind] * e.amount_raw
                for evs in events.values()
                for e in evs
                if e.wallet == wallet and e.asset == token and e.kind in signs
            )
            on_chain = balance_of(chain, token, wallet)
            if token == tokens.rebasing and name == "main":
                # 500 minted, then the index went 1.0 -> 1.1 with no log: 50 more on chain.
                assert on_chain - booked == booked // 10 == 50 * 10**18
            else:
                assert on_chain == booked, (name, token)


@pytest.mark.asyncio
async def test_value_of_an_unpriced_receipt_is_never_guessed(
    hostile_world: tuple[World, HostileHistory],
) -> None:
    world, history = hostile_world
    events, _ = await _classified(world, history)
    hostile = set(history.tokens.all)
    valued_kinds = {EventKind.RECEIVE, EventKind.SEND, EventKind.SWAP_IN, EventKind.SWAP_OUT}
    seen = 0
    for evs in events.values():
        for e in evs:
            if e.asset in hostile and e.kind in valued_kinds:
                assert e.value_usd is None and e.price_missing, e
                seen += 1
            elif e.asset == NATIVE_ASSET:  # gas stays priced from the world's pools
                assert isinstance(e.value_usd, Decimal) and not e.price_missing, e
    assert seen >= 8
