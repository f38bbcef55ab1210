"""`harvestd scan --once [--config FILE]`: run the strategy scan once on what the store
holds (run `harvestd backfill` first), store the proposals, print them as a table, exit.

Exit status: 0 after a scan (with or without proposals), 1 when the scan failed (the
error is printed), 2 for an unusable configuration file.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table

from harvestd.commands.config import load_settings_or_exit, start_logging
from harvestd.scanning import ScanOutcome, run_scan
from harvestd.settings import Settings
from ledger.errors import HarvestdError
from ledger.store import open_store

__all__ = ["EXIT_FAILED", "proposals_table", "register", "scan_command"]

EXIT_FAILED: Final = 1


def _usd(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return str(value)


def proposals_table(settings: Settings, outcomes: tuple[ScanOutcome, ...]) -> Table:
    """The stored proposals of a scan as a rich table (one row per proposal).

    Raises:
        Nothing.
    """
    symbols = {
        token.address.lower(): token.symbol for chain in settings.chains for token in chain.tokens
    }
    table = Table(title="proposals")
    for column in ("id", "kind", "trades", "lots", "short gain", "long gain", "tax", "costs"):
        table.add_column(column)
    for outcome in outcomes:
        for record in outcome.created:
            trades = record.details.get("trades")
            legs: list[str] = []
            lot_count = 0
            if isinstance(trades, list):
                for trade in trades:
                    if isinstance(trade, dict):
                        sell = str(trade.get("sell_asset", "")).lower()
                        buy = str(trade.get("buy_asset", "")).lower()
                        legs.append(f"{symbols.get(sell, sell)}>{symbols.get(buy, buy)}")
                        lots = trade.get("lots")
                        lot_count += len(lots) if isinstance(lots, list) else 0
            table.add_row(
                record.id[:8],
                record.kind,
                ", ".join(legs),
                str(lot_count),
                _usd(record.expected_short_term_gain_usd),
                _usd(record.expected_long_term_gain_usd),
                _usd(record.expected_tax_effect_usd),
                _usd(record.expected_cost_usd),
            )
    return table


def scan_command(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Scan once and exit (the daemon scans on schedule).")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The YAML settings file (overrides the root option)."),
    ] = None,
) -> None:
    """Run the strategy scan once, store its proposals and print them."""
    if not once:
        typer.echo("harvestd scan: only --once is supported; `harvestd run` scans on schedule")
        raise typer.Exit(2)
    settings = load_settings_or_exit(ctx, config)
    start_logging(ctx, settings)
    store = open_store(settings.database.url.get_secret_value())
    try:
        store.upgrade()
        outcomes = asyncio.run(run_scan(settings, store))
    except HarvestdError as error:
        typer.echo(f"harvestd scan: {error}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        store.close()
    Console().print(proposals_table(settings, outcomes))
    declined = sum(len(o.result.no_trades) for o in outcomes)
    created = sum(len(o.created) for o in outcomes)
    typer.echo(f"{created} proposal(s) created, {declined} candidate(s) declined")


def register(app: typer.Typer) -> None:
    """Add `scan` to the CLI."""
    app.command("scan")(scan_command)
