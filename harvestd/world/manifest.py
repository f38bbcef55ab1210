"""The world's manifest: every deployed address, token, pool and named account.

`Manifest` is a frozen value, written as JSON beside the history (`manifest.json`) and
read back with `load_manifest`. Pools name their protocol (`Protocol.UNISWAP_V2` /
`Protocol.UNISWAP_V3`) and fee in hundredths of a basis point (V2 pairs: 3000).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from eth_utils.address import to_checksum_address

from harvestd.world.errors import ManifestInvalid
from ledger.ids import Address, BlockNumber, ChainId

ANVIL_MNEMONIC: Final = "test test test test test test test test test test test junk"

DEV_KEYS: Final[tuple[str, ...]] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
)
"""Private keys of Anvil's first dev accounts (public test keys of ANVIL_MNEMONIC)."""

ACCOUNT_ROLES: Final[tuple[str, ...]] = ("deployer", "main", "cold", "whale", "outsider", "trader")
"""Named account i is Anvil dev account i."""

OWNER_WALLETS: Final[tuple[str, ...]] = ("main", "cold")


class Protocol(StrEnum):
    """Which AMM a pool belongs to."""

    UNISWAP_V2 = "uniswap_v2"
    UNISWAP_V3 = "uniswap_v3"


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One ERC-20 of the world."""

    symbol: str
    name: str
    address: Address
    decimals: int
    initial_price_usd: str
    """USD price the pools were seeded at (decimal string)."""


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """One V2 pair or V3 pool; token0 < token1 by address as the protocol orders them."""

    protocol: Protocol
    address: Address
    token0: Address
    token1: Address
    fee: int
    """Hundredths of a basis point: 500 = 0.05 %, 3000 = 0.3 % (all V2 pairs)."""


@dataclass(frozen=True, slots=True)
class NamedAccount:
    """An Anvil dev account with its role in the world."""

    name: str
    address: Address
    private_key: str


@dataclass(frozen=True, slots=True)
class Contracts:
    """The protocol contracts."""

    weth: Address
    v2_factory: Address
    v2_router: Address
    v3_factory: Address
    swap_router: Address
    quoter_v2: Address
    position_manager: Address


@dataclass(frozen=True, slots=True)
class Manifest:
    """Every address of one deployed world."""

    chain_id: ChainId
    rpc_url: str
    contracts: Contracts
    tokens: tuple[TokenEntry, ...]
    pools: tuple[PoolEntry, ...]
    accounts: tuple[NamedAccount, ...]
    genesis_timestamp: int
    deployed_at_block: BlockNumber
    """The last block of the deployment (history starts after it)."""

    def token(self, symbol: str) -> TokenEntry:
        """The token with `symbol`.

        Raises:
            KeyError: no such token.
        """
        for entry in self.tokens:
            if entry.symbol == symbol:
                return entry
        raise KeyError(symbol)

    def token_at(self, address: str) -> TokenEntry:
        """The token at `address` (any case).

        Raises:
            KeyError: no such token.
        """
        for entry in self.tokens:
            if entry.address.lower() == address.lower():
                return entry
        raise KeyError(address)

    def account(self, name: str) -> NamedAccount:
        """The named account (`deployer`, `main`, `cold`, `whale`, `outsider`, `trader`).

        Raises:
            KeyError: no such account.
        """
        for entry in self.accounts:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def pool(self, protocol: Protocol, symbol_a: str, symbol_b: str, fee: int = 3000) -> PoolEntry:
        """The pool of `protocol` between two tokens (either order) at `fee`.

        Raises:
            KeyError: no such pool.
        """
        pair = {self.token(symbol_a).address, self.token(symbol_b).address}
        for entry in self.pools:
            if (
                entry.protocol == protocol
                and {entry.token0, entry.token1} == pair
                and entry.fee == fee
            ):
                return entry
        raise KeyError(f"{protocol} {symbol_a}/{symbol_b} fee {fee}")

    def with_rpc_url(self, rpc_url: str) -> Manifest:
        """The same world reached at another address (a restarted or forked node)."""
        return replace(self, rpc_url=rpc_url)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (inverse of `manifest_from_json`)."""
        return asdict(self)


def manifest_from_json(raw: dict[str, Any], source: str = "<dict>") -> Manifest:
    """Build a `Manifest` from its JSON form.

    Raises:
        ManifestInvalid: a field is missing or has the wrong type.
    """
    try:
        return Manifest(
            chain_id=ChainId(int(raw["chain_id"])),
            rpc_url=str(raw["rpc_url"]),
            contracts=Contracts(
                **{k: Address(to_checksum_address(v)) for k, v in raw["contracts"].items()}
            ),
            tokens=tuple(
                TokenEntry(
                    symbol=str(t["symbol"]),
                    name=str(t["name"]),
                    address=Address(to_checksum_address(t["address"])),
                    decimals=int(t["decimals"]),
                    initial_price_usd=str(t["initial_price_usd"]),
                )
                for t in raw["tokens"]
            ),
            pools=tuple(
                PoolEntry(
                    protocol=Protocol(p["protocol"]),
                    address=Address(to_checksum_address(p["address"])),
                    token0=Address(to_checksum_address(p["token0"])),
                    token1=Address(to_checksum_address(p["token1"])),
                    fee=int(p["fee"]),
                )
                for p in raw["pools"]
            ),
            accounts=tuple(
                NamedAccount(
                    name=str(a["name"]),
                    address=Address(to_checksum_address(a["address"])),
                    private_key=str(a["private_key"]),
                )
                for a in raw["accounts"]
            ),
            genesis_timestamp=int(raw["genesis_timestamp"]),
            deployed_at_block=BlockNumber(int(raw["deployed_at_block"])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ManifestInvalid(source, f"{type(error).__name__}: {error}") from error


def load_manifest(path: Path) -> Manifest:
    """Read a manifest JSON file.

    Raises:
        ManifestInvalid: unreadable, not JSON, or missing fields.
    """
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ManifestInvalid(str(path), str(error)) from error
    return manifest_from_json(raw, str(path))


def write_manifest(manifest: Manifest, path: Path) -> None:
    """Write `manifest` as indented JSON (atomically).

    Raises:
        OSError: the file cannot be written.
    """
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(manifest.to_json(), indent=2))
    tmp.replace(path)
