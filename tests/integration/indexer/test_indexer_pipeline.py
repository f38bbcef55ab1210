"""gather_range + classify_transaction against a real Anvil: every movement of the scripted
history comes out as the right events, and the events add up to the real balance changes."""

from __future__ import annotations

from collections import Counter

import pytest
from indexer_scenario import Scenario, run_scenario
from indexer_testchain import World

from indexer.classify import PoolProtocol, PoolTokens, classify_transaction
from indexer.gather import GatheredRange, gather_range
from indexer.native import TraceMethod, detect_trace_method
from indexer.rpc import RpcClient
from indexer.sweep import LogSweeper
from ledger.events import NATIVE_ASSET, EventKind, LedgerEvent
from ledger.ids import Address, ChainId

SIGN = {
    EventKind.SWAP_IN: 1,
    EventKind.RECEIVE: 1,
    EventKind.TRANSFER_IN: 1,
    EventKind.SWAP_OUT: -1,
    EventKind.SEND: -1,
    EventKind.TRANSFER_OUT: -1,
    EventKind.GAS: -1,
}


def _deltas(events: list[LedgerEvent], weth: str) -> Counter[tuple[str, str]]:
    """Net change per (wallet, asset) implied by the events (wrap: native→WETH)."""
    net: Counter[tuple[str, str]] = Counter()
    for e in events:
        if e.kind is EventKind.WRAP:
            net[(e.wallet, NATIVE_ASSET)] -= e.amount_raw
            net[(e.wallet, weth)] += e.amount_raw
        elif e.kind is EventKind.UNWRAP:
            net[(e.wallet, NATIVE_ASSET)] += e.amount_raw
            net[(e.wallet, weth)] -= e.amount_raw
        else:
            net[(e.wallet, e.asset)] += SIGN[e.kind] * e.amount_raw
    return net


def _balances(bare_world: World, block: int) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for w in bare_world.wallets:
        out[(w, NATIVE_ASSET)] = bare_world.w3.eth.get_balance(w, block)
        for token in (bare_world.tka, bare_world.tkb, bare_world.weth):
            out[(w, token.address)] = token.functions.balanceOf(w).call(block_identifier=block)
    return out


def _pools(bare_world: World) -> dict[Address, PoolTokens]:
    pools = {}
    for pair in (bare_world.pair_ab, bare_world.pair_aw, bare_world.pair_bw):
        pools[Address(pair.address)] = PoolTokens(
            Address(pair.address),
            PoolProtocol.UNISWAP_V2,
            Address(pair.functions.token0().call()),
            Address(pair.functions.token1().call()),
        )
    return pools


async def _gather_and_classify(
    bare_world: World, scenario: Scenario, method: TraceMethod | None
) -> tuple[GatheredRange, dict[str, list[LedgerEvent]]]:
    owned = frozenset(Address(w) for w in bare_world.wallets)
    async with RpcClient(bare_world.url) as rpc:
        if method is None:
            method = await detect_trace_method(rpc)
        gathered = await gather_range(
            LogSweeper(rpc), ChainId(31337), owned, scenario.from_block, scenario.to_block, method
        )
    by_tx: dict[str, list[LedgerEvent]] = {}
    for bundle in gathered.bundles:
        result = classify_transaction(
            bundle,
            owned,
            wrapped_native=frozenset({Address(bare_world.weth.address)}),
            pools=_pools(bare_world),
        )
        assert result.decode_errors == ()
        by_tx[bundle.receipt.tx_hash] = list(result.events)
    return gathered, by_tx


async def _classified(
    bare_world: World, method: TraceMethod | None = None
) -> tuple[Scenario, GatheredRange, dict[str, list[LedgerEvent]]]:
    scenario = run_scenario(bare_world)
    gathered, by_tx = await _gather_and_classify(bare_world, scenario, method)
    return scenario, gathered, by_tx


def _kinds(events: list[LedgerEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.asset) for e in events]


@pytest.mark.asyncio
async def test_anvil_offers_trace_filter(bare_world: World) -> None:
    async with RpcClient(bare_world.url) as rpc:
        assert await detect_trace_method(rpc) is TraceMethod.TRACE_FILTER


