"""Exact ABI calldata for the contracts the executor calls, and decoders of their answers.

Covers ERC-20 (approve, allowance, balanceOf), Uniswap V2 (factory getPair, pair
getReserves, Router02 getAmountsOut and the exact-input swaps, ETH variants included) and
Uniswap V3 (factory getPool, pool slot0, QuoterV2 quotes, SwapRouter exactInputSingle /
exactInput, the packed path, multicall + unwrapWETH9). Pure functions over eth-abi.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from eth_abi.abi import decode, encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.ids import Address

ZERO_ADDRESS: Final = Address("0x0000000000000000000000000000000000000000")


def selector(signature: str) -> bytes:
    """The 4-byte function selector of a canonical signature like `approve(address,uint256)`."""
    return keccak(text=signature)[:4]


def _call(signature: str, types: Sequence[str], args: Sequence[object]) -> bytes:
    return selector(signature) + encode(list(types), list(args))


def to_address(value: str | bytes) -> Address:
    """An EIP-55 checksummed `Address` from hex text or 20 raw bytes."""
    return Address(to_checksum_address(value))


def sort_tokens(token_a: Address, token_b: Address) -> tuple[Address, Address]:
    """The pair's (token0, token1): Uniswap orders tokens by their numeric address."""
    if int(token_a, 16) < int(token_b, 16):
        return token_a, token_b
    return token_b, token_a


# --- ERC-20 ---------------------------------------------------------------------------

APPROVE_SIG: Final = "approve(address,uint256)"
ALLOWANCE_SIG: Final = "allowance(address,address)"
BALANCE_OF_SIG: Final = "balanceOf(address)"


def encode_approve(spender: Address, amount_raw: int) -> bytes:
    """ERC-20 approve(spender, amount)."""
    return _call(APPROVE_SIG, ["address", "uint256"], [spender, amount_raw])


def encode_allowance(owner: Address, spender: Address) -> bytes:
    """ERC-20 allowance(owner, spender)."""
    return _call(ALLOWANCE_SIG, ["address", "address"], [owner, spender])


def encode_balance_of(owner: Address) -> bytes:
    """ERC-20 balanceOf(owner)."""
    return _call(BALANCE_OF_SIG, ["address"], [owner])


def decode_uint(result: bytes) -> int:
    """A single uint256 return value.

    Raises:
        eth_abi.exceptions.DecodingError: the bytes are not one ABI word.
    """
    (value,) = decode(["uint256"], result)
    return int(value)


def decode_address(result: bytes) -> Address:
    """A single address return value, checksummed.

    Raises:
        eth_abi.exceptions.DecodingError: the bytes are not one ABI word.
    """
    (value,) = decode(["address"], result)
    return to_address(value)


# --- Uniswap V2 -----------------------------------------------------------------------

V2_GET_PAIR_SIG: Final = "getPair(address,address)"
V2_GET_RESERVES_SIG: Final = "getReserves()"
V2_GET_AMOUNTS_OUT_SIG: Final = "getAmountsOut(uint256,address[])"
V2_SWAP_EXACT_TOKENS_FOR_TOKENS_SIG: Final = (
    "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
)
V2_SWAP_EXACT_ETH_FOR_TOKENS_SIG: Final = "swapExactETHForTokens(uint256,address[],address,uint256)"
V2_SWAP_EXACT_TOKENS_FOR_ETH_SIG: Final = (
    "swapExactTokensForETH(uint256,uint256,address[],address,uint256)"
)


def encode_v2_get_pair(token_a: Address, token_b: Address) -> bytes:
    """UniswapV2Factory.getPair(tokenA, tokenB)."""
    return _call(V2_GET_PAIR_SIG, ["address", "address"], [token_a, token_b])


def encode_v2_get_reserves() -> bytes:
    """UniswapV2Pair.getReserves()."""
    return selector(V2_GET_RESERVES_SIG)


def decode_v2_reserves(result: bytes) -> tuple[int, int]:
    """(reserve0, reserve1) from getReserves' (uint112, uint112, uint32).

    Raises:
        eth_abi.exceptions.DecodingError: not a getReserves answer.
    """
    reserve0, reserve1, _timestamp = decode(["uint112", "uint112", "uint32"], result)
    return int(reserve0), int(reserve1)


