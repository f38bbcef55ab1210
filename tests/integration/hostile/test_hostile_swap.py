"""A swap of a fee-on-transfer token on a real Uniswap V2 pair (the router's
`...SupportingFeeOnTransferTokens` path): the disposal is everything that left the wallet
(what reached the pair plus the fee), the acquisition is what arrived, both checked
against `balanceOf`; the pool's own Swap log (which sees only what reached it) is kept
for audit, not booked."""

from __future__ import annotations

import pytest

from harvestd.world.artifacts import load_artifact
from harvestd.world.deploy import MAX_UINT256, call_data
from harvestd.world.hostile import balance_of, deploy_hostile
from harvestd.world.launch import World
from indexer.classify import PoolProtocol, PoolTokens, classify_transaction
from indexer.gather import gather_range
from indexer.native import TraceMethod
from indexer.rpc import RpcClient
from indexer.sweep import LogSweeper
from ledger.events import EventKind
from ledger.ids import ChainId

DEADLINE = 2**40
ONE = 10**18


@pytest.mark.asyncio
async def test_fee_on_transfer_swap_books_what_left_and_what_arrived(clean_world: World) -> None:
    chain, manifest = clean_world.chain(), clean_world.manifest
    tokens = deploy_hostile(chain, manifest)
    deployer = manifest.account("deployer").address
    outsider = manifest.account("outsider").address
    main, cold = manifest.account("main").address, manifest.account("cold").address
    usdc = manifest.token("USDC").address
    router_address = manifest.contracts.v2_router
    router = chain.contract(load_artifact("UniswapV2Router02"), router_address)
    fee = chain.contract(load_artifact("FeeOnTransferToken"), tokens.fee_on_transfer)
    usdc_token = chain.contract(load_artifact("TestToken"), usdc)

    chain.transact("usdc", deployer, usdc, call_data(usdc_token, "mint", outsider, 10**12))
    for to, calldata in (
        (tokens.fee_on_transfer, call_data(fee, "mint", outsider, 10**6 * ONE)),
        (tokens.fee_on_transfer, call_data(fee, "approve", router_address, MAX_UINT256)),
        (usdc, call_data(usdc_token, "approve", router_address, MAX_UINT256)),
        (
            router_address,
            call_data(
                router,
                "addLiquidity",
                tokens.fee_on_transfer,
                usdc,
                100_000 * ONE,
                100_000 * 10**6,
                0,
                0,
                outsider,
                DEADLINE,
            ),
        ),
        (tokens.fee_on_transfer, call_data(fee, "transfer", main, 1000 * ONE)),
    ):
        chain.transact("fot pool", outsider, to, calldata, gas=6_000_000)
    chain.transact(
        "approve", main, tokens.fee_on_transfer, call_data(fee, "approve", router_address, 10**30)
    )
    fee_before, usdc_before = (
        balance_of(chain, tokens.fee_on_transfer, main),
        balance_of(chain, usdc, main),
    )
    receipt = chain.transact(
        "fot swap",
        main,
        router_address,
        call_data(
            router,
            "swapExactTokensForTokensSupportingFeeOnTransferTokens",
            500 * ONE,
            0,
            [tokens.fee_on_transfer, usdc],
            main,
            DEADLINE,
        ),
        gas=1_000_000,
    )
    fee_left = fee_before - balance_of(chain, tokens.fee_on_transfer, main)
    usdc_arrived = balance_of(chain, usdc, main) - usdc_before
    assert fee_left == 500 * ONE and usdc_arrived > 0
    block = int(receipt["blockNumber"])

    async with RpcClient(clean_world.rpc_url) as rpc:
        gathered = await gather_range(
            LogSweeper(rpc),
            ChainId(manifest.chain_id),
            frozenset({main, cold}),
            block,
            block,
            TraceMethod.TRACE_FILTER,
        )
    (bundle,) = gathered.bundles
    result = classify_transaction(
        bundle, frozenset({main, cold}), wrapped_native=frozenset({manifest.contracts.weth})
    )
    legs = [e for e in result.events if e.kind is not EventKind.GAS]
    assert sorted((e.kind, e.asset, e.amount_raw) for e in legs) == sorted(
        [
            (EventKind.SWAP_OUT, tokens.fee_on_transfer, fee_left),
            (EventKind.SWAP_IN, usdc, usdc_arrived),
        ]
    )
    audit = legs[0].swap
    assert audit is not None and audit.amount_out_raw == usdc_arrived
    # With the pair's tokens known, the audit keeps the pool's own view of the swap.
    token0, token1 = sorted([tokens.fee_on_transfer, usdc], key=str.lower)
    pools = {audit.pool: PoolTokens(audit.pool, PoolProtocol.UNISWAP_V2, token0, token1)}
    again = classify_transaction(
        bundle,
        frozenset({main, cold}),
        wrapped_native=frozenset({manifest.contracts.weth}),
        pools=pools,
    )
    assert [e for e in again.events if e.kind is not EventKind.GAS] != [] and [
        (e.kind, e.amount_raw) for e in again.events
    ] == [(e.kind, e.amount_raw) for e in result.events]
    audit = next(e.swap for e in again.events if e.swap is not None)
    assert audit is not None and audit.amount_out_raw == usdc_arrived
    # The pair saw 99 % of what left the wallet: the audit keeps the pool's view.
    assert audit.amount_in_raw == fee_left * 99 // 100