@pytest.mark.asyncio
async def test_every_movement_is_classified_and_adds_up(bare_world: World) -> None:
    scenario, gathered, by_tx = await _classified(bare_world)
    w1, w2 = bare_world.wallets
    a, b, weth = bare_world.tka.address, bare_world.tkb.address, bare_world.weth.address
    s = scenario.steps
    assert set(by_tx) == set(s.values())
    assert _kinds(by_tx[s["receive_eth"]]) == [("receive", NATIVE_ASSET)]
    assert by_tx[s["receive_eth"]][0].needs_review
    assert _kinds(by_tx[s["receive_tka"]]) == [("receive", a)]
    assert _kinds(by_tx[s["own_transfer"]]) == [
        ("gas", NATIVE_ASSET),
        ("transfer_out", a),
        ("transfer_in", a),
    ]
    assert _kinds(by_tx[s["wrap"]]) == [("gas", NATIVE_ASSET), ("wrap", weth)]
    assert _kinds(by_tx[s["unwrap"]]) == [("gas", NATIVE_ASSET), ("unwrap", weth)]
    assert _kinds(by_tx[s["swap_a_b"]]) == [("gas", NATIVE_ASSET), ("swap_out", a), ("swap_in", b)]
    eth_a = by_tx[s["swap_eth_a"]]
    assert sorted(_kinds(eth_a)) == sorted(
        [("gas", NATIVE_ASSET), ("swap_out", NATIVE_ASSET), ("swap_in", a)]
    )
    assert next(e for e in eth_a if e.kind is EventKind.SWAP_OUT).amount_raw == 10**18
    b_eth = by_tx[s["swap_b_eth"]]
    assert sorted(_kinds(b_eth)) == sorted(
        [("gas", NATIVE_ASSET), ("swap_out", b), ("swap_in", NATIVE_ASSET)]
    )
    hop = by_tx[s["multihop_a_b"]]
    assert _kinds(hop) == [("gas", NATIVE_ASSET), ("swap_out", a), ("swap_in", b)]
    audit = hop[1].swap
    assert audit is not None and audit.token_in == a and audit.token_out == b
    assert audit.pool == bare_world.pair_aw.address and audit.amount_in_raw == 7 * 10**18
    assert audit.amount_out_raw == hop[2].amount_raw
    assert hop[1].group == hop[2].group == s["multihop_a_b"]
    assert _kinds(by_tx[s["send_tkb"]]) == [("gas", NATIVE_ASSET), ("send", b)]
    assert _kinds(by_tx[s["send_eth"]]) == [("gas", NATIVE_ASSET), ("send", NATIVE_ASSET)]
    cross = by_tx[s["cross_wallet_swap"]]
    assert [(e.kind.value, e.wallet) for e in cross] == [
        ("gas", w1),
        ("swap_out", w1),
        ("swap_in", w2),
    ]
    refund = by_tx[s["refund_swap"]]
    out_leg = next(e for e in refund if e.kind is EventKind.SWAP_OUT)
    assert out_leg.asset == NATIVE_ASSET and 0 < out_leg.amount_raw < 10**18  # refund netted
    assert _kinds(by_tx[s["reverted"]]) == [("gas", NATIVE_ASSET)]
    assert _kinds(by_tx[s["zero_value_call"]]) == [("gas", NATIVE_ASSET)]
    # Conservation: the events explain every wei and every token unit that moved.
    events = [e for evs in by_tx.values() for e in evs]
    before = _balances(bare_world, scenario.from_block - 1)
    after = _balances(bare_world, scenario.to_block)
    implied = _deltas(events, weth)
    for key in after:
        assert implied[key] == after[key] - before[key], key
    # Identities are unique and stable.
    ids = [(e.ref.tx_hash, e.ref.log_index, e.leg) for e in events]
    assert len(ids) == len(set(ids))
    assert gathered.headers[scenario.to_block].number == scenario.to_block


@pytest.mark.asyncio
async def test_classifying_twice_gives_identical_events(bare_world: World) -> None:
    _, gathered, by_tx = await _classified(bare_world)
    owned = frozenset(Address(w) for w in bare_world.wallets)
    again = {
        b.receipt.tx_hash: list(
            classify_transaction(
                b,
                owned,
                wrapped_native=frozenset({Address(bare_world.weth.address)}),
                pools=_pools(bare_world),
            ).events
        )
        for b in gathered.bundles
    }
    assert again == by_tx


@pytest.mark.asyncio
async def test_debug_tracer_fallback_gives_the_same_events(bare_world: World) -> None:
    """Without trace_filter: balance bisection finds the blocks, callTracer explains them."""
    scenario, _, with_trace_filter = await _classified(bare_world)
    gathered, with_debug = await _gather_and_classify(
        bare_world, scenario, TraceMethod.DEBUG_CALL_TRACER
    )
    assert gathered.unexplained == ()
    assert with_debug == with_trace_filter


@pytest.mark.asyncio
async def test_balance_fallback_pins_internal_payouts_to_their_blocks(bare_world: World) -> None:
    scenario, gathered, _ = await _classified(bare_world, TraceMethod.BALANCE_RECONCILE)
    s = scenario.steps
    flagged = {(u.wallet, u.from_block) for u in gathered.unexplained}
    block_of = {
        name: bare_world.w3.eth.get_transaction_receipt(h)["blockNumber"] for name, h in s.items()
    }
    w1, w2 = bare_world.wallets
    # Without traces: internal ETH payouts (WETH withdraw, router paying ETH, refund) and
    # transactions that leave no swept log are what the balances cannot explain.
    assert (w1, block_of["receive_eth"]) in flagged
    assert (w1, block_of["unwrap"]) in flagged
    assert (w1, block_of["swap_b_eth"]) in flagged
    assert (w1, block_of["refund_swap"]) in flagged
    assert (w1, block_of["reverted"]) in flagged  # gas of a tx with no logs
    assert (w2, block_of["zero_value_call"]) in flagged  # an Approval is not swept: gas unseen
    assert (w2, block_of["send_eth"]) in flagged  # a plain send by W2 leaves no log
    assert (w1, block_of["swap_a_b"]) not in flagged
    assert all(u.unexplained_raw != 0 for u in gathered.unexplained)
    assert not gathered.native_complete
