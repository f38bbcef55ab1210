"""Transaction building, signing and pure routing decisions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_abi.abi import decode
from eth_account import Account

from executor.calldata import decode_v3_path, selector
from executor.errors import SigningFailed
from executor.guards import FeeCaps
from executor.pricing import ReferencePrices
from executor.quoting import UniswapDeployment
from executor.routes import Hop, PoolKind, Route, RouteQuote, Token
from executor.routing import choose_route, combined_fee_ppm, gas_cost_out_raw, out_per_gas_unit
from executor.signing import address_of, sign_transaction
from executor.transactions import (
    ApprovalMode,
    TxPurpose,
    UnsignedTx,
    approval_amount,
    build_swap_call,
    gas_limit_from_estimate,
)
from ledger.ids import Address, BlockNumber, ChainId

USDC = Address("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
WETH = Address("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
WBTC = Address("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599")
POOL = Address("0x0000000000000000000000000000000000000bee")
ME = Address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
ME_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

DEPLOYMENT = UniswapDeployment(
    weth=WETH,
    v2_factory=Address("0x0000000000000000000000000000000000000001"),
    v2_router=Address("0x0000000000000000000000000000000000000002"),
    v3_factory=Address("0x0000000000000000000000000000000000000003"),
    v3_quoter=Address("0x0000000000000000000000000000000000000004"),
    v3_router=Address("0x0000000000000000000000000000000000000005"),
)


class Secret:
    """A SecretStr look-alike."""

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"


def _route(kind: PoolKind, *tokens_fees: Address | int) -> Route:
    tokens = [t for t in tokens_fees if isinstance(t, str)]
    fees = [f for f in tokens_fees if isinstance(f, int)] or [3000] * (len(tokens) - 1)
    return Route(
        tuple(
            Hop(kind, POOL, a, b, fee) for a, b, fee in zip(tokens, tokens[1:], fees, strict=False)
        )
    )


def test_v2_token_swap_calldata() -> None:
    route = _route(PoolKind.V2, USDC, WETH, WBTC)
    call = build_swap_call(route, 1_000, 900, ME, 77, DEPLOYMENT)
    assert call.router == DEPLOYMENT.v2_router and call.value_wei == 0
    assert call.data[:4] == selector(
        "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
    )
    amount_in, min_out, path, to, deadline = decode(
        ["uint256", "uint256", "address[]", "address", "uint256"], call.data[4:]
    )
    assert (amount_in, min_out, len(path), to.lower(), deadline) == (1_000, 900, 3, ME.lower(), 77)


def test_v2_eth_variants() -> None:
    eth_in = build_swap_call(
        _route(PoolKind.V2, WETH, USDC), 10**18, 1, ME, 9, DEPLOYMENT, native_in=True
    )
    assert eth_in.value_wei == 10**18
    assert eth_in.data[:4] == selector("swapExactETHForTokens(uint256,address[],address,uint256)")
    eth_out = build_swap_call(
        _route(PoolKind.V2, USDC, WETH), 10**6, 1, ME, 9, DEPLOYMENT, native_out=True
    )
    assert eth_out.value_wei == 0
    assert eth_out.data[:4] == selector(
        "swapExactTokensForETH(uint256,uint256,address[],address,uint256)"
    )
    with pytest.raises(ValueError, match="WETH"):
        build_swap_call(_route(PoolKind.V2, USDC, WBTC), 1, 1, ME, 9, DEPLOYMENT, native_in=True)


def test_v3_single_and_multi_hop_calldata() -> None:
    single = build_swap_call(_route(PoolKind.V3, USDC, 500, WETH), 5, 4, ME, 3, DEPLOYMENT)
    assert single.router == DEPLOYMENT.v3_router
    ((t_in, t_out, fee, to, deadline, amount, min_out, limit),) = decode(
        ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], single.data[4:]
    )
    assert (t_in, t_out) == (USDC.lower(), WETH.lower())
    assert (fee, to.lower(), deadline, amount, min_out, limit) == (500, ME.lower(), 3, 5, 4, 0)
    multi = build_swap_call(
        _route(PoolKind.V3, USDC, 500, WETH, 3000, WBTC), 5, 4, ME, 3, DEPLOYMENT
    )
    ((path, to, _deadline, _amount, _min_out),) = decode(
        ["(bytes,address,uint256,uint256,uint256)"], multi.data[4:]
    )
    assert decode_v3_path(path) == ((USDC, WETH, WBTC), (500, 3000))


def test_v3_native_out_unwraps_through_multicall() -> None:
    call = build_swap_call(
        _route(PoolKind.V3, USDC, 500, WETH), 5, 4, ME, 3, DEPLOYMENT, native_out=True
    )
    assert call.data[:4] == selector("multicall(bytes[])")
    (inner,) = decode(["bytes[]"], call.data[4:])
    assert inner[1][:4] == selector("unwrapWETH9(uint256,address)")
    ((_a, _b, _fee, recipient, *_rest),) = decode(
        ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], inner[0][4:]
    )
    assert recipient.lower() == DEPLOYMENT.v3_router.lower()


def test_exact_approval_by_default() -> None:
    assert approval_amount(123, ApprovalMode.EXACT) == 123
    assert approval_amount(123, ApprovalMode.UNLIMITED) == 2**256 - 1
    assert gas_limit_from_estimate(100_000) == 120_000


def _tx(nonce: int | None = 3) -> UnsignedTx:
    return UnsignedTx(
        purpose=TxPurpose.SWAP,
        chain_id=ChainId(31337),
        sender=ME,
        to=DEPLOYMENT.v2_router,
        data=b"\x12\x34",
        value_wei=0,
        gas_limit=200_000,
        fees=FeeCaps(3 * 10**9, 10**9, 10**9),
        nonce=nonce,
    )


def test_signed_transaction_recovers_to_the_sender() -> None:
    signed = sign_transaction(_tx(), Secret(ME_KEY))
    assert Account.recover_transaction(signed.raw) == ME
    assert signed.raw[0] == 2  # EIP-1559 envelope
    assert signed.tx_hash.startswith("0x") and len(signed.tx_hash) == 66


def test_signing_refuses_without_leaking_the_key() -> None:
    other = Secret("0x" + "22" * 32)
    with pytest.raises(SigningFailed) as caught:
        sign_transaction(_tx(), other)
    assert "22" * 8 not in str(caught.value)
    with pytest.raises(SigningFailed, match="nonce"):
        sign_transaction(_tx(None), Secret(ME_KEY))
    with pytest.raises(SigningFailed) as bad:
        address_of(Secret("0xnot-a-key"))
    assert "not-a-key" not in str(bad.value)


def _quote(route: Route, out: int, gas: int) -> RouteQuote:
    return RouteQuote(route, 10**6, out, out, gas, BlockNumber(7))


def test_route_choice_is_net_of_gas() -> None:
    cheap = _quote(_route(PoolKind.V2, USDC, WETH), out=1_000_000, gas=100_000)
    rich = _quote(_route(PoolKind.V3, USDC, 500, WETH), out=1_000_500, gas=200_000)
    # 1 gas unit costs 0.01 raw: rich nets 1_000_500 - 2_000 < cheap's 1_000_000 - 1_000
    choice = choose_route([rich, cheap], Decimal("0.01"))
    assert choice.best is cheap
    assert choice.net_out_raw == 999_000
    assert choose_route([rich, cheap], Decimal(0)).best is rich


def test_gas_conversion_into_the_output_token() -> None:
    prices = ReferencePrices(
        tokens={USDC: Token(USDC, "USDC", 6), WETH: Token(WETH, "WETH", 18)},
        usd_per_token={USDC: Decimal(1), WETH: Decimal(3000)},
        native_usd=Decimal(3000),
    )
    # 1 gwei per gas, ETH at 3000: one gas unit costs 3e-6 USD = 3 raw USDC units
    rate = out_per_gas_unit(prices, 10**9, USDC)
    assert rate == Decimal(3)
    assert gas_cost_out_raw(100_000, rate) == 300_000
    assert out_per_gas_unit(prices, 10**9, WETH) == Decimal(10**9)
    assert prices.convert_raw(3000 * 10**6, USDC, WETH) == 10**18


def test_combined_fee_of_two_hops() -> None:
    assert combined_fee_ppm([3000]) == 3000
    assert combined_fee_ppm([500, 3000]) == 3499  # 1 - 0.9995*0.997 = 0.0034985 -> rounded up
