"""The executor's integration fixtures on the shared world (tests/integration/conftest.py):
`venue` is the session world reverted after each test, or a fresh Anvil fork of it;
`stack` is the executor wired on that node."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from executor_stack import Node, Stack, deployment_of, market_prices

from executor.chain import ChainClient
from executor.quoting import RouteQuoter
from harvestd.world.launch import World


@pytest.fixture(params=["world", "fork"])
def venue(request: pytest.FixtureRequest) -> Node:
    """The world (reverted to its snapshot after the test) or a fork of it."""
    world: World = request.getfixturevalue("clean_world" if request.param == "world" else "fork")
    return Node(request.param, world.rpc_url, world.manifest)


@pytest_asyncio.fixture
async def stack(venue: Node) -> AsyncIterator[Stack]:
    """The executor's stack on the world or its fork."""
    chain = ChainClient.from_url(venue.url, timeout_seconds=30)
    deployment = deployment_of(venue.manifest)
    quoter = RouteQuoter(chain, deployment)
    try:
        yield Stack(venue, chain, deployment, quoter, await market_prices(quoter, venue.manifest))
    finally:
        await chain.close()
