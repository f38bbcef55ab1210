"""WETH9 `Deposit(address indexed dst, uint wad)` and `Withdrawal(address indexed src, uint wad)`.

WETH9 emits no Transfer when it mints or burns: these two events are the only record of a
wrap or an unwrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from indexer.decoders.abiwords import address_word, check_shape, data_word, uint_word
from indexer.records import RawLog
from ledger.ids import Address, LogIndex

DEPOSIT_TOPIC: Final = bytes.fromhex(
    "e1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c"
)
WITHDRAWAL_TOPIC: Final = bytes.fromhex(
    "7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"
)


@dataclass(frozen=True, slots=True)
class WethDeposit:
    """`owner` sent `amount_raw` wei to the WETH contract and was credited as much WETH."""

    token: Address
    owner: Address
    amount_raw: int
    log_index: LogIndex


@dataclass(frozen=True, slots=True)
class WethWithdrawal:
    """`owner` burned `amount_raw` WETH and the contract paid it as much wei."""

    token: Address
    owner: Address
    amount_raw: int
    log_index: LogIndex


def decode_deposit(log: RawLog) -> WethDeposit:
    """Decode a WETH Deposit log.

    Raises:
        DecodeError: the log is not a well-formed Deposit.
    """
    check_shape("Deposit", log, DEPOSIT_TOPIC, topics=2, words=1)
    return WethDeposit(
        token=log.address,
        owner=address_word("Deposit", log, log.topics[1]),
        amount_raw=uint_word("Deposit", log, data_word(log, 0)),
        log_index=log.log_index,
    )


def decode_withdrawal(log: RawLog) -> WethWithdrawal:
    """Decode a WETH Withdrawal log.

    Raises:
        DecodeError: the log is not a well-formed Withdrawal.
    """
    check_shape("Withdrawal", log, WITHDRAWAL_TOPIC, topics=2, words=1)
    return WethWithdrawal(
        token=log.address,
        owner=address_word("Withdrawal", log, log.topics[1]),
        amount_raw=uint_word("Withdrawal", log, data_word(log, 0)),
        log_index=log.log_index,
    )
