"""The local EVM world's exceptions (harvestd.world: Anvil, deploy, history, cache).

    HarvestdError (ledger.errors)
    └── WorldError                    the local chain world could not be built or run
        ├── ToolingMissing            node/npm/Anvil/artifacts are not installed
        ├── AnvilStartFailed          the Anvil process exited or never answered
        ├── ContractCompileFailed     solcjs rejected our Solidity sources
        ├── TransactionFailed         a world transaction reverted or was refused
        └── ManifestInvalid           a manifest or history file cannot be read

Each leaf carries the fields that describe the problem and builds its own message.
"""

from __future__ import annotations

from ledger.errors import HarvestdError


class WorldError(HarvestdError):
    """The local EVM world (Anvil + Uniswap + history) could not be built or run."""


class ToolingMissing(WorldError):
    """A binary or an npm package the world needs is not installed."""

    def __init__(self, what: str, looked_at: str, remedy: str) -> None:
        self.what = what
        self.looked_at = looked_at
        self.remedy = remedy
        super().__init__(f"{what} not found (looked at {looked_at}); {remedy}")


class AnvilStartFailed(WorldError):
    """Anvil exited early or did not answer `eth_chainId` in time."""

    def __init__(self, command: str, reason: str, output: str) -> None:
        self.command = command
        self.reason = reason
        self.output = output
        tail = output.strip()[-800:]
        super().__init__(f"anvil failed to start ({reason}): {command}\n{tail}")


class ContractCompileFailed(WorldError):
    """solcjs reported errors for the world's own Solidity sources."""

    def __init__(self, sources: str, output: str) -> None:
        self.sources = sources
        self.output = output
        super().__init__(f"compiling {sources} failed:\n{output.strip()[-2000:]}")


class TransactionFailed(WorldError):
    """A transaction sent while building the world reverted or was refused by the node."""

    def __init__(self, step: str, tx_hash: str | None, reason: str) -> None:
        self.step = step
        self.tx_hash = tx_hash
        self.reason = reason
        super().__init__(f"world transaction '{step}' failed (tx {tx_hash}): {reason}")


class ManifestInvalid(WorldError):
    """A manifest or history JSON file is missing a field or has a wrong value."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"invalid world file {path}: {reason}")
