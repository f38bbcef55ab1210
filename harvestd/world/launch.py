"""Starting whole worlds: a fresh deploy (+ history), the cached state of one (keyed by
package-lock.json and the world's own sources), and an Anvil fork of a running world.

A `World` owns its Anvil process and knows its `Manifest` and `History`. Worlds built
from the cache keep block history: blocks, receipts, `eth_getLogs` and `trace_transaction`
answer for every past block; `eth_call` at a past block and `debug_traceTransaction` do
not (Anvil's state dump keeps no historical states), as DESIGN.md expects of a restored
node.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, Self

import structlog
from eth_typing import ChecksumAddress, HexAddress, HexStr
from filelock import FileLock

from harvestd.world.anvil import AnvilNode, AnvilOptions, start_anvil
from harvestd.world.chain import WorldChain
from harvestd.world.deploy import deploy_world
from harvestd.world.errors import ManifestInvalid
from harvestd.world.history import History, generate_history, load_history, write_history
from harvestd.world.manifest import Manifest, load_manifest, write_manifest
from harvestd.world.paths import cache_dir as repo_cache_dir
from harvestd.world.paths import find_repo_root

log = structlog.get_logger(__name__)

GENESIS_AGE_DAYS: Final = 430
DAY_SECONDS: Final = 86_400
DEFAULT_SEED: Final = 20240101
CACHE_LOCK_TIMEOUT_SECONDS: Final = 600.0
CACHE_PRUNE_AFTER_SECONDS: Final = 3600
CACHE_MAX_AGE_DAYS: Final = 2
"""A cached world older than this is rebuilt (its history is anchored to build time)."""
STATE_FILE: Final = "state.json"
MANIFEST_FILE: Final = "manifest.json"
HISTORY_FILE: Final = "history.json"
WORLD_SOURCES: Final = Path(__file__).resolve().parent


@dataclass(slots=True)
class World:
    """A running world: its Anvil node, manifest and (if generated) history."""

    node: AnvilNode
    manifest: Manifest
    history: History | None
    directory: Path
    """Where `manifest.json` (and `history.json`) describe this world."""
    owns_directory: bool = False
    """Remove `directory` on `stop()` (a temporary folder made for this node)."""

    @property
    def rpc_url(self) -> str:
        """The node's JSON-RPC URL."""
        return self.node.rpc_url

    @property
    def manifest_path(self) -> Path:
        """The manifest JSON file of this world."""
        return self.directory / MANIFEST_FILE

    @property
    def history_path(self) -> Path:
        """The history JSON file of this world (absent for a world without history)."""
        return self.directory / HISTORY_FILE

    def chain(self) -> WorldChain:
        """A client for sending transactions and test methods to this world's node."""
        return WorldChain.at(self.rpc_url)

    def stop(self) -> None:
        """Stop the node and remove its temporary folder (idempotent)."""
        self.node.stop()
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class WorldFactory(Protocol):
    """Makes private worlds (the `make_world` test fixture has this signature)."""

    def __call__(
        self, *, cached: bool = True, with_history: bool = True, archive: bool = False
    ) -> World: ...


def genesis_timestamp_for(now: float | None = None) -> int:
    """A genesis time `GENESIS_AGE_DAYS` before `now`, at midnight UTC."""
    moment = int(time.time() if now is None else now) - GENESIS_AGE_DAYS * DAY_SECONDS
    return moment - moment % DAY_SECONDS


