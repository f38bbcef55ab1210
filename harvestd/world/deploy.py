"""Deploying the world on an empty Anvil: WETH9, Uniswap V2 (factory, Router02), Uniswap V3
(factory, SwapRouter, QuoterV2, NonfungiblePositionManager), six tokens with realistic
decimals, and V2 pairs plus V3 pools at 0.05 % and 0.3 % with deep full-range liquidity.

The same deployer sends the same transactions in the same order every time, so every
address is the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import structlog
from eth_account import Account
from eth_utils.address import to_checksum_address
from web3.contract import Contract

from harvestd.world.artifacts import Artifact, load_artifact
from harvestd.world.chain import WorldChain
from harvestd.world.manifest import (
    ACCOUNT_ROLES,
    DEV_KEYS,
    Contracts,
    Manifest,
    NamedAccount,
    PoolEntry,
    Protocol,
    TokenEntry,
)
from harvestd.world.market import full_range_ticks, raw_price, sqrt_price_x96
from ledger.ids import Address, BlockNumber, ChainId

log = structlog.get_logger(__name__)

ZERO_ADDRESS: Final = Address("0x0000000000000000000000000000000000000000")
FAR_DEADLINE: Final = 2**64
ETHER: Final = 10**18
MAX_UINT256: Final = 2**256 - 1


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """A token to deploy: its identity and the USD price its pools start at."""

    symbol: str
    name: str
    decimals: int
    price_usd: Decimal


TOKEN_SPECS: Final[tuple[TokenSpec, ...]] = (
    TokenSpec("USDC", "USD Coin", 6, Decimal(1)),
    TokenSpec("WBTC", "Wrapped BTC", 8, Decimal(60000)),
    TokenSpec("wstETH", "Wrapped liquid staked Ether 2.0", 18, Decimal(3500)),
    TokenSpec("rETH", "Rocket Pool ETH", 18, Decimal(3300)),
    TokenSpec("LINK", "ChainLink Token", 18, Decimal(15)),
)
WETH_SPEC: Final = TokenSpec("WETH", "Wrapped Ether", 18, Decimal(3000))

POOL_PAIRS: Final[tuple[tuple[str, str], ...]] = (
    ("WETH", "USDC"),
    ("WBTC", "USDC"),
    ("WBTC", "WETH"),
    ("wstETH", "WETH"),
    ("rETH", "WETH"),
    ("LINK", "WETH"),
    ("wstETH", "USDC"),
    ("rETH", "USDC"),
    ("LINK", "USDC"),
)
"""Every token has a USDC route and a WETH route; each pair exists on V2 and on V3 at
both fee tiers."""

V3_FEES: Final = (500, 3000)
DEPTH_USD: Final[dict[tuple[str, str], Decimal]] = {("WETH", "USDC"): Decimal(20_000_000)}
DEFAULT_DEPTH_USD: Final = Decimal(8_000_000)
"""USD value of each side of each pool (per venue)."""

DEPLOYER_ETH: Final = 10_000_000 * ETHER
WHALE_ETH: Final = 10_000_000 * ETHER
OUTSIDER_ETH: Final = 100_000 * ETHER
TRADER_ETH: Final = 100_000 * ETHER


def named_accounts() -> tuple[NamedAccount, ...]:
    """The world's named Anvil dev accounts, in `ACCOUNT_ROLES` order."""
    return tuple(
        NamedAccount(name=role, address=Address(Account.from_key(key).address), private_key=key)
        for role, key in zip(ACCOUNT_ROLES, DEV_KEYS, strict=True)
    )


def call_data(contract: Contract, function: str, *args: Any) -> str:
    """ABI-encoded calldata of `contract.function(*args)`."""
    return str(contract.encode_abi(function, args=list(args)))


def amount_for_usd(spec: TokenSpec, usd: Decimal) -> int:
    """Smallest units of `spec` worth `usd` at its initial price."""
    return int(usd / spec.price_usd * Decimal(10) ** spec.decimals)


