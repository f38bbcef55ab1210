"""`harvestd report gains --year Y [--csv]`: the tax year's realised gains from the ledger.

The report replays the lot engine over the booked chain events (the same replay the
indexer uses to derive lots) under the owner's policy, then shapes the year's disposals
the way the jurisdiction files them:

- `us`: IRS Form 8949 — one row per matched piece, Part I short term and Part II long
  term, with code `W` and the disallowed amount for a wash sale;
- `uk`: the HMRC computation (number of disposals, proceeds, allowable costs, gains,
  losses) with a row per disposal, same-day disposals already joined;
- `de`, `ca`, `generic`: one row per disposal with its term (exempt in Germany after a
  year).

The tax year starts on `owner.tax_year_start` of year Y (1 January, or 6 April for the UK
unless configured otherwise) and runs one year. Values are exact in `--csv`; tables round
to cents. Several chains are reported one after another (assets are per chain).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table

from harvestd.commands.backfill import policy_for
from harvestd.commands.config import load_settings_or_exit, start_logging
from harvestd.settings import ChainSettings, Settings
from ledger.booking import book_events
from ledger.engine import Jurisdiction, LedgerResult, Policy, replay
from ledger.errors import HarvestdError
from ledger.events import NATIVE_ASSET
from ledger.ids import ChainId
from ledger.reports import Form8949, HmrcComputation, build_form_8949, build_hmrc_computation
from ledger.store import Store, list_assets, load_events, open_store

__all__ = ["ChainReport", "register", "replay_chain", "tax_year"]

EXIT_FAILED: Final = 1
_CENT: Final = Decimal("0.01")

report_app = typer.Typer(name="report", help="Tax reports from the ledger.", no_args_is_help=True)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """One chain's replayed ledger with the names and decimals to present it."""

    chain: ChainSettings
    result: LedgerResult
    names: dict[str, str]
    decimals: dict[str, int]


def tax_year(settings: Settings, year: int) -> tuple[date, date]:
    """The first and last day of the owner's tax year that starts in `year`.

    Raises:
        ValueError: the start day does not exist in `year` (29 February).
    """
    start_day = settings.owner.tax_year_start
    start = date(year, start_day.month, start_day.day)
    end = date(year + 1, start_day.month, start_day.day) - timedelta(days=1)
    return start, end


def replay_chain(store: Store, chain: ChainSettings, policy: Policy) -> ChainReport:
    """Replay a chain's booked events under `policy`, with its assets' names and decimals.

    Raises:
        StoreError: the store could not be read.
        BookingError: the events cannot be booked (see ledger.booking).
        EngineError: the engine refused an event.
    """
    chain_id = ChainId(chain.chain_id)
    with store.reader("report replay") as session:
        events = load_events(session, chain_id)
        stored_assets = list_assets(session, chain_id)
    names = {str(NATIVE_ASSET): chain.native_symbol}
    decimals = {str(NATIVE_ASSET): 18}
    for asset in stored_assets:
        names[str(asset.address)] = asset.symbol or str(asset.address)
        decimals[str(asset.address)] = asset.decimals
    for token in chain.tokens:
        names[str(token.address)] = token.symbol
        if token.decimals is not None:
            decimals[str(token.address)] = token.decimals
    result = replay(book_events(events).events, policy)
    return ChainReport(chain=chain, result=result, names=names, decimals=decimals)


def _cents(value: Decimal) -> str:
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_EVEN):,}"


def _print_form_8949(console: Console, title: str, form: Form8949) -> None:
    for part_name, part in (
        ("Part I - short term", form.short_term),
        ("Part II - long term", form.long_term),
    ):
        table = Table(title=f"{title}: Form 8949 {part_name}", show_footer=True)
        table.add_column("(a) description", footer="totals")
        table.add_column("(b) acquired")
        table.add_column("(c) sold")
        table.add_column("(d) proceeds", justify="right", footer=_cents(part.proceeds))
        table.add_column("(e) cost", justify="right", footer=_cents(part.cost))
        table.add_column("(f) code")
        table.add_column("(g) adjustment", justify="right", footer=_cents(part.adjustment))
        table.add_column("(h) gain", justify="right", footer=_cents(part.gain))
        for row in part.rows:
            table.add_row(
                row.description,
                row.date_acquired.isoformat(),
                row.date_sold.isoformat(),
                _cents(row.proceeds),
                _cents(row.cost),
                row.code,
                _cents(row.adjustment),
                _cents(row.gain),
            )
        console.print(table)


def _print_hmrc(console: Console, title: str, computation: HmrcComputation) -> None:
    table = Table(title=f"{title}: HMRC capital gains computation", show_footer=True)
    table.add_column("disposal", footer=f"{computation.disposals} disposals")
    table.add_column("date")
    table.add_column("asset")
    table.add_column("amount", justify="right")
    table.add_column("proceeds", justify="right", footer=_cents(computation.proceeds))
    table.add_column("allowable costs", justify="right", footer=_cents(computation.allowable_costs))
    table.add_column("gain", justify="right", footer=_cents(computation.net_gain))
    for row in computation.rows:
        table.add_row(
            row.disposal_id,
            row.date.isoformat(),
            row.asset,
            str(row.amount),
            _cents(row.proceeds),
            _cents(row.allowable_costs),
            _cents(row.gain),
        )
    console.print(table)
    console.print(
        f"gains in the year before losses: {_cents(computation.gains)}   "
        f"losses in the year: {_cents(computation.losses)}   net: {_cents(computation.net_gain)}"
    )


