"""`harvestd proposals list|show|approve|reject` on a real store (SQLite and Postgres)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from runner_world import add_proposal, migrated_store
from typer.testing import CliRunner

from harvestd.cli import app
from ledger.ids import ChainId
from ledger.store import get_proposal
from ledger.store.records import ProposalStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from store.conftest import pg_database

CHAIN = ChainId(31337)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated store's URL holding three open proposals."""
    with ExitStack() as cleanup:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'harvestd.db'}"
        else:
            url = cleanup.enter_context(pg_database("harvestd_t"))
        store = migrated_store(url)
        for proposal_id in ("p-1", "p-2", "p-3"):
            add_proposal(store, CHAIN, proposal_id, ProposalStatus.OPEN)
        store.close()
        yield url


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _status(url: str, proposal_id: str) -> ProposalStatus:
    store = migrated_store(url)
    try:
        with store.reader() as session:
            return get_proposal(session, proposal_id).status
    finally:
        store.close()


def test_list_show_approve_reject(database_url: str) -> None:
    db = ["--database", database_url]
    code, out, _ = _run("proposals", "list", "--json", *db)
    assert code == 0
    listed = [json.loads(line) for line in out.splitlines()]
    assert [p["id"] for p in listed] == ["p-1", "p-2", "p-3"]
    assert {p["status"] for p in listed} == {"open"}
    assert listed[0]["expected_tax_effect_usd"] == "3.1"

    code, out, _ = _run("proposals", "approve", "p-1", "--note", "looks right", *db)
    assert (code, out.strip()) == (0, "p-1: approved")
    assert _status(database_url, "p-1") is ProposalStatus.APPROVED

    code, out, _ = _run("proposals", "reject", "p-2", *db)
    assert (code, out.strip()) == (0, "p-2: rejected")
    assert _status(database_url, "p-2") is ProposalStatus.REJECTED

    code, out, _ = _run("proposals", "show", "p-1", "--json", *db)
    assert code == 0
    shown = json.loads(out)
    assert shown["status"] == "approved" and shown["status_note"] == "looks right"
    assert shown["details"] == {"trades": [{"sell": "ETH", "buy": "USDC"}]}
    assert shown["executions"] == []

    code, out, _ = _run("proposals", "show", "p-3", *db)
    assert code == 0 and "status: open" in out and "reason: sell ETH for USDC (test)" in out

    code, out, _ = _run("proposals", "list", "--status", "open", *db)
    assert code == 0 and "p-3" in out and "p-1" not in out

    # A rejected proposal cannot be approved; an unknown id is reported; nothing changes.
    code, _, err = _run("proposals", "approve", "p-2", *db)
    assert code == 1 and "cannot go from rejected to approved" in err
    assert _status(database_url, "p-2") is ProposalStatus.REJECTED
    code, _, err = _run("proposals", "show", "nope", *db)
    assert code == 1 and "no proposal nope" in err
