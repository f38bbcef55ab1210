"""`harvestd demo [--config FILE]`: the local world for `make run`.

Starts the cached Anvil world (Uniswap V2/V3, six tokens, the owner's wallets with more
than a year of history), exports its RPC address as `HARVESTD_RPC_URL` (which
config/local.yaml reads), prints where it is (RPC URL, manifest and history files), then
runs the daemon on it (dry-run, a fresh SQLite ledger per run unless
HARVESTD_DATABASE_URL is set). SIGINT/SIGTERM stop the daemon and then
Anvil cleanly.

The daemon is plugged in as a `DaemonRunner`: an async callable
`run_daemon(settings, manifest)` that runs until cancelled. `register(app, run_daemon=...)`
wires it; without one the demo only serves the chain.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Final

import structlog
import typer

from harvestd.commands.config import load_settings_or_exit, start_logging
from harvestd.commands.run import run_demo_daemon
from harvestd.settings import Settings
from harvestd.world.errors import WorldError
from harvestd.world.launch import World, start_world
from harvestd.world.manifest import Manifest
from harvestd.world.paths import cache_dir

log = structlog.get_logger(__name__)

RPC_URL_ENV: Final = "HARVESTD_RPC_URL"
MANIFEST_ENV: Final = "HARVESTD_MANIFEST"
DEFAULT_PORT: Final = 8545
EXIT_WORLD_FAILED: Final = 1

DaemonRunner = Callable[[Settings | None, Manifest], Coroutine[Any, Any, None]]
"""`run_daemon(settings, manifest)`: runs until cancelled; settings is None without
`--config`."""

DEFAULT_DAEMON: DaemonRunner | None = run_demo_daemon
"""The daemon `harvestd demo` runs: the same service as `harvestd run`."""

DATABASE_URL_ENV: Final = "HARVESTD_DATABASE_URL"


def export_world(world: World) -> None:
    """Make the world findable by the settings file and child processes."""
    os.environ[RPC_URL_ENV] = world.rpc_url
    os.environ[MANIFEST_ENV] = str(world.manifest_path)
    if not os.environ.get(DATABASE_URL_ENV):
        os.environ[DATABASE_URL_ENV] = f"sqlite:///{fresh_demo_database()}"


def fresh_demo_database() -> Path:
    """An empty SQLite file for this demo run.

    The demo's chain restarts from the cached world state on every run, so blocks a
    previous run saw are gone; its ledger starts afresh with it rather than rolling a
    stale ledger back. A user-set HARVESTD_DATABASE_URL is left alone.

    Raises:
        OSError: the cache folder cannot be written.
    """
    path = cache_dir() / "demo" / "demo.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("demo.db*"):
        stale.unlink()
    return path


async def serve(world: World, settings: Settings | None, run_daemon: DaemonRunner | None) -> None:
    """Run the daemon (or nothing) until SIGINT/SIGTERM or until the daemon returns."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with asyncio.TaskGroup() as group:
            waiter = group.create_task(stop.wait())
            if run_daemon is None:
                await waiter
                return
            daemon = group.create_task(run_daemon(settings, world.manifest))
            await asyncio.wait({waiter, daemon}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, daemon):
                task.cancel()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def run_demo(
    ctx: typer.Context,
    config: Path | None,
    *,
    port: int = DEFAULT_PORT,
    run_daemon: DaemonRunner | None = None,
) -> None:
    """Start the world, export it, load the settings (if given), serve until a signal.

    Raises:
        typer.Exit: the world could not start (after printing why), or the settings
            are invalid (status 2).
    """
    start_logging(ctx, None)
    # SIGTERM before the event loop runs must still stop Anvil: treat it like Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            world = start_world(port=port)
        except WorldError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_WORLD_FAILED) from error
        try:
            _announce(world)
            settings = load_settings_or_exit(ctx, config) if config is not None else None
            if settings is not None:
                start_logging(ctx, settings)
            asyncio.run(serve(world, settings, run_daemon))
        except KeyboardInterrupt:
            log.info("demo_interrupted", rpc_url=world.rpc_url)
        finally:
            world.stop()
            log.info("demo_world_stopped", rpc_url=world.rpc_url)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _announce(world: World) -> None:
    export_world(world)
    history_path = world.history_path
    log.info(
        "demo_world_started",
        rpc_url=world.rpc_url,
        chain_id=int(world.manifest.chain_id),
        manifest=str(world.manifest_path),
        history=str(history_path),
    )
    typer.echo(f"world rpc_url: {world.rpc_url}")
    typer.echo(f"world manifest: {world.manifest_path}")
    typer.echo(f"world history: {history_path}")


def register(app: typer.Typer, run_daemon: DaemonRunner | None = None) -> None:
    """Add `demo` to `app`; `run_daemon` (default `DEFAULT_DAEMON`) is what it serves."""
    runner = run_daemon if run_daemon is not None else DEFAULT_DAEMON

    @app.command("demo")
    def demo_command(
        ctx: typer.Context,
        config: Annotated[
            Path | None,
            typer.Option("--config", "-c", help="The YAML settings file (e.g. config/local.yaml)."),
        ] = None,
        port: Annotated[
            int, typer.Option(help="Preferred RPC port; a free one is used if it is taken.")
        ] = DEFAULT_PORT,
    ) -> None:
        """Run the local Anvil world with history and the daemon on it, in dry-run."""
        run_demo(ctx, config, port=port, run_daemon=runner)