def deploy_world(
    chain: WorldChain, rpc_url: str, chain_id: ChainId, genesis_timestamp: int
) -> Manifest:
    """Deploy everything on a fresh node and return the manifest.

    Raises:
        TransactionFailed: a deployment or setup transaction reverted.
        ToolingMissing: artifacts or solcjs are not installed.
        ContractCompileFailed: our Solidity sources do not compile.
    """
    accounts = {a.name: a for a in named_accounts()}
    deployer = accounts["deployer"].address
    whale = accounts["whale"].address
    chain.set_balance(deployer, DEPLOYER_ETH)
    chain.set_balance(whale, WHALE_ETH)
    chain.set_balance(accounts["outsider"].address, OUTSIDER_ETH)
    chain.set_balance(accounts["trader"].address, TRADER_ETH)

    art = {name: load_artifact(name) for name in _ARTIFACT_NAMES}
    weth = chain.deploy("deploy WETH9", deployer, art["WETH9"])
    v2_factory = chain.deploy("deploy V2 factory", deployer, art["UniswapV2Factory"], deployer)
    v2_router = chain.deploy(
        "deploy V2 router", deployer, art["UniswapV2Router02"], v2_factory, weth
    )
    v3_factory = chain.deploy("deploy V3 factory", deployer, art["UniswapV3Factory"])
    swap_router = chain.deploy("deploy SwapRouter", deployer, art["SwapRouter"], v3_factory, weth)
    quoter = chain.deploy("deploy QuoterV2", deployer, art["QuoterV2"], v3_factory, weth)
    # The token descriptor only serves tokenURI(); a zero address is enough here.
    position_manager = chain.deploy(
        "deploy position manager",
        deployer,
        art["NonfungiblePositionManager"],
        v3_factory,
        weth,
        ZERO_ADDRESS,
    )
    contracts = Contracts(
        weth=weth,
        v2_factory=v2_factory,
        v2_router=v2_router,
        v3_factory=v3_factory,
        swap_router=swap_router,
        quoter_v2=quoter,
        position_manager=position_manager,
    )

    tokens: dict[str, TokenEntry] = {
        "WETH": _token_entry(WETH_SPEC, weth),
    }
    specs: dict[str, TokenSpec] = {"WETH": WETH_SPEC}
    for spec in TOKEN_SPECS:
        if spec.decimals == 18:
            address = chain.deploy(
                f"deploy {spec.symbol}",
                deployer,
                art["ERC20PresetMinterPauser"],
                spec.name,
                spec.symbol,
            )
        else:
            address = chain.deploy(
                f"deploy {spec.symbol}",
                deployer,
                art["TestToken"],
                spec.name,
                spec.symbol,
                spec.decimals,
            )
        tokens[spec.symbol] = _token_entry(spec, address)
        specs[spec.symbol] = spec

    needed = _liquidity_needs(specs)
    _fund(chain, art, contracts, tokens, needed, deployer, whale)
    _approve_all(
        chain, art["ERC20PresetMinterPauser"], tokens, deployer, (v2_router, position_manager)
    )
    _approve_all(chain, art["ERC20PresetMinterPauser"], tokens, whale, (v2_router, swap_router))

    pools = _add_liquidity(chain, art, contracts, tokens, specs, deployer)
    block = BlockNumber(chain.w3.eth.block_number)
    log.info("world_deployed", tokens=len(tokens), pools=len(pools), block=block)
    return Manifest(
        chain_id=chain_id,
        rpc_url=rpc_url,
        contracts=contracts,
        tokens=tuple(tokens.values()),
        pools=tuple(pools),
        accounts=tuple(accounts.values()),
        genesis_timestamp=genesis_timestamp,
        deployed_at_block=block,
    )


_ARTIFACT_NAMES: Final = (
    "WETH9",
    "UniswapV2Factory",
    "UniswapV2Router02",
    "UniswapV2Pair",
    "UniswapV3Factory",
    "UniswapV3Pool",
    "SwapRouter",
    "QuoterV2",
    "NonfungiblePositionManager",
    "ERC20PresetMinterPauser",
    "TestToken",
)


def _token_entry(spec: TokenSpec, address: Address) -> TokenEntry:
    return TokenEntry(
        symbol=spec.symbol,
        name=spec.name,
        address=address,
        decimals=spec.decimals,
        initial_price_usd=str(spec.price_usd),
    )


def _pool_amounts(specs: dict[str, TokenSpec], a: str, b: str) -> tuple[int, int]:
    depth = DEPTH_USD.get((a, b), DEFAULT_DEPTH_USD)
    return amount_for_usd(specs[a], depth), amount_for_usd(specs[b], depth)


def _liquidity_needs(specs: dict[str, TokenSpec]) -> dict[str, int]:
    needed = dict.fromkeys(specs, 0)
    venues = 1 + len(V3_FEES)
    for a, b in POOL_PAIRS:
        amount_a, amount_b = _pool_amounts(specs, a, b)
        needed[a] += amount_a * venues + 1
        needed[b] += amount_b * venues + 1
    return needed


