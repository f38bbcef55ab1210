"""`harvestd lots [--config FILE] [--json]`: the open lots the indexer derived, per chain.

One row per open lot: wallet, asset, amount (in whole tokens, exact), cost (USD), acquired
and holding-period start (UTC), and the transaction it came from. Reads the store only.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harvestd.commands.config import load_settings_or_exit, start_logging
from harvestd.settings import ChainSettings
from ledger.errors import HarvestdError
from ledger.events import NATIVE_ASSET
from ledger.ids import ChainId
from ledger.store import LotRecord, load_lots, open_store

__all__ = ["register"]


def _units(chain: ChainSettings) -> dict[str, tuple[str, int]]:
    units = {
        str(t.address): (t.symbol, t.decimals if t.decimals is not None else 0)
        for t in chain.tokens
    }
    units[str(NATIVE_ASSET)] = (chain.native_symbol, 18)
    return units


def _whole(amount_raw: int, decimals: int) -> str:
    if not decimals:
        return str(amount_raw)
    return format(Decimal(amount_raw).scaleb(-decimals).normalize(), "f")


def lots(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The YAML settings file (overrides the root option)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the open lots with their cost, acquisition time and holding-period start."""
    settings = load_settings_or_exit(ctx, config)
    start_logging(ctx, settings)
    store = open_store(settings.database.url.get_secret_value())
    found: list[tuple[ChainSettings, list[LotRecord]]] = []
    try:
        with store.reader("list open lots") as session:
            for chain in settings.chains:
                found.append((chain, load_lots(session, ChainId(chain.chain_id), open_only=True)))
    except HarvestdError as exc:
        typer.echo(f"harvestd lots: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "chain_id": chain.chain_id,
                        "lot": lot.lot_id,
                        "wallet": lot.wallet,
                        "asset": lot.asset,
                        "amount_raw": str(lot.remaining_raw),
                        "cost_usd": str(lot.remaining_cost_usd),
                        "acquired_at": lot.acquired_at.isoformat(),
                        "holding_period_start": lot.holding_period_start.isoformat(),
                        "tx_hash": lot.source.tx_hash,
                    }
                    for chain, chain_lots in found
                    for lot in chain_lots
                ],
                indent=2,
            )
        )
        return
    console = Console(width=180)
    for chain, chain_lots in found:
        units = _units(chain)
        wallets = {str(w.address): w.label for w in chain.wallets}
        table = Table(title=f"open lots on {chain.name} ({chain.chain_id})")
        for column in ("wallet", "asset", "amount", "cost (USD)", "acquired", "holding from", "tx"):
            table.add_column(column)
        for lot in chain_lots:
            symbol, decimals = units.get(str(lot.asset), (str(lot.asset), 0))
            table.add_row(
                wallets.get(str(lot.wallet), str(lot.wallet)),
                symbol,
                _whole(lot.remaining_raw, decimals),
                f"{lot.remaining_cost_usd:.2f}",
                lot.acquired_at.strftime("%Y-%m-%d %H:%M"),
                lot.holding_period_start.strftime("%Y-%m-%d %H:%M"),
                lot.source.tx_hash[:10],
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add `harvestd lots` to the root app.

    Raises:
        Nothing.
    """
    app.command("lots")(lots)
