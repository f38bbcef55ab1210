"""The package arrows of DESIGN.md, enforced: ledger imports nothing of ours, the three
stages never import each other, nothing imports harvestd, the lot engine is stdlib-only."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken" in result.stdout


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    """The contracts are live: a copy of the tree where strategy imports executor fails."""
    for pkg in ("ledger", "indexer", "strategy", "executor", "harvestd"):
        dst = tmp_path / pkg
        dst.mkdir()
        (dst / "__init__.py").write_text("")
    (tmp_path / "strategy" / "bad.py").write_text("import executor\n")
    (tmp_path / "ledger" / "engine").mkdir()
    (tmp_path / "ledger" / "engine" / "__init__.py").write_text("")
    (tmp_path / "ledger" / "store").mkdir()
    (tmp_path / "ledger" / "store" / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "strategy.bad -> executor" in result.stdout, textwrap.shorten(result.stdout, 2000)
