"""`harvestd proposals list|show|approve|reject`: review proposals in the store.

The store comes from the settings' `database.url` (root `--config`), or from
`--database URL` (env `HARVESTD_DATABASE_URL`) which needs no settings file. Approving is
what lets a live executor send a proposal's trades (unless `execution.auto_approve`);
rejecting closes it for good. Exit status: 0 done, 1 no such proposal or a status change
the proposal's state machine forbids, 2 unusable configuration, 3 store unavailable.
Each change is logged as `proposal_approved` / `proposal_rejected`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final

import structlog
import typer
from rich.console import Console
from rich.table import Table

from harvestd.commands.config import load_settings_or_exit, start_logging
from ledger.store import (
    Store,
    get_proposal,
    list_executions,
    list_proposals,
    open_store,
    redact_url,
    update_proposal_status,
)
from ledger.store.errors import InvalidTransition, NotFound, StoreError
from ledger.store.records import ExecutionRecord, ProposalRecord, ProposalStatus

log = structlog.get_logger(__name__)

EXIT_REFUSED: Final = 1
EXIT_STORE: Final = 3

proposals_app = typer.Typer(
    name="proposals", help="List, inspect, approve or reject proposals.", no_args_is_help=True
)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="HARVESTD_DATABASE_URL",
        help="A database URL (instead of the settings file's database.url).",
    ),
]


@contextmanager
def _opened_store(ctx: typer.Context, database: str | None) -> Iterator[Store]:
    if database is None:
        settings = load_settings_or_exit(ctx)
        start_logging(ctx, settings)
        url = settings.database.url.get_secret_value()
    else:
        start_logging(ctx, None)
        url = database
    try:
        store = open_store(url)
        store.upgrade()
    except StoreError as exc:
        typer.echo(f"harvestd: cannot open the store at {redact_url(url)}: {exc}", err=True)
        raise typer.Exit(EXIT_STORE) from exc
    try:
        yield store
    except (NotFound, InvalidTransition) as exc:
        typer.echo(f"harvestd: {exc}", err=True)
        raise typer.Exit(EXIT_REFUSED) from exc
    except StoreError as exc:
        typer.echo(f"harvestd: {exc}", err=True)
        raise typer.Exit(EXIT_STORE) from exc
    finally:
        store.close()


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def proposal_document(
    proposal: ProposalRecord, executions: list[ExecutionRecord]
) -> dict[str, object]:
    """A proposal and its executions as JSON-ready values (Decimals as strings)."""
    document: dict[str, object] = {
        name: _json_value(getattr(proposal, name))
        for name in ProposalRecord.__slots__
        if name != "details"
    }
    document["details"] = dict(proposal.details)
    document["executions"] = [
        {
            name: _json_value(getattr(record, name))
            for name in ExecutionRecord.__slots__
            if name != "raw_tx"
        }
        for record in executions
    ]
    return document


@proposals_app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        list[ProposalStatus] | None, typer.Option("--status", "-s", help="Only these statuses.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    database: DatabaseOption = None,
) -> None:
    """List proposals, oldest first."""
    with _opened_store(ctx, database) as store, store.reader("list_proposals") as session:
        found = list_proposals(session, statuses=status or None, limit=limit)
    if as_json:
        for proposal in found:
            typer.echo(json.dumps(proposal_document(proposal, []), sort_keys=True))
        return
    table = Table(title="Proposals")
    for column in (
        "id",
        "kind",
        "status",
        "chain",
        "created",
        "tax effect USD",
        "cost USD",
        "reason",
    ):
        table.add_column(column, justify="right" if "USD" in column else "left")
    for proposal in found:
        table.add_row(
            proposal.id,
            proposal.kind,
            proposal.status.value,
            str(proposal.chain_id),
            proposal.created_at.isoformat(timespec="seconds"),
            str(proposal.expected_tax_effect_usd),
            str(proposal.expected_cost_usd),
            proposal.reason,
        )
    Console(width=200).print(table)


@proposals_app.command("show")
def show_command(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(help="The proposal's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
    database: DatabaseOption = None,
) -> None:
    """Show one proposal with its expected figures, details and executions."""
    with _opened_store(ctx, database) as store, store.reader("show_proposal") as session:
        proposal = get_proposal(session, proposal_id)
        executions = list_executions(session, proposal_id=proposal_id)
    document = proposal_document(proposal, executions)
    if as_json:
        typer.echo(json.dumps(document, sort_keys=True, indent=2))
        return
    for name, value in document.items():
        if name in ("details", "executions"):
            continue
        typer.echo(f"{name}: {value}")
    typer.echo("details: " + json.dumps(document["details"], sort_keys=True))
    for record in executions:
        typer.echo(
            f"execution {record.id}: trade {record.trade_index} attempt {record.attempt} "
            f"{record.state.value} tx {record.tx_hash} nonce {record.nonce} "
            f"out {record.amount_out_raw} gas {record.gas_used}"
        )


def _move(
    ctx: typer.Context,
    proposal_id: str,
    status: ProposalStatus,
    note: str | None,
    database: str | None,
) -> None:
    with _opened_store(ctx, database) as store:
        with store.transaction("update_proposal_status") as session:
            updated = update_proposal_status(session, proposal_id, status, note=note)
        event = "proposal_approved" if status is ProposalStatus.APPROVED else "proposal_rejected"
        log.info(event, proposal_id=proposal_id, note=note)
    typer.echo(f"{updated.id}: {updated.status.value}")


@proposals_app.command("approve")
def approve_command(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(help="The proposal's id.")],
    note: Annotated[str | None, typer.Option(help="Why (kept with the proposal).")] = None,
    database: DatabaseOption = None,
) -> None:
    """Approve an open proposal so a live executor may send its trades."""
    _move(ctx, proposal_id, ProposalStatus.APPROVED, note, database)


@proposals_app.command("reject")
def reject_command(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(help="The proposal's id.")],
    note: Annotated[str | None, typer.Option(help="Why (kept with the proposal).")] = None,
    database: DatabaseOption = None,
) -> None:
    """Reject an open or approved proposal; it will never be executed."""
    _move(ctx, proposal_id, ProposalStatus.REJECTED, note, database)


def register(app: typer.Typer) -> None:
    """Add the `proposals` command group to the root app."""
    app.add_typer(proposals_app)
