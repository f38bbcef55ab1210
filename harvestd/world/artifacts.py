"""Contract build artifacts: the Uniswap/OpenZeppelin ones shipped in node_modules and
ours, compiled from `contracts/*.sol` with solcjs into `.harvestd-cache/`.

An `Artifact` is just the ABI plus creation bytecode; which file each comes from is
listed in `ARTIFACT_PATHS`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import structlog

from harvestd.world.errors import ContractCompileFailed, ToolingMissing
from harvestd.world.paths import CONTRACTS_DIR, cache_dir, node_install_hint, node_modules

log = structlog.get_logger(__name__)

ARTIFACT_PATHS: Final[dict[str, str]] = {
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "UniswapV3Factory": "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": "@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json",
    "SwapRouter": "@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
    "QuoterV2": "@uniswap/v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
    "NonfungiblePositionManager": (
        "@uniswap/v3-periphery/artifacts/contracts/"
        "NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
    "ERC20PresetMinterPauser": (
        "@openzeppelin/contracts/build/contracts/ERC20PresetMinterPauser.json"
    ),
}
"""Artifacts taken from the pinned npm packages, by contract name."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """A contract's ABI and creation bytecode (0x-prefixed hex)."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str


def load_artifact(name: str, root: Path | None = None) -> Artifact:
    """Load a packaged artifact (`ARTIFACT_PATHS`) or one of ours (compiled on demand).

    Raises:
        ToolingMissing: node_modules (or node/npm for compiling) is not installed.
        ContractCompileFailed: solcjs rejected our sources.
        KeyError: no artifact by that name.
    """
    if name in ARTIFACT_PATHS:
        path = node_modules(root) / ARTIFACT_PATHS[name]
        if not path.is_file():
            raise ToolingMissing(f"artifact {name}", str(path), node_install_hint())
        raw = json.loads(path.read_text())
        bytecode = raw["bytecode"]
        if isinstance(bytecode, dict):
            bytecode = bytecode["object"]
        return Artifact(name=name, abi=tuple(raw["abi"]), bytecode=_hex(bytecode))
    compiled = compile_own_contracts(root)
    entry = compiled[name]
    return Artifact(name=name, abi=tuple(entry["abi"]), bytecode=_hex(entry["bytecode"]))


def sources_digest() -> str:
    """sha256 over our Solidity sources and the compile script (the compile cache key).

    Raises:
        OSError: a source file cannot be read.
    """
    digest = hashlib.sha256()
    for path in sorted(CONTRACTS_DIR.iterdir()):
        if path.suffix in {".sol", ".js"}:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def compile_own_contracts(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """Compile every `contracts/*.sol` (cached by content hash); return name -> artifact.

    Raises:
        ToolingMissing: node or the `solc` npm package is not installed.
        ContractCompileFailed: solcjs reported errors.
    """
    out = cache_dir(root) / f"contracts-{sources_digest()}.json"
    if out.is_file():
        compiled: dict[str, dict[str, Any]] = json.loads(out.read_text())
        return compiled
    node = shutil.which("node")
    modules = node_modules(root)
    if node is None:
        raise ToolingMissing("node", "PATH", node_install_hint())
    if not (modules / "solc").is_dir():
        raise ToolingMissing("solc npm package", str(modules / "solc"), node_install_hint())
    result = subprocess.run(
        [node, str(CONTRACTS_DIR / "compile.js"), str(CONTRACTS_DIR), str(out), str(modules)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ContractCompileFailed(str(CONTRACTS_DIR), result.stderr + result.stdout)
    log.info("contracts_compiled", output=str(out))
    compiled = json.loads(out.read_text())
    return compiled


def _hex(value: str) -> str:
    return value if value.startswith("0x") else "0x" + value
