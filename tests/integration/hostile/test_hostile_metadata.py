"""Token metadata read from hostile contracts: `decimals()` that reverts, answers 255, or
answers a number no uint8 holds. The indexer reads decimals for tokens of its pricing
pools (`indexer.pricing.fetch_decimals`); a hostile answer must come back as a typed
indexer error or a usable value, never as a number that later makes `10 ** decimals`
explode, and never as an untyped exception."""

from __future__ import annotations

import pytest

from harvestd.world.hostile import HUGE_DECIMALS, deploy_hostile
from harvestd.world.launch import World
from indexer.errors import IndexerError
from indexer.pricing import fetch_decimals, v2_price
from indexer.rpc import RpcClient


@pytest.mark.asyncio
async def test_reverting_decimals_is_a_typed_error(clean_world: World) -> None:
    tokens = deploy_hostile(clean_world.chain(), clean_world.manifest)
    async with RpcClient(clean_world.rpc_url) as rpc:
        with pytest.raises(IndexerError):
            await fetch_decimals(rpc, [tokens.bad_metadata])
        # No balanceOf, no decimals: same.
        with pytest.raises(IndexerError):
            await fetch_decimals(rpc, [tokens.spam])


@pytest.mark.asyncio
async def test_decimals_255_is_read_and_prices_exactly(clean_world: World) -> None:
    tokens = deploy_hostile(clean_world.chain(), clean_world.manifest)
    async with RpcClient(clean_world.rpc_url) as rpc:
        decimals = await fetch_decimals(rpc, [tokens.garbage_metadata])
    assert decimals == {tokens.garbage_metadata: 255}
    price = v2_price(10**255, 10**18, 255, 18)
    assert price is not None and price == 1


@pytest.mark.asyncio
async def test_decimals_beyond_a_uint8_are_refused(clean_world: World) -> None:
    """ERC-20's decimals() is a uint8; 2**200 must be refused (IndexerError), not handed to
    pricing, where 10 ** 2**200 never finishes."""
    tokens = deploy_hostile(clean_world.chain(), clean_world.manifest)
    async with RpcClient(clean_world.rpc_url) as rpc:
        try:
            decimals = await fetch_decimals(rpc, [tokens.garbage_huge_decimals])
        except IndexerError:
            return
    assert decimals[tokens.garbage_huge_decimals] <= 255, (
        f"fetch_decimals returned {decimals[tokens.garbage_huge_decimals]} == {HUGE_DECIMALS}"
    )
