"""The user's view of hostile tokens: `harvestd backfill` then `harvestd verify` on the
world after the hostile history (config/local.yaml, a SQLite file). The backfill finishes
(exit 0, no traceback); verify exits 1 and names the silently rebased token's difference
instead of failing as if the node had no state."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvestd.cli import app
from harvestd.world.hostile import HostileHistory
from harvestd.world.launch import World

REPO = Path(__file__).resolve().parents[3]
LOCAL_CONFIG = REPO / "config" / "local.yaml"


def test_backfill_and_verify_commands_on_hostile_tokens(
    hostile_world: tuple[World, HostileHistory],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, history = hostile_world
    monkeypatch.setenv("HARVESTD_RPC_URL", world.rpc_url)
    monkeypatch.setenv("HARVESTD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    filled = runner.invoke(app, ["backfill", "--config", str(LOCAL_CONFIG)])
    assert filled.exit_code == 0, filled.output
    assert "Traceback" not in filled.output
    verified = runner.invoke(app, ["verify", "--config", str(LOCAL_CONFIG)])
    assert verified.exit_code == 1
    assert "Traceback" not in verified.output
    assert "no balances at block" not in verified.output, verified.output
    assert history.tokens.rebasing.lower() in verified.output.lower(), verified.output