def _fund(
    chain: WorldChain,
    art: dict[str, Artifact],
    contracts: Contracts,
    tokens: dict[str, TokenEntry],
    needed: dict[str, int],
    deployer: Address,
    whale: Address,
) -> None:
    """Give the deployer what the pools need and the whale as much again to move prices."""
    weth = chain.contract(art["WETH9"], contracts.weth)
    deposit = call_data(weth, "deposit")
    chain.transact(
        "deployer wraps ETH", deployer, contracts.weth, deposit, value_wei=needed["WETH"]
    )
    chain.transact("whale wraps ETH", whale, contracts.weth, deposit, value_wei=needed["WETH"] * 2)
    for symbol, entry in tokens.items():
        if symbol == "WETH":
            continue
        artifact = art["TestToken"] if entry.decimals != 18 else art["ERC20PresetMinterPauser"]
        token = chain.contract(artifact, entry.address)
        for holder, amount in ((deployer, needed[symbol]), (whale, needed[symbol] * 2)):
            chain.transact(
                f"mint {symbol}", deployer, entry.address, call_data(token, "mint", holder, amount)
            )


def _approve_all(
    chain: WorldChain,
    erc20: Artifact,
    tokens: dict[str, TokenEntry],
    owner: Address,
    spenders: tuple[Address, ...],
) -> None:
    for entry in tokens.values():
        token = chain.contract(erc20, entry.address)
        for spender in spenders:
            chain.transact(
                f"approve {entry.symbol}",
                owner,
                entry.address,
                call_data(token, "approve", spender, MAX_UINT256),
                gas=100_000,
            )


def _add_liquidity(
    chain: WorldChain,
    art: dict[str, Artifact],
    contracts: Contracts,
    tokens: dict[str, TokenEntry],
    specs: dict[str, TokenSpec],
    deployer: Address,
) -> list[PoolEntry]:
    router = chain.contract(art["UniswapV2Router02"], contracts.v2_router)
    v2_factory = chain.contract(art["UniswapV2Factory"], contracts.v2_factory)
    v3_factory = chain.contract(art["UniswapV3Factory"], contracts.v3_factory)
    npm = chain.contract(art["NonfungiblePositionManager"], contracts.position_manager)
    pools: list[PoolEntry] = []
    for a, b in POOL_PAIRS:
        token_a, token_b = tokens[a], tokens[b]
        amount_a, amount_b = _pool_amounts(specs, a, b)
        chain.transact(
            f"V2 liquidity {a}/{b}",
            deployer,
            contracts.v2_router,
            call_data(
                router,
                "addLiquidity",
                token_a.address,
                token_b.address,
                amount_a,
                amount_b,
                0,
                0,
                deployer,
                FAR_DEADLINE,
            ),
            gas=5_000_000,
        )
        pair = to_checksum_address(
            v2_factory.functions.getPair(token_a.address, token_b.address).call()
        )
        token0, token1 = sorted((token_a, token_b), key=lambda t: int(t.address, 16))
        amount0, amount1 = (amount_a, amount_b) if token0 is token_a else (amount_b, amount_a)
        pools.append(
            PoolEntry(Protocol.UNISWAP_V2, Address(pair), token0.address, token1.address, 3000)
        )
        price = raw_price(
            specs[token0.symbol].price_usd,
            specs[token1.symbol].price_usd,
            token0.decimals,
            token1.decimals,
        )
        for fee in V3_FEES:
            chain.transact(
                f"V3 pool {a}/{b} {fee}",
                deployer,
                contracts.position_manager,
                call_data(
                    npm,
                    "createAndInitializePoolIfNecessary",
                    token0.address,
                    token1.address,
                    fee,
                    sqrt_price_x96(price),
                ),
                gas=6_000_000,
            )
            lower, upper = full_range_ticks(fee)
            chain.transact(
                f"V3 liquidity {a}/{b} {fee}",
                deployer,
                contracts.position_manager,
                call_data(
                    npm,
                    "mint",
                    (
                        token0.address,
                        token1.address,
                        fee,
                        lower,
                        upper,
                        amount0,
                        amount1,
                        0,
                        0,
                        deployer,
                        FAR_DEADLINE,
                    ),
                ),
                gas=1_000_000,
            )
            pool = to_checksum_address(
                v3_factory.functions.getPool(token0.address, token1.address, fee).call()
            )
            pools.append(
                PoolEntry(Protocol.UNISWAP_V3, Address(pool), token0.address, token1.address, fee)
            )
    return pools
