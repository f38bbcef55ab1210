"""`harvestd report gains` on the local world's real history, after a real backfill into a
real SQLite store: the Form 8949 (us) and HMRC (uk) reports agree to the cent-less exact
value with the lots and disposals the indexer derived and stored."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvestd.cli import app
from harvestd.commands.backfill import backfill_chains
from harvestd.settings import load_settings
from harvestd.world.launch import World
from ledger.ids import ChainId
from ledger.store import load_disposals, open_store

ROOT = Path(__file__).resolve().parents[3]
CHAIN = ChainId(31337)
UK_OWNER = """owner:
  jurisdiction: uk
  tax_rates:
    flat: 0.24
"""


def _config(tmp_path: Path, *, uk: bool = False) -> Path:
    text = (ROOT / "config" / "local.yaml").read_text()
    if uk:
        start = text.index("owner:")
        end = text.index("\nchains:")
        text = text[:start] + UK_OWNER + text[end:]
    path = tmp_path / ("uk.yaml" if uk else "us.yaml")
    path.write_text(text)
    return path


@pytest.fixture
def backfilled(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("HARVESTD_RPC_URL", world.rpc_url)
    monkeypatch.setenv("HARVESTD_DATABASE_URL", db_url)
    settings = load_settings(_config(tmp_path))
    store = open_store(db_url)
    try:
        store.upgrade()
        asyncio.run(backfill_chains(settings, store, None))
    finally:
        store.close()
    return db_url


def _csv(result_output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(result_output)))


def test_form_8949_matches_the_stored_disposals(backfilled: str, tmp_path: Path) -> None:
    store = open_store(backfilled)
    with store.reader() as session:
        disposals = load_disposals(session, CHAIN)
    store.close()
    years = sorted({d.disposed_at.year for d in disposals})
    assert years, "the world's history sells something"
    runner = CliRunner()
    config = str(_config(tmp_path))
    for year in years:
        result = runner.invoke(app, ["report", "gains", "--year", str(year), "--csv", "-c", config])
        assert result.exit_code == 0, result.output
        rows = _csv(result.stdout)
        in_year = [d for d in disposals if d.disposed_at.year == year]
        assert len(rows) == sum(len(d.matches) for d in in_year)
        assert {r["part"] for r in rows} <= {"short", "long"}
        assert sum(Decimal(r["gain"]) for r in rows) == sum(
            (d.reportable_gain_usd for d in in_year), Decimal(0)
        )
        assert sum(Decimal(r["proceeds"]) for r in rows) == sum(
            (d.proceeds_usd for d in in_year), Decimal(0)
        )
        # Symbols, not addresses, describe what was sold.
        assert all(not r["description"].split()[-1].startswith("0x") for r in rows)
        table = runner.invoke(app, ["report", "gains", "--year", str(year), "-c", config])
        assert table.exit_code == 0, table.output
        assert "Form 8949 Part I" in table.stdout and "Part II" in table.stdout


def test_hmrc_computation_covers_every_disposal_of_the_tax_year(
    backfilled: str, tmp_path: Path
) -> None:
    config = str(_config(tmp_path, uk=True))
    runner = CliRunner()
    total_rows = 0
    for year in range(2024, 2027):
        result = runner.invoke(app, ["report", "gains", "--year", str(year), "--csv", "-c", config])
        assert result.exit_code == 0, result.output
        rows = _csv(result.stdout)
        for row in rows:
            assert Decimal(row["gain"]) == Decimal(row["proceeds"]) - Decimal(row["allowable_costs"])
        total_rows += len(rows)
        table = runner.invoke(app, ["report", "gains", "--year", str(year), "-c", config])
        assert table.exit_code == 0 and "HMRC capital gains computation" in table.stdout
    assert total_rows > 0


def test_a_bad_config_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("owner: {jurisdiction: mars}\n")
    result = CliRunner().invoke(app, ["report", "gains", "--year", "2025", "-c", str(bad)])
    assert result.exit_code == 2