def encode_v2_get_amounts_out(amount_in_raw: int, path: Sequence[Address]) -> bytes:
    """UniswapV2Router02.getAmountsOut(amountIn, path)."""
    return _call(V2_GET_AMOUNTS_OUT_SIG, ["uint256", "address[]"], [amount_in_raw, list(path)])


def decode_uint_array(result: bytes) -> tuple[int, ...]:
    """A single uint256[] return value.

    Raises:
        eth_abi.exceptions.DecodingError: not an ABI uint256[].
    """
    (values,) = decode(["uint256[]"], result)
    return tuple(int(v) for v in values)


def encode_v2_swap_exact_tokens_for_tokens(
    amount_in_raw: int, min_out_raw: int, path: Sequence[Address], recipient: Address, deadline: int
) -> bytes:
    """Router02.swapExactTokensForTokens(amountIn, amountOutMin, path, to, deadline)."""
    return _call(
        V2_SWAP_EXACT_TOKENS_FOR_TOKENS_SIG,
        ["uint256", "uint256", "address[]", "address", "uint256"],
        [amount_in_raw, min_out_raw, list(path), recipient, deadline],
    )


def encode_v2_swap_exact_eth_for_tokens(
    min_out_raw: int, path: Sequence[Address], recipient: Address, deadline: int
) -> bytes:
    """Router02.swapExactETHForTokens(amountOutMin, path, to, deadline); the input is msg.value."""
    return _call(
        V2_SWAP_EXACT_ETH_FOR_TOKENS_SIG,
        ["uint256", "address[]", "address", "uint256"],
        [min_out_raw, list(path), recipient, deadline],
    )


def encode_v2_swap_exact_tokens_for_eth(
    amount_in_raw: int, min_out_raw: int, path: Sequence[Address], recipient: Address, deadline: int
) -> bytes:
    """Router02.swapExactTokensForETH(amountIn, amountOutMin, path, to, deadline)."""
    return _call(
        V2_SWAP_EXACT_TOKENS_FOR_ETH_SIG,
        ["uint256", "uint256", "address[]", "address", "uint256"],
        [amount_in_raw, min_out_raw, list(path), recipient, deadline],
    )


# --- Uniswap V3 -----------------------------------------------------------------------

V3_GET_POOL_SIG: Final = "getPool(address,address,uint24)"
V3_SLOT0_SIG: Final = "slot0()"
V3_LIQUIDITY_SIG: Final = "liquidity()"
QUOTE_EXACT_INPUT_SINGLE_SIG: Final = (
    "quoteExactInputSingle((address,address,uint256,uint24,uint160))"
)
QUOTE_EXACT_INPUT_SIG: Final = "quoteExactInput(bytes,uint256)"
V3_EXACT_INPUT_SINGLE_SIG: Final = (
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
)
V3_EXACT_INPUT_SIG: Final = "exactInput((bytes,address,uint256,uint256,uint256))"
V3_MULTICALL_SIG: Final = "multicall(bytes[])"
V3_UNWRAP_WETH9_SIG: Final = "unwrapWETH9(uint256,address)"


@dataclass(frozen=True, slots=True)
class V3QuoteResult:
    """What QuoterV2 answers for an exact-input quote."""

    amount_out_raw: int
    sqrt_prices_after_x96: tuple[int, ...]
    ticks_crossed: tuple[int, ...]
    gas_estimate: int


def encode_v3_path(tokens: Sequence[Address], fees_ppm: Sequence[int]) -> bytes:
    """The packed V3 path: token (20 bytes), fee (3 bytes), token, ... .

    Raises:
        ValueError: the number of fees is not one less than the number of tokens.
    """
    if len(tokens) != len(fees_ppm) + 1 or len(tokens) < 2:
        raise ValueError(
            f"a path needs n tokens and n-1 fees, got {len(tokens)} and {len(fees_ppm)}"
        )
    packed = bytes.fromhex(tokens[0][2:])
    for fee, token in zip(fees_ppm, tokens[1:], strict=True):
        packed += fee.to_bytes(3, "big") + bytes.fromhex(token[2:])
    return packed


def decode_v3_path(path: bytes) -> tuple[tuple[Address, ...], tuple[int, ...]]:
    """Tokens and fees back from a packed V3 path.

    Raises:
        ValueError: the length is not 20 + 23·k bytes.
    """
    if len(path) < 43 or (len(path) - 20) % 23:
        raise ValueError(f"not a V3 path: {len(path)} bytes")
    tokens = [to_address(path[:20])]
    fees: list[int] = []
    offset = 20
    while offset < len(path):
        fees.append(int.from_bytes(path[offset : offset + 3], "big"))
        tokens.append(to_address(path[offset + 3 : offset + 23]))
        offset += 23
    return tuple(tokens), tuple(fees)


