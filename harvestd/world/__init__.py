"""The local EVM world: Anvil with the real Uniswap V2/V3 contracts, six tokens, and an
owner whose wallets have more than a year of history. It serves `make run`
(`harvestd demo`) and the integration tests (tests/integration/conftest.py).

Modules: `anvil` (process), `chain` (sending/test methods), `artifacts` (npm builds and
our Solidity), `deploy`, `market` (pure AMM arithmetic), `history` (the scenario and its
record), `manifest`, `launch` (fresh, cached and forked worlds), `errors`.

Entry points: `start_world()` (cached), `build_world()` (cold), `fork_world(world)`,
`load_manifest(path)`, `load_history(path)`.
"""

from __future__ import annotations

from harvestd.world.history import History, HistoryTx, PricePoint, TxKind, load_history
from harvestd.world.launch import World, build_world, fork_world, start_world
from harvestd.world.manifest import Manifest, PoolEntry, Protocol, TokenEntry, load_manifest

__all__ = [
    "History",
    "HistoryTx",
    "Manifest",
    "PoolEntry",
    "PricePoint",
    "Protocol",
    "TokenEntry",
    "TxKind",
    "World",
    "build_world",
    "fork_world",
    "load_history",
    "load_manifest",
    "start_world",
]
