"""The forked Anvil sees the first chain's pools and balances; its own swaps stay on the
fork."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from harvestd.world.artifacts import load_artifact
from harvestd.world.deploy import FAR_DEADLINE, call_data
from harvestd.world.launch import World
from harvestd.world.manifest import Protocol


def reserves(world: World, symbol_a: str, symbol_b: str) -> tuple[int, int]:
    pair = world.manifest.pool(Protocol.UNISWAP_V2, symbol_a, symbol_b)
    contract = world.chain().contract(load_artifact("UniswapV2Pair"), pair.address)
    reserve0, reserve1, _ = contract.functions.getReserves().call()
    return int(reserve0), int(reserve1)


def balances(world: World) -> dict[str, int]:
    chain = world.chain()
    erc20 = load_artifact("ERC20PresetMinterPauser")
    found: dict[str, int] = {}
    for account in world.manifest.accounts:
        holder = to_checksum_address(account.address)
        found[f"{account.name}:ETH"] = chain.w3.eth.get_balance(holder)
        for token in world.manifest.tokens:
            contract = chain.contract(erc20, token.address)
            found[f"{account.name}:{token.symbol}"] = int(
                contract.functions.balanceOf(holder).call()
            )
    return found


def test_fork_sees_origin_state_and_keeps_its_swaps(world: World, fork: World) -> None:
    assert fork.rpc_url != world.rpc_url
    assert fork.manifest.contracts == world.manifest.contracts
    origin_reserves = reserves(world, "WETH", "USDC")
    origin_balances = balances(world)
    assert reserves(fork, "WETH", "USDC") == origin_reserves
    assert balances(fork) == origin_balances
    assert origin_balances["main:USDC"] > 0

    chain = fork.chain()
    trader = fork.manifest.account("trader").address
    router = chain.contract(load_artifact("UniswapV2Router02"), fork.manifest.contracts.v2_router)
    path = [fork.manifest.contracts.weth, fork.manifest.token("USDC").address]
    chain.transact(
        "fork swap",
        trader,
        fork.manifest.contracts.v2_router,
        call_data(router, "swapExactETHForTokens", 0, path, trader, FAR_DEADLINE),
        value_wei=50 * 10**18,
    )

    assert reserves(fork, "WETH", "USDC") != origin_reserves
    assert reserves(world, "WETH", "USDC") == origin_reserves
    assert balances(world) == origin_balances
