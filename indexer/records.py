"""Chain records as the indexer reads them: logs, block headers, receipts, native transfers.

Frozen values parsed from JSON-RPC results (`parse_*`), so that everything after the
gather step works on plain immutable values. Addresses are EIP-55 checksummed `Address`
values, hashes are lower-case 0x-hex, amounts are ints of the smallest unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_utils.address import to_checksum_address

from indexer.errors import MalformedResponse
from ledger.ids import Address, BlockHash, BlockNumber, LogIndex, TxHash


@dataclass(frozen=True, slots=True)
class RawLog:
    """One EVM log, undecoded."""

    address: Address
    topics: tuple[bytes, ...]
    data: bytes
    block_number: BlockNumber
    block_hash: BlockHash
    tx_hash: TxHash
    tx_index: int
    log_index: LogIndex
    removed: bool = False


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """What the ledger needs from a block: its identity, parent and time."""

    number: BlockNumber
    hash: BlockHash
    parent_hash: BlockHash
    timestamp: int
    """Seconds since the epoch (UTC)."""


@dataclass(frozen=True, slots=True)
class TxReceipt:
    """A transaction's receipt: who paid what gas, whether it succeeded, its logs."""

    tx_hash: TxHash
    block_number: BlockNumber
    block_hash: BlockHash
    tx_index: int
    sender: Address
    to: Address | None
    succeeded: bool
    gas_used: int
    effective_gas_price_wei: int
    logs: tuple[RawLog, ...]

    @property
    def gas_fee_wei(self) -> int:
        """Execution gas paid by the sender (L1 data fees of rollups are not included).

        Raises:
            Nothing.
        """
        return self.gas_used * self.effective_gas_price_wei


@dataclass(frozen=True, slots=True)
class NativeTransfer:
    """A movement of the native coin: a transaction's value or an internal call's value."""

    tx_hash: TxHash
    block_number: BlockNumber
    sender: Address
    recipient: Address
    amount_raw: int
    trace_address: tuple[int, ...]
    """Position in the call tree; `()` is the transaction itself."""


@lru_cache(maxsize=65536)
def checksum(address: str) -> Address:
    """Return the EIP-55 form of a 0x-hex address.

    Raises:
        ValueError: the text is not a 20-byte hex address.
    """
    return Address(to_checksum_address(address))


def _field(obj: Mapping[str, Any], key: str, method: str) -> Any:
    try:
        return obj[key]
    except KeyError:
        raise MalformedResponse(method, f"missing field {key!r}") from None


def parse_quantity(value: Any, method: str) -> int:
    """Parse a JSON-RPC quantity (0x-hex string; some trace APIs answer plain ints).

    Raises:
        MalformedResponse: not a quantity.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith(("0x", "0X")):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise MalformedResponse(method, f"expected a hex quantity, got {value!r}")


def parse_bytes(value: Any, method: str) -> bytes:
    """Parse 0x-hex data.

    Raises:
        MalformedResponse: not hex data.
    """
    if isinstance(value, str) and value.startswith(("0x", "0X")):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise MalformedResponse(method, f"expected hex data, got {value!r:.80}")


def parse_address(value: Any, method: str) -> Address:
    """Parse and checksum an address.

    Raises:
        MalformedResponse: not an address.
    """
    if not isinstance(value, str):
        raise MalformedResponse(method, f"expected an address, got {value!r}")
    try:
        return checksum(value)
    except ValueError:
        raise MalformedResponse(method, f"expected an address, got {value!r}") from None


def parse_hash(value: Any, method: str) -> str:
    """Parse a 32-byte hash into lower-case 0x-hex.

    Raises:
        MalformedResponse: not a 32-byte hash.
    """
    if isinstance(value, str) and len(value) == 66 and value.startswith("0x"):
        return value.lower()
    raise MalformedResponse(method, f"expected a 32-byte hash, got {value!r}")


def parse_log(obj: Any, method: str = "eth_getLogs") -> RawLog:
    """Parse one log object of eth_getLogs or of a receipt.

    Raises:
        MalformedResponse: a field is missing or has the wrong shape.
    """
    if not isinstance(obj, Mapping):
        raise MalformedResponse(method, f"expected a log object, got {obj!r:.80}")
    topics = _field(obj, "topics", method)
    if not isinstance(topics, list):
        raise MalformedResponse(method, "topics is not a list")
    return RawLog(
        address=parse_address(_field(obj, "address", method), method),
        topics=tuple(parse_bytes(t, method) for t in topics),
        data=parse_bytes(_field(obj, "data", method), method),
        block_number=BlockNumber(parse_quantity(_field(obj, "blockNumber", method), method)),
        block_hash=BlockHash(parse_hash(_field(obj, "blockHash", method), method)),
        tx_hash=TxHash(parse_hash(_field(obj, "transactionHash", method), method)),
        tx_index=parse_quantity(_field(obj, "transactionIndex", method), method),
        log_index=LogIndex(parse_quantity(_field(obj, "logIndex", method), method)),
        removed=bool(obj.get("removed", False)),
    )


def parse_header(obj: Any, method: str = "eth_getBlockByNumber") -> BlockHeader:
    """Parse a block object (header fields only).

    Raises:
        MalformedResponse: the block is missing (null) or malformed.
    """
    if not isinstance(obj, Mapping):
        raise MalformedResponse(method, f"expected a block object, got {obj!r:.80}")
    return BlockHeader(
        number=BlockNumber(parse_quantity(_field(obj, "number", method), method)),
        hash=BlockHash(parse_hash(_field(obj, "hash", method), method)),
        parent_hash=BlockHash(parse_hash(_field(obj, "parentHash", method), method)),
        timestamp=parse_quantity(_field(obj, "timestamp", method), method),
    )


def parse_receipt(obj: Any, method: str = "eth_getTransactionReceipt") -> TxReceipt:
    """Parse a transaction receipt.

    Raises:
        MalformedResponse: the receipt is missing (null) or malformed.
    """
    if not isinstance(obj, Mapping):
        raise MalformedResponse(method, f"expected a receipt object, got {obj!r:.80}")
    to = obj.get("to")
    logs = _field(obj, "logs", method)
    if not isinstance(logs, list):
        raise MalformedResponse(method, "logs is not a list")
    return TxReceipt(
        tx_hash=TxHash(parse_hash(_field(obj, "transactionHash", method), method)),
        block_number=BlockNumber(parse_quantity(_field(obj, "blockNumber", method), method)),
        block_hash=BlockHash(parse_hash(_field(obj, "blockHash", method), method)),
        tx_index=parse_quantity(_field(obj, "transactionIndex", method), method),
        sender=parse_address(_field(obj, "from", method), method),
        to=parse_address(to, method) if to is not None else None,
        succeeded=parse_quantity(obj.get("status", "0x1"), method) == 1,
        gas_used=parse_quantity(_field(obj, "gasUsed", method), method),
        effective_gas_price_wei=parse_quantity(_field(obj, "effectiveGasPrice", method), method),
        logs=tuple(parse_log(entry, method) for entry in logs),
    )