def world_cache_key(root: Path | None = None) -> str:
    """Hash of package-lock.json and every source file of `harvestd.world`.

    Raises:
        OSError: a source file cannot be read.
    """
    digest = hashlib.sha256()
    lock = (root or find_repo_root()) / "package-lock.json"
    digest.update(lock.read_bytes() if lock.is_file() else b"no-lock")
    for path in sorted(WORLD_SOURCES.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".sol", ".js"}:
            digest.update(str(path.relative_to(WORLD_SOURCES)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_world(
    *,
    port: int = 0,
    with_history: bool = True,
    seed: int = DEFAULT_SEED,
    directory: Path | None = None,
    dump_state_on_exit: Path | None = None,
) -> World:
    """Start an empty Anvil, deploy everything, optionally generate the history, and
    write manifest.json/history.json to `directory` (a temporary folder if None).
    With `dump_state_on_exit`, Anvil writes its state (with every historical state)
    there when interrupted (`World.node.interrupt()`).

    Raises:
        ToolingMissing: Anvil, node or artifacts are not installed.
        AnvilStartFailed: Anvil did not start.
        TransactionFailed: a world transaction reverted.
    """
    started = time.monotonic()
    genesis = genesis_timestamp_for()
    extra = () if dump_state_on_exit is None else ("--dump-state", str(dump_state_on_exit))
    node = start_anvil(
        AnvilOptions(port=port, genesis_timestamp=genesis, balance_ether=0, extra_args=extra)
    )
    try:
        chain = WorldChain.at(node.rpc_url)
        manifest = deploy_world(chain, node.rpc_url, node.chain_id, genesis)
        history = generate_history(chain, manifest, seed) if with_history else None
    except BaseException:
        node.stop()
        raise
    target = directory or _scratch_dir()
    target.mkdir(parents=True, exist_ok=True)
    write_manifest(manifest, target / MANIFEST_FILE)
    if history is not None:
        write_history(history, target / HISTORY_FILE)
    log.info(
        "world_built",
        rpc_url=node.rpc_url,
        with_history=with_history,
        seconds=round(time.monotonic() - started, 3),
    )
    return World(
        node=node,
        manifest=manifest,
        history=history,
        directory=target,
        owns_directory=directory is None,
    )


def ensure_cached_world(
    root: Path | None = None, seed: int = DEFAULT_SEED, *, archive: bool = False
) -> Path:
    """The cache folder of the deployed world with history, building it if missing.

    Safe across processes (a file lock guards the build). An `archive` cache keeps every
    historical state, so `eth_call` at past blocks and `debug_traceTransaction` work
    after loading; it is ~180 MB and loads in seconds instead of ~0.2 s.

    Raises:
        ToolingMissing: Anvil, node or artifacts are not installed.
        AnvilStartFailed: Anvil did not start.
        TransactionFailed: a world transaction reverted.
    """
    base = repo_cache_dir(root)
    key = world_cache_key(root)
    folder = base / f"world-{key}-{seed}{'-archive' if archive else ''}"
    with FileLock(str(folder) + ".lock", timeout=CACHE_LOCK_TIMEOUT_SECONDS):
        if _is_fresh(folder):
            return folder
        building = base / f"building-{folder.name}"
        shutil.rmtree(building, ignore_errors=True)
        if archive:
            building.mkdir(parents=True)
            world = build_world(
                seed=seed, directory=building, dump_state_on_exit=building / STATE_FILE
            )
            world.node.interrupt()
        else:
            with build_world(seed=seed, directory=building) as world:
                dump = world.chain().request("anvil_dumpState", [])
                state = gzip.decompress(bytes.fromhex(str(dump)[2:]))
                (building / STATE_FILE).write_bytes(state)
        shutil.rmtree(folder, ignore_errors=True)
        building.rename(folder)
        log.info("world_cached", folder=str(folder))
    _prune_stale_caches(base, keep=folder)
    return folder


def _prune_stale_caches(base: Path, keep: Path) -> None:
    """Remove cached worlds of other keys (older sources) untouched for an hour: they
    pile up at 5 MB each, 180 MB for an archive."""
    cutoff = time.time() - CACHE_PRUNE_AFTER_SECONDS
    key = keep.name.split("-")[1]
    for other in base.glob("world-*"):
        if key in other.name or other.stat().st_mtime >= cutoff:
            continue
        if other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
        else:
            other.unlink(missing_ok=True)


def _is_fresh(folder: Path) -> bool:
    """The cached world is complete and its history still ends near today: lot terms
    (a year and a day) are judged against the wall clock, so an old cache would turn
    short-term lots long."""
    if not all((folder / name).is_file() for name in (STATE_FILE, MANIFEST_FILE, HISTORY_FILE)):
        return False
    try:
        genesis = load_manifest(folder / MANIFEST_FILE).genesis_timestamp
    except ManifestInvalid:
        return False
    return genesis_timestamp_for() - genesis <= CACHE_MAX_AGE_DAYS * DAY_SECONDS


def start_world(
    *, port: int = 0, root: Path | None = None, seed: int = DEFAULT_SEED, archive: bool = False
) -> World:
    """A new node running the cached world (deploy + history), building the cache first
    if needed. Each call is a private node; the manifest carries its own rpc_url.

    Raises:
        ToolingMissing: Anvil, node or artifacts are not installed.
        AnvilStartFailed: Anvil did not start.
        TransactionFailed: building the cache failed.
        ManifestInvalid: the cached manifest or history cannot be read.
    """
    folder = ensure_cached_world(root, seed, archive=archive)
    node = start_anvil(AnvilOptions(port=port, load_state=folder / STATE_FILE))
    try:
        manifest = load_manifest(folder / MANIFEST_FILE).with_rpc_url(node.rpc_url)
        history = load_history(folder / HISTORY_FILE)
        target = _scratch_dir()
        write_manifest(manifest, target / MANIFEST_FILE)
        shutil.copyfile(folder / HISTORY_FILE, target / HISTORY_FILE)
    except BaseException:
        node.stop()
        raise
    log.info("world_started", rpc_url=node.rpc_url, manifest=str(target / MANIFEST_FILE))
    return World(
        node=node, manifest=manifest, history=history, directory=target, owns_directory=True
    )


def fork_world(origin: World, *, port: int = 0) -> World:
    """A second Anvil forking `origin` at its latest block (for executor tests): it sees
    the origin's pools and balances; its own transactions stay on the fork.

    Raises:
        AnvilStartFailed: the fork did not start.
        RpcRefused: the origin node did not answer.
    """
    block = origin.chain().w3.eth.block_number
    node = start_anvil(
        AnvilOptions(
            port=port,
            chain_id=origin.manifest.chain_id,
            fork_url=origin.rpc_url,
            fork_block_number=block,
            preserve_historical_states=False,
        )
    )
    try:
        fork_chain = WorldChain.at(node.rpc_url)
        origin_chain = origin.chain()
        # Anvil gives its dev accounts a fresh balance on a fork; restore the origin's.
        for account in origin.manifest.accounts:
            balance = origin_chain.w3.eth.get_balance(
                ChecksumAddress(HexAddress(HexStr(account.address))), block_identifier=block
            )
            fork_chain.set_balance(account.address, balance)
        manifest = origin.manifest.with_rpc_url(node.rpc_url)
        target = _scratch_dir()
        write_manifest(manifest, target / MANIFEST_FILE)
    except BaseException:
        node.stop()
        raise
    log.info("world_forked", rpc_url=node.rpc_url, origin=origin.rpc_url, block=block)
    return World(
        node=node,
        manifest=manifest,
        history=origin.history,
        directory=target,
        owns_directory=True,
    )


def _scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="harvestd-world-"))
