"""Calldata of the executor checked against the Uniswap build artifacts' ABIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode

from executor.calldata import (
    decode_quote_exact_input,
    decode_v3_path,
    encode_approve,
    encode_quote_exact_input_single,
    encode_v2_swap_exact_tokens_for_tokens,
    encode_v3_exact_input,
    encode_v3_path,
    selector,
    sort_tokens,
)
from ledger.ids import Address

ROOT = Path(__file__).resolve().parents[3]
UNISWAP = ROOT / "node_modules" / "@uniswap"

USDC = Address("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
WETH = Address("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
WBTC = Address("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599")
ME = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")


def _canonical(entry: dict[str, Any]) -> str:
    def kind(param: dict[str, Any]) -> str:
        if param["type"].startswith("tuple"):
            inner = ",".join(kind(c) for c in param["components"])
            return f"({inner}){param['type'][5:]}"
        return str(param["type"])

    return f"{entry['name']}({','.join(kind(p) for p in entry['inputs'])})"


def _selectors(relative: str) -> set[str]:
    path = UNISWAP / relative
    if not path.exists():
        pytest.skip(f"artifact {relative} not installed")
    abi = json.loads(path.read_text())["abi"]
    return {_canonical(e) for e in abi if e.get("type") == "function"}


@pytest.mark.parametrize(
    ("artifact", "signature"),
    [
        (
            "v2-periphery/build/UniswapV2Router02.json",
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
        ),
        (
            "v2-periphery/build/UniswapV2Router02.json",
            "swapExactETHForTokens(uint256,address[],address,uint256)",
        ),
        (
            "v2-periphery/build/UniswapV2Router02.json",
            "swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
        ),
        ("v2-periphery/build/UniswapV2Router02.json", "getAmountsOut(uint256,address[])"),
        ("v2-core/build/UniswapV2Pair.json", "getReserves()"),
        ("v2-core/build/UniswapV2Factory.json", "getPair(address,address)"),
        (
            "v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
            "getPool(address,address,uint24)",
        ),
        ("v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json", "slot0()"),
        (
            "v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
            "quoteExactInputSingle((address,address,uint256,uint24,uint160))",
        ),
        (
            "v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
            "quoteExactInput(bytes,uint256)",
        ),
        (
            "v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
        ),
        (
            "v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
            "exactInput((bytes,address,uint256,uint256,uint256))",
        ),
        ("v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json", "multicall(bytes[])"),
        (
            "v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
            "unwrapWETH9(uint256,address)",
        ),
    ],
)
def test_signature_exists_in_the_artifact_abi(artifact: str, signature: str) -> None:
    assert signature in _selectors(artifact)


def test_known_selectors() -> None:
    assert selector("approve(address,uint256)").hex() == "095ea7b3"
    assert (
        selector("swapExactTokensForTokens(uint256,uint256,address[],address,uint256)").hex()
        == "38ed1739"
    )
    assert (
        selector(
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
        ).hex()
        == "414bf389"
    )
    assert selector("exactInput((bytes,address,uint256,uint256,uint256))").hex() == "c04b8d59"


def test_approve_encodes_spender_and_exact_amount() -> None:
    data = encode_approve(ME, 123_456)
    assert data[:4].hex() == "095ea7b3"
    spender, amount = decode(["address", "uint256"], data[4:])
    assert (spender.lower(), amount) == (ME.lower(), 123_456)


def test_v2_swap_round_trips() -> None:
    data = encode_v2_swap_exact_tokens_for_tokens(10**6, 99, [USDC, WETH, WBTC], ME, 1_700_000_000)
    amount_in, min_out, path, to, deadline = decode(
        ["uint256", "uint256", "address[]", "address", "uint256"], data[4:]
    )
    assert (amount_in, min_out, deadline) == (10**6, 99, 1_700_000_000)
    assert [p.lower() for p in path] == [USDC.lower(), WETH.lower(), WBTC.lower()]
    assert to.lower() == ME.lower()


def test_v3_path_is_packed_token_fee_token() -> None:
    path = encode_v3_path([USDC, WETH, WBTC], [500, 3000])
    assert len(path) == 20 + 23 * 2
    assert path[20:23] == (500).to_bytes(3, "big")
    assert path[43:46] == (3000).to_bytes(3, "big")
    assert decode_v3_path(path) == ((USDC, WETH, WBTC), (500, 3000))


def test_v3_path_rejects_mismatched_fees() -> None:
    with pytest.raises(ValueError, match="n-1 fees"):
        encode_v3_path([USDC, WETH], [500, 3000])


def test_v3_exact_input_carries_the_path() -> None:
    path = encode_v3_path([USDC, WETH], [500])
    data = encode_v3_exact_input(path, ME, 5, 7, 6)
    ((got_path, recipient, deadline, amount_in, min_out),) = decode(
        ["(bytes,address,uint256,uint256,uint256)"], data[4:]
    )
    assert (got_path, recipient.lower(), deadline, amount_in, min_out) == (
        path,
        ME.lower(),
        5,
        7,
        6,
    )


def test_quote_single_has_no_price_limit() -> None:
    data = encode_quote_exact_input_single(USDC, WETH, 10**6, 500)
    ((token_in, token_out, amount, fee, limit),) = decode(
        ["(address,address,uint256,uint24,uint160)"], data[4:]
    )
    assert (token_in.lower(), token_out.lower(), amount, fee, limit) == (
        USDC.lower(),
        WETH.lower(),
        10**6,
        500,
        0,
    )


def test_quote_exact_input_decodes_lists() -> None:
    from eth_abi.abi import encode

    raw = encode(["uint256", "uint160[]", "uint32[]", "uint256"], [5, [1, 2], [3, 4], 99])
    result = decode_quote_exact_input(raw)
    assert (
        result.amount_out_raw,
        result.sqrt_prices_after_x96,
        result.ticks_crossed,
        result.gas_estimate,
    ) == (5, (1, 2), (3, 4), 99)


def test_sort_tokens_orders_numerically() -> None:
    assert sort_tokens(WETH, USDC) == (USDC, WETH)
    assert sort_tokens(USDC, WETH) == (USDC, WETH)
