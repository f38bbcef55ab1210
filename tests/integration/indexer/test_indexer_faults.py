"""Through a proxy that injects 429s, 503s, dropped connections, stalls, garbage, rate-limited
items and range refusals, the client and the sweep return exactly what a clean run does."""

from __future__ import annotations

import pytest
from faultproxy import FaultProxy
from indexer_scenario import run_scenario
from indexer_testchain import World
from structlog.testing import capture_logs

from indexer.errors import IndexerError, RangeTooLarge, RpcError, RpcUnavailable
from indexer.gather import gather_range
from indexer.native import TraceMethod
from indexer.rpc import RetryPolicy, RpcClient
from indexer.sweep import AdaptiveSpan, LogSweeper, wallet_filters
from ledger.ids import Address, ChainId

FAST = RetryPolicy(max_attempts=12, base_delay_seconds=0.01, max_delay_seconds=0.05)


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_faulty_node_gives_the_same_logs_and_bundles(bare_world: World, seed: int) -> None:
    scenario = run_scenario(bare_world)
    owned = frozenset(Address(w) for w in bare_world.wallets)
    lo, hi = 0, scenario.to_block
    async with RpcClient(bare_world.url) as rpc:
        clean_logs = await LogSweeper(rpc).fetch_logs(wallet_filters(owned), lo, hi)
        clean = await gather_range(
            LogSweeper(rpc), ChainId(31337), owned, lo, hi, TraceMethod.TRACE_FILTER
        )
    async with (
        FaultProxy(bare_world.url, seed=seed, max_range_blocks=8) as proxy,
        RpcClient(proxy.url, timeout_seconds=0.5, retry=FAST, max_concurrency=4) as rpc,
    ):
        with capture_logs() as events:
            sweeper = LogSweeper(rpc, span=AdaptiveSpan(span=64, grow_after=2))
            faulty_logs = await sweeper.fetch_logs(wallet_filters(owned), lo, hi)
            faulty = await gather_range(
                LogSweeper(rpc, span=AdaptiveSpan(span=64)),
                ChainId(31337),
                owned,
                lo,
                hi,
                TraceMethod.TRACE_FILTER,
            )
    assert len(clean_logs) > 15
    assert faulty_logs == clean_logs
    assert faulty == clean
    assert len([k for k in proxy.counts if k != "range_refused"]) >= 3
    assert proxy.counts["range_refused"] > 0
    names = {e["event"] for e in events}
    assert {"rpc_retried", "range_split"} <= names


@pytest.mark.asyncio
async def test_exhausted_retries_raise_rpc_unavailable_without_the_secret(
    bare_world: World,
) -> None:
    async with FaultProxy(bare_world.url, fault_rate=1.0, max_faults=100) as proxy:
        port = proxy.url.split(":")[2].rstrip("/")
        url = f"http://user:s3cret@127.0.0.1:{port}/v3/KEY123?apikey=KEY456"
        retry = RetryPolicy(max_attempts=3, base_delay_seconds=0.01, max_delay_seconds=0.02)
        async with RpcClient(url, timeout_seconds=0.3, retry=retry) as rpc:
            with capture_logs() as events:
                # Only the whole-request faults are wanted here: force them.
                proxy.max_range_blocks = None
                with pytest.raises(IndexerError) as caught:
                    while True:
                        await rpc.call("eth_blockNumber")
    text = str(caught.value) + repr(events)
    for secret in ("s3cret", "KEY123", "KEY456", "user"):
        assert secret not in text


@pytest.mark.asyncio
async def test_errors_are_translated(bare_world: World) -> None:
    async with RpcClient(bare_world.url) as rpc:
        with pytest.raises(RpcError) as caught:
            await rpc.call("no_such_method")
        assert caught.value.code == -32601 and caught.value.method == "no_such_method"
    async with (
        FaultProxy(bare_world.url, fault_rate=0.0, max_range_blocks=1) as proxy,
        RpcClient(proxy.url) as rpc,
    ):
        with pytest.raises(RangeTooLarge):
            await rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "0x5"})
    async with RpcClient("http://127.0.0.1:9/", retry=RetryPolicy(2, 0.01, 0.01)) as rpc:
        with pytest.raises(RpcUnavailable) as down:
            await rpc.call("eth_blockNumber")
        assert down.value.attempts == 2 and down.value.status is None


@pytest.mark.asyncio
async def test_ranges_that_time_out_are_split_not_waited_for(bare_world: World) -> None:
    scenario = run_scenario(bare_world)
    owned = frozenset(Address(w) for w in bare_world.wallets)
    async with RpcClient(bare_world.url) as rpc:
        clean = await LogSweeper(rpc).fetch_logs(wallet_filters(owned), 0, scenario.to_block)
    async with (
        FaultProxy(
            bare_world.url,
            fault_rate=0.0,
            max_range_blocks=None,
            stall_range_blocks=16,
            stall_seconds=1.0,
        ) as proxy,
        RpcClient(proxy.url, timeout_seconds=0.3, retry=FAST) as rpc,
    ):
        sweeper = LogSweeper(rpc, span=AdaptiveSpan(span=128))
        found = await sweeper.fetch_logs(wallet_filters(owned), 0, scenario.to_block)
    assert found == clean
    # Each too-wide chunk timed out twice at most before it was split.
    assert 0 < proxy.counts["range_stalled"] <= 2 * sweeper.span.halvings + 2
