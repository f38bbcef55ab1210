"""The CLI root: `harvestd config check` and `harvestd init`, run as a user would."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
import typer
from typer.testing import CliRunner

from harvestd.cli import COMMAND_MODULES, _root, app
from harvestd.commands.config import load_settings_or_exit, start_logging
from harvestd.logs import get_logger
from harvestd.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
MAIN = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

BAD = """\
owner:
  jurisdiction: mars
  tax_rates: {flat: 0.2}
chains:
  - name: local
    chain_id: 31337
    rpc_url: http://127.0.0.1:8545
    numeraire: USDC
    wallets: [{label: main, address: "0x70997970C51812dc3A010C7d01b50e0d17dc79c8"}]
    tokens: [{symbol: USDC, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3"}]
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_config_check_exits_2_and_prints_every_problem(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path}: 2 problems" in result.stderr
    assert "owner.jurisdiction (line 2): got 'mars', expected one of" in result.stderr
    assert "chains.0.wallets.0.address (line 9): got" in result.stderr
    assert result.stdout == ""


def test_config_check_accepts_the_local_config(runner: CliRunner) -> None:
    result = runner.invoke(app, ["config", "check", str(ROOT / "config" / "local.yaml")])
    assert result.exit_code == 0, result.stderr
    assert "local.yaml: OK" in result.stdout
    assert "chain local (id 31337): 2 wallet(s), 6 token(s)" in result.stdout


def test_config_check_reports_a_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "none found" in result.stderr


def test_init_writes_a_valid_file_and_never_overwrites(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "harvestd.yaml"
    result = runner.invoke(
        app, ["init", str(path), "--wallet", f"main={MAIN}", "--jurisdiction", "de"]
    )
    assert result.exit_code == 0, result.stderr
    settings = load_settings(path, {"HARVESTD_RPC_URL": "http://127.0.0.1:8545"})
    assert settings.owner.jurisdiction.value == "de"
    assert settings.chains[0].wallets[0].address == MAIN
    again = runner.invoke(app, ["init", str(path), "--wallet", f"main={MAIN}"])
    assert again.exit_code == 1
    assert "exists" in again.stderr
    forced = runner.invoke(app, ["init", str(path), "--wallet", f"main={MAIN}", "--force"])
    assert forced.exit_code == 0


def test_init_refuses_a_bad_wallet_address(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "harvestd.yaml"
    result = runner.invoke(app, ["init", str(path), "--wallet", f"main={MAIN.lower()}"])
    assert result.exit_code == 2
    assert "chains.0.wallets.0.address" in result.stderr
    assert not path.exists()


def test_every_registered_command_module_loads(runner: CliRunner) -> None:
    assert "harvestd.commands.config" in COMMAND_MODULES
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "config" in result.stdout and "init" in result.stdout


def test_the_installed_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harvestd", "--version"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("harvestd ")


def test_a_command_gets_settings_and_logging_from_the_root_options(tmp_path: Path) -> None:
    probe = typer.Typer()
    probe.callback()(_root)

    @probe.command("probe")
    def probe_command(ctx: typer.Context) -> None:
        settings = load_settings_or_exit(ctx)
        start_logging(ctx, settings)
        get_logger("probe").info("probe_ran", chains=len(settings.chains))

    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        ok = CliRunner().invoke(
            probe,
            ["--config", str(ROOT / "config" / "local.yaml"), "--log-format", "json", "probe"],
        )
        assert ok.exit_code == 0, ok.stderr
        line = json.loads(ok.stderr.strip().splitlines()[-1])
        assert line["event"] == "probe_ran" and line["chains"] == 1
        bad = tmp_path / "bad.yaml"
        bad.write_text(BAD, encoding="utf-8")
        failed = CliRunner().invoke(probe, ["--config", str(bad), "probe"])
        assert failed.exit_code == 2
        assert "owner.jurisdiction (line 2)" in failed.stderr
    finally:
        structlog.reset_defaults()
        for handler in list(root.handlers):
            if handler not in before[0]:
                root.removeHandler(handler)
        root.setLevel(before[1])
