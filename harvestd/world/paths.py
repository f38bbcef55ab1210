"""Where the world's tooling and caches live: the repository root, node_modules, the
Anvil binary (env override `HARVESTD_ANVIL`), artifacts and `.harvestd-cache/`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

ANVIL_ENV: Final = "HARVESTD_ANVIL"
ROOT_ENV: Final = "HARVESTD_ROOT"
ANVIL_RELATIVE: Final = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
CACHE_DIRNAME: Final = ".harvestd-cache"
CONTRACTS_DIR: Final = Path(__file__).resolve().parent / "contracts"

INSTALL_HINT: Final = (
    "run `make deps` (or `npm ci` in the repository root) to install the chain tooling"
)


def node_install_hint() -> str:
    """Say how to get node/npm when they are missing, else the `make deps` hint."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        return (
            "node/npm are not installed: install Node.js 18+ with npm "
            "(e.g. `apt-get install nodejs npm`), then " + INSTALL_HINT
        )
    return INSTALL_HINT


def find_repo_root(start: Path | None = None) -> Path:
    """The directory holding package.json: `HARVESTD_ROOT`, else above this package,
    else above the working directory; falls back to the working directory."""
    override = os.environ.get(ROOT_ENV)
    if override:
        return Path(override).resolve()
    candidates = [Path(__file__).resolve().parent, (start or Path.cwd()).resolve()]
    for base in candidates:
        for directory in (base, *base.parents):
            if (directory / "package.json").is_file() and (directory / "pyproject.toml").is_file():
                return directory
    return (start or Path.cwd()).resolve()


def cache_dir(root: Path | None = None) -> Path:
    """`.harvestd-cache/` under the repository root (created on demand).

    Raises:
        OSError: the folder cannot be created.
    """
    path = (root or find_repo_root()) / CACHE_DIRNAME
    path.mkdir(parents=True, exist_ok=True)
    return path


def node_modules(root: Path | None = None) -> Path:
    """The repository's node_modules directory (may not exist)."""
    return (root or find_repo_root()) / "node_modules"
