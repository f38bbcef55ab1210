"""`harvestd verify [--config FILE]`: the ledger's balances against the chain's.

For every configured chain, wallet and token (and the native coin), the ledger's balance
at the checkpoint (the sum of booked raw amounts, gas included) must equal `balanceOf` /
`eth_getBalance` at that block (`indexer.verify`). Prints one table row per balance that
differs (or a one-line "all N balances match" per chain); exits 1 if any differs or a
chain cannot be verified.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table

from harvestd.commands.config import load_settings_or_exit, start_logging
from harvestd.settings import ChainSettings, Settings
from indexer.rpc import RpcClient
from indexer.verify import VerifyReport, verify_balances
from ledger.errors import HarvestdError
from ledger.events import NATIVE_ASSET
from ledger.ids import ChainId
from ledger.store import Store, open_store

__all__ = ["EXIT_DIFFERENCES", "register", "verify_chains"]

EXIT_DIFFERENCES: Final = 1


async def _verify_chain(chain: ChainSettings, store: Store) -> VerifyReport:
    async with RpcClient(chain.rpc_url.get_secret_value(), max_concurrency=2) as rpc:
        return await verify_balances(
            store,
            rpc,
            ChainId(chain.chain_id),
            chain.wallet_addresses(),
            [t.address for t in chain.tokens],
        )


async def verify_chains(settings: Settings, store: Store) -> list[VerifyReport]:
    """Verify every configured chain, one after the other.

    Raises:
        NothingIndexed, PastStateUnavailable, RpcTimeout, RpcUnavailable,
        MalformedResponse, StoreError: see `indexer.verify.verify_balances`.
    """
    return [await _verify_chain(chain, store) for chain in settings.chains]


def _symbols(chain: ChainSettings) -> dict[str, str]:
    names = {str(t.address): t.symbol for t in chain.tokens}
    names[str(NATIVE_ASSET)] = chain.native_symbol
    return names


def verify(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The YAML settings file (overrides the root option)."),
    ] = None,
) -> None:
    """Check the ledger's balances against the chain's at the checkpoint; exit 1 on a difference."""
    settings = load_settings_or_exit(ctx, config)
    start_logging(ctx, settings)
    store = open_store(settings.database.url.get_secret_value())
    try:
        reports = asyncio.run(verify_chains(settings, store))
    except HarvestdError as exc:
        typer.echo(f"harvestd verify: {exc}", err=True)
        raise typer.Exit(EXIT_DIFFERENCES) from exc
    finally:
        store.close()
    console = Console(width=160)
    failed = False
    for chain, report in zip(settings.chains, reports, strict=True):
        wallets = {str(w.address): w.label for w in chain.wallets}
        symbols = _symbols(chain)
        for check in report.unverifiable:
            console.print(
                f"chain {report.chain_id}: {symbols.get(str(check.asset), str(check.asset))} "
                f"of {wallets.get(str(check.wallet), str(check.wallet))} cannot be verified "
                f"(no balanceOf); ledger holds {check.ledger_raw} raw"
            )
        if not report.differences:
            console.print(
                f"chain {report.chain_id} at block {report.block_number}: "
                f"all {len(report.checks)} balances match"
            )
            continue
        failed = True
        table = Table(title=f"chain {report.chain_id} at block {report.block_number}: differences")
        for column in ("wallet", "asset", "ledger (raw)", "chain (raw)", "chain - ledger"):
            table.add_column(
                column, justify="right" if "raw" in column or "-" in column else "left"
            )
        for check in report.differences:
            table.add_row(
                wallets.get(str(check.wallet), str(check.wallet)),
                symbols.get(str(check.asset), str(check.asset)),
                str(check.ledger_raw),
                str(check.chain_raw) if check.chain_raw is not None else "n/a",
                str(check.difference_raw),
            )
        console.print(table)
    if failed:
        raise typer.Exit(EXIT_DIFFERENCES)


def register(app: typer.Typer) -> None:
    """Add `harvestd verify` to the root app.

    Raises:
        Nothing.
    """
    app.command("verify")(verify)
