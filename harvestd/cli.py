"""harvestd's command line: one typer app; each command lives in the module that owns it
and is registered here. Commands print and exit; everything below them raises."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="harvestd",
    help="Exact cost-basis ledger and tax-aware harvesting daemon for EVM wallets.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Exact cost-basis ledger and tax-aware harvesting daemon for EVM wallets."""


def main() -> None:
    """Run the harvestd CLI."""
    app()
