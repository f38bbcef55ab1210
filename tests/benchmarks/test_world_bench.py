"""World start-up figures (printed, never asserted): a cold deploy with history, a start
from the state cache, and a fork of a running world."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harvestd.world.launch import build_world, ensure_cached_world, fork_world, start_world

pytestmark = pytest.mark.chain


def test_world_startup_times(tmp_path: Path) -> None:
    started = time.perf_counter()
    with build_world(with_history=False, directory=tmp_path / "bare") as bare:
        deploy_seconds = time.perf_counter() - started
        deploy_block = bare.manifest.deployed_at_block

    started = time.perf_counter()
    with build_world(directory=tmp_path / "cold") as cold:
        cold_seconds = time.perf_counter() - started
        assert cold.history is not None
        owner_txs = len(cold.history.transactions)
        blocks = cold.history.last_block

    ensure_cached_world()
    cached_runs: list[float] = []
    for _ in range(3):
        started = time.perf_counter()
        with start_world() as cached:
            cached_runs.append(time.perf_counter() - started)
            started = time.perf_counter()
            with fork_world(cached):
                fork_seconds = time.perf_counter() - started

    print()
    print(f"world cold deploy (no history): {deploy_seconds:.2f} s, {deploy_block} blocks")
    print(
        f"world cold deploy + history:    {cold_seconds:.2f} s, {blocks} blocks, {owner_txs} owner txs"
    )
    print(
        f"world cached start:             {min(cached_runs):.3f} s best of 3 ({', '.join(f'{s:.3f}' for s in cached_runs)})"
    )
    print(f"world fork start:               {fork_seconds:.3f} s")
