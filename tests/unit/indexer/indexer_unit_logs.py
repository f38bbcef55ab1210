"""Builders of synthetic logs and receipts for the indexer's unit tests (eth-abi encoded)."""

from __future__ import annotations

from eth_abi import encode

from indexer.records import RawLog, TxReceipt, checksum
from ledger.ids import Address, BlockHash, BlockNumber, LogIndex, TxHash

TX = TxHash("0x" + "ab" * 32)
BLOCK_HASH = BlockHash("0x" + "cd" * 32)


def addr(n: int) -> Address:
    """A deterministic checksummed address."""
    return checksum("0x" + f"{n:040x}")


def topic_address(address: str) -> bytes:
    return encode(["address"], [address])


def make_log(
    address: Address, topics: list[bytes], data: bytes, log_index: int = 0, tx: TxHash = TX
) -> RawLog:
    return RawLog(
        address=address,
        topics=tuple(topics),
        data=data,
        block_number=BlockNumber(100),
        block_hash=BLOCK_HASH,
        tx_hash=tx,
        tx_index=0,
        log_index=LogIndex(log_index),
    )


def receipt(
    sender: Address,
    logs: list[RawLog],
    *,
    succeeded: bool = True,
    gas_used: int = 21_000,
    gas_price_wei: int = 10**9,
    to: Address | None = None,
) -> TxReceipt:
    return TxReceipt(
        tx_hash=TX,
        block_number=BlockNumber(100),
        block_hash=BLOCK_HASH,
        tx_index=0,
        sender=sender,
        to=to,
        succeeded=succeeded,
        gas_used=gas_used,
        effective_gas_price_wei=gas_price_wei,
        logs=tuple(logs),
    )
