import pytest

from indexer.rpc import RpcClient


@pytest.mark.asyncio
async def test_smoke(bare_world):
    async with RpcClient(bare_world.url) as rpc:
        head = await rpc.call("eth_blockNumber")
    assert int(head, 16) > 5
    assert bare_world.pair_ab.functions.getReserves().call()[0] > 0
