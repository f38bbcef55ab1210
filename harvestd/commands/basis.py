"""`harvestd basis FILE [--json]`: run the lot engine on a hand-written basis file.

Needs no chain, no RPC and no configuration file (BASIS-FILE.md). Prints tables (values
rounded to cents for display only) or, with `--json`, the exact JSON document. A file
that cannot be read exits 2; an event the engine refuses (more than held, a bad named
lot, ...) exits 1; both print one line naming the event and what is wrong on stderr.
Nothing is written anywhere.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table

from ledger.basisfile import BasisFile, dumps_result, load_basis_file, run_basis_file
from ledger.engine import BasisFileError, EngineError, LedgerResult
from ledger.engine.money import amount_to_decimal, format_decimal

EXIT_BAD_FILE: Final = 2
EXIT_REFUSED: Final = 1
_CENT: Final = Decimal("0.01")


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_EVEN):,}"


def _amount(raw: int, asset: str, basis: BasisFile) -> str:
    return format_decimal(amount_to_decimal(raw, basis.decimals.get(asset, 0)))


def render_tables(console: Console, basis: BasisFile, result: LedgerResult) -> None:
    """Print disposals, holdings and totals as tables.

    Raises:
        Nothing.
    """
    currency = basis.currency
    disposals = Table(title=f"Disposals ({basis.policy.jurisdiction}, {currency})")
    for column in (
        "id",
        "date",
        "asset",
        "amount",
        "proceeds",
        "cost",
        "gain",
        "term",
        "disallowed",
        "reportable",
        "matched",
    ):
        numeric = column in ("amount", "proceeds", "cost", "gain", "disallowed", "reportable")
        disposals.add_column(column, justify="right" if numeric else "left", no_wrap=numeric)
    for disposal in result.disposals:
        disposals.add_row(
            disposal.id,
            disposal.time.date().isoformat(),
            disposal.asset,
            _amount(disposal.amount_raw, disposal.asset, basis),
            _money(disposal.proceeds),
            _money(disposal.cost),
            _money(disposal.gain),
            disposal.term.value if disposal.term else "-",
            _money(disposal.disallowed_loss),
            _money(disposal.reportable_gain),
            ", ".join(
                f"{piece.lot} {piece.rule.value} {_amount(piece.amount_raw, disposal.asset, basis)}"
                for piece in disposal.pieces
            ),
        )
    console.print(disposals)
    holdings = Table(title="Holdings")
    for column in ("asset", "wallet", "amount", "cost", "lots"):
        holdings.add_column(column, justify="right" if column in ("amount", "cost") else "left")
    for holding in result.holdings:
        holdings.add_row(
            holding.asset,
            holding.wallet or "(pooled)",
            _amount(holding.amount_raw, holding.asset, basis),
            _money(holding.cost),
            ", ".join(lot.id for lot in holding.lots),
        )
    console.print(holdings)
    totals = result.totals
    summary = Table(title="Totals (reportable gains)")
    for column in ("short term", "long term", "exempt", "disallowed loss", "net"):
        summary.add_column(column, justify="right")
    summary.add_row(
        _money(totals.short_term_gain),
        _money(totals.long_term_gain),
        _money(totals.exempt_gain),
        _money(totals.disallowed_loss),
        _money(totals.net_gain),
    )
    console.print(summary)


def basis(
    file: Annotated[Path, typer.Argument(help="The basis file (YAML, see BASIS-FILE.md).")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the exact JSON document instead of tables.")
    ] = False,
) -> None:
    """Run the lot engine on a basis file and print what was realised and what is held.

    Raises:
        typer.Exit: 2 for a file that cannot be read, 1 for an event the engine refuses.
    """
    # Errors are one plain line each (never soft-wrapped to the terminal's width), so
    # they stay greppable and name the event in one piece.
    try:
        parsed = load_basis_file(file)
    except BasisFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_FILE) from None
    try:
        result = run_basis_file(parsed)
    except EngineError as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    if json_output:
        typer.echo(dumps_result(result, parsed.decimals))
        return
    console = Console()
    if not console.is_terminal:  # a pipe or a file: do not squeeze the tables into 80 columns
        console = Console(width=200)
    render_tables(console, parsed, result)


def register(app: typer.Typer) -> None:
    """Add the `basis` command to the root app.

    Raises:
        Nothing.
    """
    app.command("basis")(basis)
