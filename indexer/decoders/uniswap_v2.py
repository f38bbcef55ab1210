"""Uniswap V2 pair events: `Swap` and `Sync`.

Swap(address indexed sender, uint amount0In, uint amount1In,
     uint amount0Out, uint amount1Out, address indexed to)
Sync(uint112 reserve0, uint112 reserve1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from indexer.decoders.abiwords import address_word, check_shape, data_word, uint_word
from indexer.records import RawLog
from ledger.ids import Address, BlockNumber, LogIndex

SWAP_V2_TOPIC: Final = bytes.fromhex(
    "d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
)
SYNC_TOPIC: Final = bytes.fromhex(
    "1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"
)


@dataclass(frozen=True, slots=True)
class UniswapV2Swap:
    """A decoded V2 swap; amounts are raw units of token0/token1 of the pair."""

    pool: Address
    sender: Address
    recipient: Address
    amount0_in_raw: int
    amount1_in_raw: int
    amount0_out_raw: int
    amount1_out_raw: int
    log_index: LogIndex


@dataclass(frozen=True, slots=True)
class UniswapV2Sync:
    """The pair's reserves after a change, in raw units of token0/token1."""

    pool: Address
    reserve0_raw: int
    reserve1_raw: int
    block_number: BlockNumber
    log_index: LogIndex


def decode_swap_v2(log: RawLog) -> UniswapV2Swap:
    """Decode a Uniswap V2 Swap log.

    Raises:
        DecodeError: the log is not a well-formed V2 Swap.
    """
    check_shape("SwapV2", log, SWAP_V2_TOPIC, topics=3, words=4)
    a0i, a1i, a0o, a1o = (uint_word("SwapV2", log, data_word(log, i)) for i in range(4))
    return UniswapV2Swap(
        pool=log.address,
        sender=address_word("SwapV2", log, log.topics[1]),
        recipient=address_word("SwapV2", log, log.topics[2]),
        amount0_in_raw=a0i,
        amount1_in_raw=a1i,
        amount0_out_raw=a0o,
        amount1_out_raw=a1o,
        log_index=log.log_index,
    )


def decode_sync(log: RawLog) -> UniswapV2Sync:
    """Decode a Uniswap V2 Sync log.

    Raises:
        DecodeError: the log is not a well-formed Sync.
    """
    check_shape("Sync", log, SYNC_TOPIC, topics=1, words=2)
    return UniswapV2Sync(
        pool=log.address,
        reserve0_raw=uint_word("Sync", log, data_word(log, 0), bits=112),
        reserve1_raw=uint_word("Sync", log, data_word(log, 1), bits=112),
        block_number=log.block_number,
        log_index=log.log_index,
    )