def _disposal_rows(report: ChainReport, start: date, end: date) -> list[list[str]]:
    rows: list[list[str]] = []
    for disposal in report.result.disposals:
        sold = disposal.time.date()
        if not start <= sold <= end:
            continue
        rows.append(
            [
                disposal.id,
                sold.isoformat(),
                report.names.get(disposal.asset, disposal.asset),
                str(Decimal(disposal.amount_raw).scaleb(-report.decimals.get(disposal.asset, 0))),
                str(disposal.proceeds),
                str(disposal.cost),
                str(disposal.gain),
                "" if disposal.term is None else disposal.term.value,
            ]
        )
    return rows


_CSV_HEADERS: Final = {
    Jurisdiction.US: [
        "chain",
        "part",
        "description",
        "date_acquired",
        "date_sold",
        "proceeds",
        "cost",
        "code",
        "adjustment",
        "gain",
    ],
    Jurisdiction.UK: [
        "chain",
        "disposal",
        "date",
        "asset",
        "amount",
        "proceeds",
        "allowable_costs",
        "gain",
    ],
}
_GENERIC_HEADER: Final = [
    "chain",
    "disposal",
    "date",
    "asset",
    "amount",
    "proceeds",
    "cost",
    "gain",
    "term",
]


def _csv_rows(report: ChainReport, start: date, end: date) -> list[list[str]]:
    name = report.chain.name
    jurisdiction = report.result.policy.jurisdiction
    if jurisdiction is Jurisdiction.US:
        form = build_form_8949(report.result, report.decimals, start, end, report.names)
        return [
            [name, part, r.description, r.date_acquired.isoformat(), r.date_sold.isoformat(),
             str(r.proceeds), str(r.cost), r.code, str(r.adjustment), str(r.gain)]
            for part, rows in (("short", form.short_term.rows), ("long", form.long_term.rows))
            for r in rows
        ]  # fmt: skip
    if jurisdiction is Jurisdiction.UK:
        computation = build_hmrc_computation(
            report.result, report.decimals, start, end, report.names
        )
        return [
            [name, r.disposal_id, r.date.isoformat(), r.asset, str(r.amount), str(r.proceeds),
             str(r.allowable_costs), str(r.gain)]
            for r in computation.rows
        ]  # fmt: skip
    return [[name, *row] for row in _disposal_rows(report, start, end)]


def _print_report(console: Console, report: ChainReport, start: date, end: date) -> None:
    title = f"{report.chain.name} {start.isoformat()}..{end.isoformat()}"
    jurisdiction = report.result.policy.jurisdiction
    if jurisdiction is Jurisdiction.US:
        form = build_form_8949(report.result, report.decimals, start, end, report.names)
        _print_form_8949(console, title, form)
    elif jurisdiction is Jurisdiction.UK:
        computation = build_hmrc_computation(
            report.result, report.decimals, start, end, report.names
        )
        _print_hmrc(console, title, computation)
    else:
        table = Table(title=f"{title}: realised gains ({jurisdiction.value})")
        for header in _GENERIC_HEADER[1:]:
            table.add_column(header)
        for row in _disposal_rows(report, start, end):
            table.add_row(*row)
        console.print(table)


def _write_csv(reports: Sequence[ChainReport], start: date, end: date) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    jurisdiction = reports[0].result.policy.jurisdiction if reports else Jurisdiction.GENERIC
    writer.writerow(_CSV_HEADERS.get(jurisdiction, _GENERIC_HEADER))
    for report in reports:
        writer.writerows(_csv_rows(report, start, end))


@report_app.command("gains")
def gains(
    ctx: typer.Context,
    year: Annotated[int, typer.Option("--year", help="The tax year, by the year it starts in.")],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The YAML settings file (overrides the root option)."),
    ] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Exact CSV on stdout instead of tables.")
    ] = False,
) -> None:
    """Print the tax year's realised gains as the jurisdiction files them (Form 8949 for
    the US, the HMRC computation for the UK, a disposal list elsewhere).

    Raises:
        typer.Exit: 2 for invalid settings, 1 when the ledger cannot be read or replayed.
    """
    settings = load_settings_or_exit(ctx, config)
    start_logging(ctx, settings)
    try:
        start, end = tax_year(settings, year)
    except ValueError as exc:
        typer.echo(f"harvestd report gains: tax year {year}: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc
    policy = policy_for(settings)
    store = open_store(settings.database.url.get_secret_value())
    try:
        reports = [replay_chain(store, chain, policy) for chain in settings.chains]
    except HarvestdError as exc:
        typer.echo(f"harvestd report gains: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc
    finally:
        store.close()
    if as_csv:
        _write_csv(reports, start, end)
        return
    console = Console()
    for report in reports:
        _print_report(console, report, start, end)


def register(app: typer.Typer) -> None:
    """Add the `report` command group to the root app.

    Raises:
        Nothing.
    """
    app.add_typer(report_app, name="report")
