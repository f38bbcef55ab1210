"""`harvestd run [--config FILE]`: run the daemon until SIGTERM/SIGINT.

Steps: load and validate the settings (exit 2 on problems), configure logging, take the
single-instance lock of the store (exit 3, naming the store and the holder's pid, when
another daemon has it), migrate the store to head (exit 1 if that fails), build the
daemon through `harvestd.wiring`, run it. SIGTERM/SIGINT stop the scheduler, let a
running job finish its current transaction (up to the daemon's shutdown grace), close
the server, release the lock, close the store, and exit 0, well within 10 s.

`run_service(settings, stages)` is the same without the CLI; `run_demo_daemon` is the
`DaemonRunner` for `harvestd demo` (set `harvestd.commands.demo.DEFAULT_DAEMON` to it).

The stages wired (`DEFAULT_STAGES`): each chain's index job is the indexer's backfill
(`harvestd.commands.backfill.index_chain_job`) followed, once per process after its first
successful run, by a scan of that chain (`index_then_first_scan`), so proposals follow a
start-up's catch-up instead of waiting for `strategy.schedule`; the strategy scan
(`harvestd.scanning.scan_job`) on `strategy.schedule`; the execution job
(`harvestd.executing.execute_job`) every `jobs.execute_interval_seconds`. In live mode
`harvestd run` reads the signing key before the daemon starts (exit 2 when it cannot),
registers it with the log redactor, and hands it to the execution job.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Annotated, Final

import typer

from harvestd.commands.backfill import index_chain_job
from harvestd.commands.config import EXIT_CONFIG, load_settings_or_exit, start_logging
from harvestd.daemon import JobContext, JobFunction
from harvestd.errors import SigningKeyUnavailable
from harvestd.executing import execute_job
from harvestd.instance_lock import InstanceAlreadyRunning, InstanceLockError, acquire_instance_lock
from harvestd.logs import get_logger
from harvestd.scanning import scan_chain, scan_job
from harvestd.settings import ChainSettings, Settings
from harvestd.settings_keys import load_signing_key
from harvestd.wiring import Stages, build_daemon
from harvestd.world.manifest import Manifest
from ledger.errors import HarvestdError
from ledger.ids import ChainId
from ledger.store import Store, open_store
from ledger.store.errors import StoreError

__all__ = [
    "DEFAULT_STAGES",
    "EXIT_ALREADY_RUNNING",
    "EXIT_STORE_FAILED",
    "index_then_first_scan",
    "register",
    "run_demo_daemon",
    "run_service",
]

log = get_logger(__name__)

EXIT_STORE_FAILED: Final = 1
"""The store could not be opened or migrated, or the lock could not be taken."""
EXIT_ALREADY_RUNNING: Final = 3
"""Another daemon holds this store."""


def index_then_first_scan(settings: Settings, chain: ChainSettings, store: Store) -> JobFunction:
    """The chain's index job; after its first successful run, one scan of the chain.

    A scan that fails here is logged (`first_scan_failed`) and left to `strategy.schedule`:
    indexing must not stall on the strategy.

    Raises:
        Nothing (the job raises what the indexer's job raises).
    """
    index = index_chain_job(settings, chain, store)
    scanned: list[bool] = []

    async def run(context: JobContext) -> None:
        await index(context)
        if scanned or context.is_stopping():
            return
        scanned.append(True)
        try:
            await scan_chain(settings, store, chain)
        except HarvestdError as error:
            log.warning(
                "first_scan_failed",
                chain_id=ChainId(chain.chain_id),
                error_type=type(error).__name__,
                error=str(error),
            )

    return run


DEFAULT_STAGES: Final = Stages(
    index_chain=index_then_first_scan, scan=scan_job, execute=execute_job
)
"""The stages `harvestd run` wires: the indexer's backfill (+ a first scan), the strategy
scan on its schedule, and the execution job (dry-run unless `execution.mode: live`)."""


async def run_daemon_until_stopped(
    settings: Settings, stages: Stages, *, handle_signals: bool = True
) -> None:
    """Open the store, migrate it, and run the daemon until SIGTERM/SIGINT or cancellation.

    The caller holds the instance lock. With `handle_signals` False the caller owns the
    signals and stops the daemon by cancelling this coroutine's task (still graceful).

    Raises:
        StoreError: the store cannot be opened or migrated.
        DuplicateJob: the stages give two jobs one name.
    """
    store = open_store(settings.database.url.get_secret_value())
    try:
        await asyncio.to_thread(store.upgrade)
        parts = build_daemon(settings, store, stages)
        if not handle_signals:
            await parts.daemon.run(parts.services)
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, parts.daemon.request_stop)
        try:
            await parts.daemon.run(parts.services)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
    finally:
        store.close()


async def run_service(
    settings: Settings, stages: Stages = DEFAULT_STAGES, *, handle_signals: bool = True
) -> None:
    """Take the store's lock, then run the daemon until stopped; release the lock after.

    Raises:
        InstanceAlreadyRunning: another daemon holds the store.
        InstanceLockUnavailable: the lock could not be taken.
        StoreError: the store cannot be opened or migrated.
    """
    lock = await asyncio.to_thread(acquire_instance_lock, settings.database.url.get_secret_value())
    try:
        await run_daemon_until_stopped(settings, stages, handle_signals=handle_signals)
    finally:
        lock.release()
        log.info("instance_lock_released", store=lock.store)


async def run_demo_daemon(settings: Settings | None, manifest: Manifest) -> None:
    """The `harvestd demo` daemon runner (`DaemonRunner`): runs until its task is cancelled.

    Without settings there is nothing to run; it waits to be cancelled.

    Raises:
        InstanceAlreadyRunning: another daemon holds the store.
        InstanceLockUnavailable: the lock could not be taken.
        StoreError: the store cannot be opened or migrated.
    """
    del manifest  # the settings file already names the world's addresses
    if settings is None:
        log.warning("daemon_not_started", reason="harvestd demo was given no settings file")
        await asyncio.Event().wait()
        return
    await run_service(settings, DEFAULT_STAGES, handle_signals=False)


def run_command(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The YAML settings file (overrides the root option)."),
    ] = None,
) -> None:
    """Run the daemon: index, scan, execute on schedule; serve /healthz and /metrics."""
    settings = load_settings_or_exit(ctx, config)
    redactor = start_logging(ctx, settings)
    stages = DEFAULT_STAGES
    source = settings.execution.key
    if settings.execution.is_live and source is not None:
        try:
            key = load_signing_key(source, os.environ)
        except SigningKeyUnavailable as exc:
            typer.echo(f"harvestd: {exc}", err=True)
            raise typer.Exit(EXIT_CONFIG) from exc
        # Before anything can log it.
        redactor.register(key)
        stages = replace(DEFAULT_STAGES, execute=partial(execute_job, key=key))
    try:
        asyncio.run(run_service(settings, stages))
    except InstanceAlreadyRunning as exc:
        typer.echo(f"harvestd: {exc}", err=True)
        raise typer.Exit(EXIT_ALREADY_RUNNING) from exc
    except (InstanceLockError, StoreError) as exc:
        typer.echo(f"harvestd: {exc}", err=True)
        raise typer.Exit(EXIT_STORE_FAILED) from exc
    except OSError as exc:
        # The server's address cannot be bound (port in use, host not local).
        typer.echo(
            f"harvestd: cannot serve on {settings.server.host}:{settings.server.port}: {exc}",
            err=True,
        )
        raise typer.Exit(EXIT_STORE_FAILED) from exc


def register(app: typer.Typer) -> None:
    """Add `harvestd run` to the root app."""
    app.command("run")(run_command)
