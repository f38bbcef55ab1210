"""The indexer tests' chain: Anvil process control and the WETH9 / OZ token / Uniswap V2 world.

Contracts come from the npm build artifacts (no compiler needed).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.types import Wei

ROOT = Path(__file__).resolve().parents[3]
ANVIL = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
OZ = ROOT / "node_modules/@openzeppelin/contracts/build/contracts/ERC20PresetMinterPauser.json"
WETH9 = ROOT / "node_modules/@uniswap/v2-periphery/build/WETH9.json"
V2_FACTORY = ROOT / "node_modules/@uniswap/v2-core/build/UniswapV2Factory.json"
V2_PAIR = ROOT / "node_modules/@uniswap/v2-core/build/UniswapV2Pair.json"
V2_ROUTER = ROOT / "node_modules/@uniswap/v2-periphery/build/UniswapV2Router02.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _artifact(path: Path) -> tuple[list[Any], str]:
    raw = json.loads(path.read_text())
    code = raw["bytecode"]
    if isinstance(code, dict):
        code = code["object"]
    if not code.startswith("0x"):
        code = "0x" + code
    return raw["abi"], code


@dataclass
class World:
    """The deployed contracts and the accounts the tests use."""

    url: str
    w3: Web3
    deployer: str
    wallets: tuple[str, str]
    outsider: str
    weth: Contract
    tka: Contract
    tkb: Contract
    factory: Contract
    router: Contract
    pair_ab: Contract
    pair_aw: Contract
    pair_bw: Contract

    def send(self, fn: Any, sender: str, value: int = 0) -> str:
        """Send a contract call from an unlocked account, wait for it, return the tx hash."""
        tx_hash = fn.transact({"from": sender, "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return "0x" + bytes(tx_hash).hex()

    def send_eth(self, sender: str, recipient: str, value: int) -> str:
        """A plain native transfer."""
        tx_hash = self.w3.eth.send_transaction(
            {"from": sender, "to": recipient, "value": Wei(value)}
        )
        self.w3.eth.wait_for_transaction_receipt(tx_hash)
        return "0x" + bytes(tx_hash).hex()

    def pair_contract(self, address: str) -> Contract:
        abi, _ = _artifact(V2_PAIR)
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)


def _deploy(w3: Web3, path: Path, sender: str, *args: Any) -> Contract:
    abi, code = _artifact(path)
    tx_hash = w3.eth.contract(abi=abi, bytecode=code).constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    deployed: Contract = w3.eth.contract(address=receipt["contractAddress"], abi=abi)
    return deployed
