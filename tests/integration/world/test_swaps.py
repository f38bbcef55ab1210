"""Swaps from a test wallet on the world's V2 and V3 pools: the V2 router's
`getAmountsOut` and QuoterV2's quote equal the executed output to the wei."""

from __future__ import annotations

from decimal import Decimal

from eth_utils.address import to_checksum_address

from harvestd.world.artifacts import load_artifact
from harvestd.world.deploy import FAR_DEADLINE, call_data
from harvestd.world.launch import World
from harvestd.world.manifest import Protocol


def erc20_balance(world: World, symbol: str, holder: str) -> int:
    chain = world.chain()
    token = chain.contract(
        load_artifact("ERC20PresetMinterPauser"), world.manifest.token(symbol).address
    )
    return int(token.functions.balanceOf(to_checksum_address(holder)).call())


def test_v2_swap_output_equals_get_amounts_out(clean_world: World) -> None:
    chain = clean_world.chain()
    manifest = clean_world.manifest
    trader = manifest.account("trader").address
    router = chain.contract(load_artifact("UniswapV2Router02"), manifest.contracts.v2_router)
    path = [manifest.contracts.weth, manifest.token("USDC").address]
    amount_in = 3 * 10**18
    quoted = router.functions.getAmountsOut(amount_in, path).call()[-1]
    before = erc20_balance(clean_world, "USDC", trader)

    chain.transact(
        "test v2 swap",
        trader,
        manifest.contracts.v2_router,
        call_data(router, "swapExactETHForTokens", 0, path, trader, FAR_DEADLINE),
        value_wei=amount_in,
    )

    received = erc20_balance(clean_world, "USDC", trader) - before
    assert received == quoted
    # ~3 ETH at the world's final ETH price (about 2800 USD), little price impact
    assert Decimal(7_000) < Decimal(received) / 10**6 < Decimal(9_500)


def test_v3_swap_output_equals_quoter_v2(clean_world: World) -> None:
    chain = clean_world.chain()
    manifest = clean_world.manifest
    trader = manifest.account("trader").address
    weth = manifest.contracts.weth
    usdc = manifest.token("USDC").address
    router = chain.contract(load_artifact("SwapRouter"), manifest.contracts.swap_router)
    quoter = chain.contract(load_artifact("QuoterV2"), manifest.contracts.quoter_v2)
    amount_in = 10**18
    for fee in (500, 3000):
        quoted, _sqrt_after, _ticks, _gas = quoter.functions.quoteExactInputSingle(
            (weth, usdc, amount_in, fee, 0)
        ).call()
        before = erc20_balance(clean_world, "USDC", trader)
        chain.transact(
            f"test v3 swap {fee}",
            trader,
            manifest.contracts.swap_router,
            call_data(
                router,
                "exactInputSingle",
                (weth, usdc, fee, trader, FAR_DEADLINE, amount_in, 0, 0),
            ),
            value_wei=amount_in,
        )
        assert erc20_balance(clean_world, "USDC", trader) - before == quoted


def test_ten_thousand_dollar_trade_moves_price_little(clean_world: World) -> None:
    chain = clean_world.chain()
    manifest = clean_world.manifest
    quoter = chain.contract(load_artifact("QuoterV2"), manifest.contracts.quoter_v2)
    for symbol in ("WETH", "WBTC", "wstETH", "rETH", "LINK"):
        pool = manifest.pool(Protocol.UNISWAP_V3, symbol, "USDC", 500)
        small, *_ = quoter.functions.quoteExactInputSingle(
            (manifest.token("USDC").address, manifest.token(symbol).address, 10**6, 500, 0)
        ).call()
        large, *_ = quoter.functions.quoteExactInputSingle(
            (manifest.token("USDC").address, manifest.token(symbol).address, 10_000 * 10**6, 500, 0)
        ).call()
        impact = 1 - Decimal(large) / (Decimal(small) * 10_000)
        assert impact < Decimal("0.005"), (symbol, pool.address, impact)


def test_every_token_has_usdc_and_weth_routes(world: World) -> None:
    manifest = world.manifest
    for token in manifest.tokens:
        for quote in ("USDC", "WETH"):
            if token.symbol == quote:
                continue
            manifest.pool(Protocol.UNISWAP_V2, token.symbol, quote)
            manifest.pool(Protocol.UNISWAP_V3, token.symbol, quote, 500)
            manifest.pool(Protocol.UNISWAP_V3, token.symbol, quote, 3000)
