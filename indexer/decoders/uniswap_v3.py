"""Uniswap V3 pool events: `Swap`, and `Initialize` (the price a pool starts at).

    Initialize(uint160 sqrtPriceX96, int24 tick)
    Swap(address indexed sender, address indexed recipient, int256 amount0, int256 amount1,
         uint160 sqrtPriceX96, uint128 liquidity, int24 tick)

Amounts are the pool's deltas: positive flows into the pool, negative out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from indexer.decoders.abiwords import address_word, check_shape, data_word, int_word, uint_word
from indexer.records import RawLog
from ledger.ids import Address, BlockNumber, LogIndex

SWAP_V3_TOPIC: Final = bytes.fromhex(
    "c42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67"
)

INITIALIZE_TOPIC: Final = bytes.fromhex(
    "98636036cb66a9c19a37435efc1e90142190214e8abeb821bdba3f2990dd4c95"
)


@dataclass(frozen=True, slots=True)
class UniswapV3Initialize:
    """A pool's first price, set once before any liquidity or swap."""

    pool: Address
    sqrt_price_x96: int
    tick: int
    block_number: BlockNumber
    log_index: LogIndex


@dataclass(frozen=True, slots=True)
class UniswapV3Swap:
    """A decoded V3 swap and the pool's price after it."""

    pool: Address
    sender: Address
    recipient: Address
    amount0_raw: int
    amount1_raw: int
    sqrt_price_x96: int
    liquidity: int
    tick: int
    block_number: BlockNumber
    log_index: LogIndex


def decode_swap_v3(log: RawLog) -> UniswapV3Swap:
    """Decode a Uniswap V3 Swap log.

    Raises:
        DecodeError: the log is not a well-formed V3 Swap.
    """
    check_shape("SwapV3", log, SWAP_V3_TOPIC, topics=3, words=5)
    return UniswapV3Swap(
        pool=log.address,
        sender=address_word("SwapV3", log, log.topics[1]),
        recipient=address_word("SwapV3", log, log.topics[2]),
        amount0_raw=int_word("SwapV3", log, data_word(log, 0)),
        amount1_raw=int_word("SwapV3", log, data_word(log, 1)),
        sqrt_price_x96=uint_word("SwapV3", log, data_word(log, 2), bits=160),
        liquidity=uint_word("SwapV3", log, data_word(log, 3), bits=128),
        tick=int_word("SwapV3", log, data_word(log, 4), bits=24),
        block_number=log.block_number,
        log_index=log.log_index,
    )


def decode_initialize(log: RawLog) -> UniswapV3Initialize:
    """Decode a Uniswap V3 Initialize log.

    Raises:
        DecodeError: the log is not a well-formed Initialize.
    """
    check_shape("Initialize", log, INITIALIZE_TOPIC, topics=1, words=2)
    return UniswapV3Initialize(
        pool=log.address,
        sqrt_price_x96=uint_word("Initialize", log, data_word(log, 0), bits=160),
        tick=int_word("Initialize", log, data_word(log, 1), bits=24),
        block_number=log.block_number,
        log_index=log.log_index,
    )
