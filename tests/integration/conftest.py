"""Shared chain fixtures for integration tests: a real Anvil running the real Uniswap
world (harvestd.world), restored from the state cache.

- `world` (session): the shared node + manifest + history. Use `clean_world` in tests
  that send transactions, so each test starts from the same state.
- `clean_world` (function): `evm_snapshot` before the test, `evm_revert` after it.
- `make_world` (function): a factory for a private node, e.g. for reorg or daemon tests:
  `make_world()` restores the cached world with history on its own port;
  `make_world(archive=True)` restores one that also answers `eth_call` at past blocks
  and `debug_traceTransaction` (a bigger, slower cache);
  `make_world(cached=False, with_history=False)` deploys from scratch.
- `fork` (function): a second Anvil forking the session world (executor tests).

Tests using any of these are marked `chain` automatically.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harvestd.world.launch import World, WorldFactory, build_world, fork_world, start_world

CHAIN_FIXTURES = frozenset({"world", "clean_world", "make_world", "fork"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a chain fixture with `pytest.mark.chain`."""
    for item in items:
        if CHAIN_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.chain)


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    """The session's Anvil running the cached world (deploy + history)."""
    node = start_world()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def clean_world(world: World) -> Iterator[World]:
    """The session world, reverted to its state before the test when the test ends.

    Anvil's `evm_revert` restores state and blocks but not a base fee forced with
    `anvil_setNextBlockBaseFeePerGas`; the fixture restores that too, so a test that
    prices gas high cannot leak it into the tests after it.
    """
    chain = world.chain()
    latest = chain.request("eth_getBlockByNumber", ["latest", False])
    base_fee = latest["baseFeePerGas"]
    snapshot = chain.snapshot()
    try:
        yield world
    finally:
        chain.revert(snapshot)
        chain.request("anvil_setNextBlockBaseFeePerGas", [base_fee])


@pytest.fixture
def make_world() -> Iterator[WorldFactory]:
    """A factory of private worlds (own Anvil, own port), all stopped after the test."""
    started: list[World] = []

    def factory(*, cached: bool = True, with_history: bool = True, archive: bool = False) -> World:
        new = start_world(archive=archive) if cached else build_world(with_history=with_history)
        started.append(new)
        return new

    try:
        yield factory
    finally:
        for each in started:
            each.stop()


@pytest.fixture
def fork(world: World) -> Iterator[World]:
    """A second Anvil forking the session world at its latest block."""
    forked = fork_world(world)
    try:
        yield forked
    finally:
        forked.stop()
