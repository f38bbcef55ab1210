"""ERC-20 `Transfer(address indexed from, address indexed to, uint256 value)`.

ERC-721 uses the same signature with the id indexed (four topics, no data); such a log is
a DecodeError here, never an ERC-20 amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from indexer.decoders.abiwords import address_word, check_shape, data_word, uint_word
from indexer.records import RawLog
from ledger.ids import Address, LogIndex

TRANSFER_TOPIC: Final = bytes.fromhex(
    "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
)


@dataclass(frozen=True, slots=True)
class Erc20Transfer:
    """A decoded ERC-20 transfer (a mint has sender 0x0, a burn recipient 0x0)."""

    token: Address
    sender: Address
    recipient: Address
    amount_raw: int
    log_index: LogIndex


def decode_transfer(log: RawLog) -> Erc20Transfer:
    """Decode an ERC-20 Transfer log.

    Raises:
        DecodeError: the log is not a well-formed ERC-20 Transfer.
    """
    check_shape("Transfer", log, TRANSFER_TOPIC, topics=3, words=1)
    return Erc20Transfer(
        token=log.address,
        sender=address_word("Transfer", log, log.topics[1]),
        recipient=address_word("Transfer", log, log.topics[2]),
        amount_raw=uint_word("Transfer", log, data_word(log, 0)),
        log_index=log.log_index,
    )
