"""Strict reading of ABI-encoded static words from log topics and data.

Event layouts here are all static, so a log is well formed exactly when it has the right
number of topics, the right data length, and every word is a valid value of its type.
"""

from __future__ import annotations

from indexer.errors import DecodeError
from indexer.records import RawLog, checksum
from ledger.ids import Address

WORD = 32


def fail(event: str, log: RawLog, reason: str) -> DecodeError:
    """Build the DecodeError naming this log.

    Raises:
        Nothing: it returns the error for the caller to raise.
    """
    return DecodeError(event, log.tx_hash, log.log_index, log.address, reason)


def check_shape(event: str, log: RawLog, topic0: bytes, topics: int, words: int) -> None:
    """Check topic0, the number of topics and the data length.

    Raises:
        DecodeError: the log does not have the event's shape.
    """
    if not log.topics or log.topics[0] != topic0:
        raise fail(event, log, "first topic is not the event's signature")
    if len(log.topics) != topics:
        raise fail(event, log, f"expected {topics} topics, got {len(log.topics)}")
    if any(len(t) != WORD for t in log.topics):
        raise fail(event, log, "a topic is not 32 bytes")
    if len(log.data) != words * WORD:
        raise fail(event, log, f"expected {words * WORD} data bytes, got {len(log.data)}")


def address_word(event: str, log: RawLog, word: bytes) -> Address:
    """Read an address from a 32-byte word (12 zero bytes, then 20).

    Raises:
        DecodeError: the high 12 bytes are not zero.
    """
    if any(word[:12]):
        raise fail(event, log, "address word has non-zero high bytes")
    return checksum("0x" + word[12:].hex())


def uint_word(event: str, log: RawLog, word: bytes, bits: int = 256) -> int:
    """Read an unsigned integer of `bits` bits.

    Raises:
        DecodeError: the value does not fit.
    """
    value = int.from_bytes(word, "big")
    if value >> bits:
        raise fail(event, log, f"value does not fit uint{bits}")
    return value


def int_word(event: str, log: RawLog, word: bytes, bits: int = 256) -> int:
    """Read a two's-complement signed integer of `bits` bits (sign-extended to 256).

    Raises:
        DecodeError: the value does not fit.
    """
    value = int.from_bytes(word, "big", signed=True)
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise fail(event, log, f"value does not fit int{bits}")
    return value


def data_word(log: RawLog, index: int) -> bytes:
    """The `index`-th 32-byte word of the data (shape already checked).

    Raises:
        Nothing.
    """
    return log.data[index * WORD : (index + 1) * WORD]