def encode_v3_get_pool(token_a: Address, token_b: Address, fee_ppm: int) -> bytes:
    """UniswapV3Factory.getPool(tokenA, tokenB, fee)."""
    return _call(V3_GET_POOL_SIG, ["address", "address", "uint24"], [token_a, token_b, fee_ppm])


def encode_v3_slot0() -> bytes:
    """UniswapV3Pool.slot0()."""
    return selector(V3_SLOT0_SIG)


def decode_v3_sqrt_price(result: bytes) -> int:
    """sqrtPriceX96, the first field of slot0.

    Raises:
        eth_abi.exceptions.DecodingError: not a slot0 answer.
    """
    (sqrt_price_x96,) = decode(["uint160"], result[:32])
    return int(sqrt_price_x96)


def encode_quote_exact_input_single(
    token_in: Address, token_out: Address, amount_in_raw: int, fee_ppm: int
) -> bytes:
    """QuoterV2.quoteExactInputSingle((tokenIn, tokenOut, amountIn, fee, 0))."""
    return _call(
        QUOTE_EXACT_INPUT_SINGLE_SIG,
        ["(address,address,uint256,uint24,uint160)"],
        [(token_in, token_out, amount_in_raw, fee_ppm, 0)],
    )


def decode_quote_exact_input_single(result: bytes) -> V3QuoteResult:
    """QuoterV2.quoteExactInputSingle's (amountOut, sqrtPriceX96After, ticks, gasEstimate).

    Raises:
        eth_abi.exceptions.DecodingError: not a quoter answer.
    """
    amount_out, sqrt_after, ticks, gas = decode(["uint256", "uint160", "uint32", "uint256"], result)
    return V3QuoteResult(int(amount_out), (int(sqrt_after),), (int(ticks),), int(gas))


def encode_quote_exact_input(path: bytes, amount_in_raw: int) -> bytes:
    """QuoterV2.quoteExactInput(path, amountIn)."""
    return _call(QUOTE_EXACT_INPUT_SIG, ["bytes", "uint256"], [path, amount_in_raw])


def decode_quote_exact_input(result: bytes) -> V3QuoteResult:
    """QuoterV2.quoteExactInput's (amountOut, sqrtPriceX96AfterList, ticksList, gasEstimate).

    Raises:
        eth_abi.exceptions.DecodingError: not a quoter answer.
    """
    amount_out, sqrt_after, ticks, gas = decode(
        ["uint256", "uint160[]", "uint32[]", "uint256"], result
    )
    return V3QuoteResult(
        int(amount_out), tuple(int(s) for s in sqrt_after), tuple(int(t) for t in ticks), int(gas)
    )


def encode_v3_exact_input_single(
    token_in: Address,
    token_out: Address,
    fee_ppm: int,
    recipient: Address,
    deadline: int,
    amount_in_raw: int,
    min_out_raw: int,
) -> bytes:
    """SwapRouter.exactInputSingle(params) with no price limit."""
    return _call(
        V3_EXACT_INPUT_SINGLE_SIG,
        ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"],
        [(token_in, token_out, fee_ppm, recipient, deadline, amount_in_raw, min_out_raw, 0)],
    )


def encode_v3_exact_input(
    path: bytes, recipient: Address, deadline: int, amount_in_raw: int, min_out_raw: int
) -> bytes:
    """SwapRouter.exactInput((path, recipient, deadline, amountIn, amountOutMinimum))."""
    return _call(
        V3_EXACT_INPUT_SIG,
        ["(bytes,address,uint256,uint256,uint256)"],
        [(path, recipient, deadline, amount_in_raw, min_out_raw)],
    )


def encode_v3_unwrap_weth9(min_out_raw: int, recipient: Address) -> bytes:
    """SwapRouter.unwrapWETH9(amountMinimum, recipient): the router's WETH to native ETH."""
    return _call(V3_UNWRAP_WETH9_SIG, ["uint256", "address"], [min_out_raw, recipient])


def encode_v3_multicall(calls: Sequence[bytes]) -> bytes:
    """SwapRouter.multicall(bytes[]): several router calls in one transaction."""
    return _call(V3_MULTICALL_SIG, ["bytes[]"], [list(calls)])
