"""The owner's wallet history: ~30 steps spread over more than a year of block time.

At each step the whale moves every pool to that step's prices (a seeded path: ETH
3000 -> 2200 -> 3900 -> 2600 -> 2800 ...), then the owner acts through both routers:
USDC->WETH, USDC->WBTC, WETH->wstETH/rETH, ETH->token, token->ETH (native ETH paid out by
the router, visible only in traces), WETH wrap/unwrap, main->cold transfers, receipts
from the outsider and partial sells. The result leaves long- and short-term lots, some
at a gain and some at a loss at the final prices, including a clearly losing rETH lot
(rETH and wstETH are substitutes).

Everything the owner's wallets did is recorded as a `History` (and history.json): one
`HistoryTx` per owner transaction, with amounts taken from balance differences over its
block (each owner transaction is alone in its block), so they are exact.

`HistoryTx` conventions: `token_in` is what the wallet gave (to a router, to WETH, to
the other wallet), `token_out` what it got; the native coin is `NATIVE_ASSET` (0x0…0,
symbol "ETH"). Amounts are raw integers and exclude gas, which is in `gas_paid_wei`
(paid by `gas_payer`, which for receipts is the outsider). `value_usd` is the USD value
of the trade: the USDC leg when there is one (`value_source="usdc_leg"`), otherwise
`amount_in` (or, for receipts, `amount_out`) times the token's price in its V3 0.05 %
USDC pool at the end of the previous block (`"pool_price"`), rounded to 1e-6 USD.
Approvals are recorded too (kind `approve`, no amounts) because their gas is a disposal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import structlog
from eth_typing import ChecksumAddress, HexAddress, HexStr
from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from harvestd.world.artifacts import load_artifact
from harvestd.world.chain import WorldChain, encode_call
from harvestd.world.deploy import FAR_DEADLINE, call_data
from harvestd.world.errors import ManifestInvalid, TransactionFailed
from harvestd.world.manifest import Manifest, PoolEntry, Protocol
from harvestd.world.market import (
    price_from_sqrt_x96,
    raw_price,
    sqrt_price_x96,
    v2_input_to_target,
)
from ledger.events import NATIVE_ASSET
from ledger.ids import Address, BlockNumber, ChainId, TxHash

log = structlog.get_logger(__name__)

DAY: Final = 86_400
OWNER_TX_SPACING_SECONDS: Final = 120
VALUE_QUANTUM: Final = Decimal("0.000001")
WHALE_V3_AMOUNT_IN: Final = 10**40
"""Exact-input amount for the whale's V3 moves: the price limit stops the swap first."""
SWAP_GAS: Final = 600_000
V2_SWAP_SIGNATURE: Final = "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
V3_SWAP_SIGNATURE: Final = (
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
)
GET_RESERVES: Final = "0x0902f1ac"
"""UniswapV2Pair.getReserves() selector."""
SLOT0: Final = "0x3850c7bd"
"""UniswapV3Pool.slot0() selector."""


def _word(returned: bytes, index: int) -> int:
    """The `index`-th 32-byte word of ABI return data as an unsigned int."""
    return int.from_bytes(returned[32 * index : 32 * (index + 1)], "big")


class TxKind(StrEnum):
    """What one owner transaction did."""

    RECEIVE = "receive"
    SWAP = "swap"
    WRAP = "wrap"
    UNWRAP = "unwrap"
    TRANSFER = "transfer"
    APPROVE = "approve"


@dataclass(frozen=True, slots=True)
class HistoryTx:
    """One transaction touching an owner wallet, exactly as it happened on chain."""

    step: int
    tx_hash: TxHash
    block_number: BlockNumber
    timestamp: int
    """Block time, Unix seconds (UTC)."""
    wallet: Address
    wallet_name: str
    kind: TxKind
    method: str
    """The contract method called (`swapExactETHForTokens`, `exactInputSingle`,
    `multicall`, `deposit`, `transfer`, `approve`, or `native` for a plain value send)."""
    venue: str
    """`uniswap_v2`, `uniswap_v3`, `weth`, `erc20` or `native`."""
    pool: Address | None
    token_in: Address | None
    token_in_symbol: str | None
    amount_in_raw: int
    token_out: Address | None
    token_out_symbol: str | None
    amount_out_raw: int
    value_usd: Decimal | None
    value_source: str
    """`usdc_leg`, `pool_price` or `none`."""
    counterparty: Address | None
    gas_payer: Address
    gas_used: int
    gas_price_wei: int
    gas_paid_wei: int
    value_in_usd: Decimal | None
    """`amount_in` at the pool prices before the transaction (None without a token in)."""
    value_out_usd: Decimal | None
    """`amount_out` at the pool prices before the transaction."""
    gas_usd: Decimal
    """`gas_paid_wei` at the ETH price before the transaction."""


@dataclass(frozen=True, slots=True)
class PricePoint:
    """USD prices after the whale's moves of one step (V3 0.05 % USDC pools)."""

    step: int
    block_number: BlockNumber
    timestamp: int
    prices_usd: tuple[tuple[str, Decimal], ...]

    def price(self, symbol: str) -> Decimal:
        """The USD price of `symbol` (`ETH` means WETH).

        Raises:
            KeyError: no such symbol.
        """
        wanted = "WETH" if symbol == "ETH" else symbol
        for name, value in self.prices_usd:
            if name == wanted:
                return value
        raise KeyError(symbol)


@dataclass(frozen=True, slots=True)
class History:
    """Everything the history generator did to the owner's wallets."""

    seed: int
    chain_id: ChainId
    wallets: tuple[tuple[str, Address], ...]
    """The owner's wallets by name (`main`, `cold`)."""
    first_block: BlockNumber
    last_block: BlockNumber
    start_timestamp: int
    end_timestamp: int
    transactions: tuple[HistoryTx, ...]
    price_points: tuple[PricePoint, ...]

    def final_prices(self) -> PricePoint:
        """The prices at the last step (the world's "now")."""
        return self.price_points[-1]

    def wallet(self, name: str) -> Address:
        """The address of owner wallet `name`.

        Raises:
            KeyError: no such wallet.
        """
        return dict(self.wallets)[name]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (Decimals as strings)."""
        encoded: dict[str, Any] = _jsonable(asdict(self))
        return encoded


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_history(history: History, path: Path) -> None:
    """Write `history` as indented JSON (atomically).

    Raises:
        OSError: the file cannot be written.
    """
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(history.to_json(), indent=2))
    tmp.replace(path)


def history_from_json(raw: dict[str, Any], source: str = "<dict>") -> History:
    """Build a `History` from its JSON form.

    Raises:
        ManifestInvalid: a field is missing or has the wrong type.
    """
    try:
        txs = tuple(
            HistoryTx(
                **{
                    **t,
                    "tx_hash": TxHash(t["tx_hash"]),
                    "block_number": BlockNumber(int(t["block_number"])),
                    "kind": TxKind(t["kind"]),
                    "value_usd": _decimal_or_none(t["value_usd"]),
                    "value_in_usd": _decimal_or_none(t["value_in_usd"]),
                    "value_out_usd": _decimal_or_none(t["value_out_usd"]),
                    "gas_usd": Decimal(t["gas_usd"]),
                }
            )
            for t in raw["transactions"]
        )
        points = tuple(
            PricePoint(
                step=int(p["step"]),
                block_number=BlockNumber(int(p["block_number"])),
                timestamp=int(p["timestamp"]),
                prices_usd=tuple((str(s), Decimal(v)) for s, v in p["prices_usd"]),
            )
            for p in raw["price_points"]
        )
        return History(
            seed=int(raw["seed"]),
            chain_id=ChainId(int(raw["chain_id"])),
            wallets=tuple((str(n), Address(a)) for n, a in raw["wallets"]),
            first_block=BlockNumber(int(raw["first_block"])),
            last_block=BlockNumber(int(raw["last_block"])),
            start_timestamp=int(raw["start_timestamp"]),
            end_timestamp=int(raw["end_timestamp"]),
            transactions=txs,
            price_points=points,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ManifestInvalid(source, f"{type(error).__name__}: {error}") from error


def _decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def load_history(path: Path) -> History:
    """Read a history JSON file.

    Raises:
        ManifestInvalid: unreadable, not JSON, or missing fields.
    """
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ManifestInvalid(str(path), str(error)) from error
    return history_from_json(raw, str(path))


# --- the scenario -----------------------------------------------------------------------

Amount = Decimal | str
"""A human amount (`Decimal("30000")`) or a share of the current balance (`"40%"`)."""


@dataclass(frozen=True, slots=True)
class Action:
    """One owner action of a step: a generator method name and its arguments."""

    method: str
    args: tuple[Any, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Step:
    """Day offset from genesis, target USD prices (ETH, BTC, LINK) and owner actions."""

    day: int
    eth: Decimal
    btc: Decimal
    link: Decimal
    actions: tuple[Action, ...]


def _a(method: str, *args: Any) -> Action:
    return Action(method, args)


D = Decimal
SCENARIO: Final[tuple[Step, ...]] = (
    Step(
        1,
        D(3000),
        D(60000),
        D(15),
        (
            _a("receive_native", D(25)),
            _a("receive_token", "USDC", D(250_000)),
        ),
    ),
    Step(3, D(2950), D(61000), D("14.5"), (_a("v2_swap", "USDC", "WETH", D(30_000)),)),
    Step(6, D(2900), D(60500), D(14), (_a("v3_swap", "USDC", "WBTC", 500, D(40_000)),)),
    Step(10, D(2800), D(59000), D(13), (_a("v2_swap_eth_for_tokens", "LINK", D(2)),)),
    Step(18, D(2700), D(57000), D("12.5"), (_a("wrap", D(5)),)),
    Step(27, D(2600), D(55000), D(12), (_a("v3_swap", "WETH", "wstETH", 500, D(3)),)),
    Step(40, D(2400), D(52000), D(11), (_a("v3_swap", "USDC", "WETH", 3000, D(20_000)),)),
    Step(55, D(2200), D(50000), D(10), (_a("v2_swap", "USDC", "WETH", D(20_000)),)),
    Step(70, D(2350), D(53000), D(11), (_a("transfer", "WETH", D(3)),)),
    Step(85, D(2500), D(56000), D(12), (_a("v2_swap_tokens_for_eth", "LINK", "40%"),)),
    Step(100, D(2750), D(60000), D(13), (_a("v2_swap", "USDC", "WBTC", D(25_000)),)),
    Step(120, D(3000), D(64000), D(14), (_a("v2_swap", "WETH", "rETH", D(2)),)),
    Step(140, D(3200), D(67000), D(16), (_a("v3_swap", "WBTC", "USDC", 500, "30%"),)),
    Step(160, D(3450), D(70000), D(18), (_a("receive_token", "LINK", D(500)),)),
    Step(180, D(3700), D(72000), D(20), (_a("v3_swap_tokens_for_eth", "LINK", 3000, D(100)),)),
    Step(200, D(3900), D(73000), D(21), (_a("v3_swap", "WETH", "rETH", 3000, D(2)),)),
    Step(210, D(3850), D(71000), D(20), (_a("v3_swap", "USDC", "wstETH", 500, D(30_000)),)),
    Step(225, D(3600), D(69000), D(19), (_a("unwrap", D(1)),)),
    Step(240, D(3300), D(66000), D(17), (_a("v3_swap_eth_for_tokens", "LINK", 3000, D(1)),)),
    Step(260, D(3000), D(62000), D(15), (_a("v2_swap", "USDC", "LINK", D(5_000)),)),
    Step(280, D(2700), D(58000), D(12), (_a("v2_swap", "wstETH", "WETH", "30%"),)),
    Step(300, D(2600), D(55000), D(10), (_a("v3_swap", "USDC", "LINK", 3000, D(6_000)),)),
    Step(320, D(2650), D(54000), D("10.5"), (_a("transfer", "USDC", D(10_000)),)),
    Step(340, D(2750), D(53000), D(12), (_a("v2_swap_eth_for_tokens", "WBTC", D("1.5")),)),
    Step(360, D(2900), D(55000), D(13), (_a("v2_swap", "WETH", "wstETH", D(1)),)),
    Step(380, D(3000), D(54000), D(15), (_a("v3_swap", "LINK", "USDC", 500, D(100)),)),
    Step(395, D(2850), D(53000), D("15.5"), (_a("receive_native", D(2)),)),
    Step(405, D(2800), D(52500), D(16), (_a("v3_swap", "USDC", "WETH", 500, D(15_000)),)),
    Step(415, D(2750), D(52000), D("16.5"), (_a("v2_swap", "USDC", "rETH", D(10_000)),)),
    Step(425, D(2800), D(52000), D(16), (_a("v2_swap", "WETH", "USDC", D(1)),)),
)
"""The scripted history. Prices get a seeded noise of up to ±1.2 % per token and step."""

WSTETH_PER_ETH: Final = (Decimal("1.16"), Decimal("1.18"))
RETH_PER_ETH: Final = (Decimal("1.10"), Decimal("1.11"))
NOISE_BPS: Final = 120


def step_prices(step: Step, index: int, total: int, seed: int) -> dict[str, Decimal]:
    """The USD targets of one step: the path plus seeded noise (integer bps, no floats)."""
    import random

    rng = random.Random(seed * 1000 + index)
    progress = Decimal(index) / Decimal(max(total - 1, 1))

    def noisy(value: Decimal) -> Decimal:
        bps = rng.randint(-NOISE_BPS, NOISE_BPS)
        return (value * (1 + Decimal(bps) / 10_000)).quantize(Decimal("0.0001"))

    eth = noisy(step.eth)
    wst = WSTETH_PER_ETH[0] + (WSTETH_PER_ETH[1] - WSTETH_PER_ETH[0]) * progress
    reth = RETH_PER_ETH[0] + (RETH_PER_ETH[1] - RETH_PER_ETH[0]) * progress
    return {
        "USDC": Decimal(1),
        "WETH": eth,
        "WBTC": noisy(step.btc),
        "LINK": noisy(step.link),
        "wstETH": noisy(eth * wst),
        "rETH": noisy(eth * reth),
    }


def generate_history(chain: WorldChain, manifest: Manifest, seed: int) -> History:
    """Play `SCENARIO` on a freshly deployed world and record what happened.

    Raises:
        TransactionFailed: a transaction reverted.
        RpcRefused: the node refused a test method.
    """
    return _Generator(chain, manifest, seed).run()


class _Generator:
    """Plays the scenario: whale moves, owner actions, exact records."""

    def __init__(self, chain: WorldChain, manifest: Manifest, seed: int) -> None:
        self.chain = chain
        self.manifest = manifest
        self.seed = seed
        self.erc20 = load_artifact("ERC20PresetMinterPauser")
        self.weth9 = load_artifact("WETH9")
        self.pair = load_artifact("UniswapV2Pair")
        self.pool = load_artifact("UniswapV3Pool")
        self.v2 = chain.contract(load_artifact("UniswapV2Router02"), manifest.contracts.v2_router)
        self.v3 = chain.contract(load_artifact("SwapRouter"), manifest.contracts.swap_router)
        self.weth = chain.contract(self.weth9, manifest.contracts.weth)
        self.v2_router = manifest.contracts.v2_router
        self.swap_router = manifest.contracts.swap_router
        self.main = manifest.account("main").address
        self.cold = manifest.account("cold").address
        self.whale = manifest.account("whale").address
        self.outsider = manifest.account("outsider").address
        self.names = {self.main: "main", self.cold: "cold"}
        self.approved: set[tuple[Address, Address, Address]] = set()
        self.records: list[HistoryTx] = []
        self.points: list[PricePoint] = []
        self.step_index = 0
        self.prices_before: dict[str, Decimal] = {}
        self.next_timestamp = 0
        self.tokens = {t.symbol: chain.contract(self.erc20, t.address) for t in manifest.tokens}
        self.pool_contracts = {
            p.address: chain.contract(
                self.pair if p.protocol == Protocol.UNISWAP_V2 else self.pool, p.address
            )
            for p in manifest.pools
        }

    def run(self) -> History:
        first_block = BlockNumber(self.chain.w3.eth.block_number + 1)
        genesis = self.manifest.genesis_timestamp
        for index, step in enumerate(SCENARIO):
            self.step_index = index
            timestamp = genesis + step.day * DAY + 12 * 3600
            targets = step_prices(step, index, len(SCENARIO), self.seed)
            self._move_prices(targets, timestamp)
            self.next_timestamp = timestamp + OWNER_TX_SPACING_SECONDS
            for action in step.actions:
                method: Callable[..., None] = getattr(self, "act_" + action.method)
                method(*action.args)
        last = self.chain.w3.eth.get_block("latest")
        history = History(
            seed=self.seed,
            chain_id=self.manifest.chain_id,
            wallets=(("main", self.main), ("cold", self.cold)),
            first_block=first_block,
            last_block=BlockNumber(int(last["number"])),
            start_timestamp=self.points[0].timestamp,
            end_timestamp=int(last["timestamp"]),
            transactions=tuple(self.records),
            price_points=tuple(self.points),
        )
        log.info(
            "history_generated",
            steps=len(SCENARIO),
            owner_transactions=len(self.records),
            last_block=history.last_block,
        )
        return history

    # --- prices -----------------------------------------------------------------------

    def _move_prices(self, targets: dict[str, Decimal], timestamp: int) -> None:
        """The whale moves every pool to `targets` in one block at `timestamp`."""
        pools = self.manifest.pools
        states = self.chain.call_many(
            [
                (p.address, GET_RESERVES if p.protocol == Protocol.UNISWAP_V2 else SLOT0)
                for p in pools
            ]
        )
        sent: list[TxHash] = []
        self.chain.request("evm_setAutomine", [False])
        try:
            for pool, state in zip(pools, states, strict=True):
                tx = self._whale_move(pool, state, targets)
                if tx is not None:
                    sent.append(tx)
            self.chain.set_next_timestamp(timestamp)
            self.chain.mine()
        finally:
            self.chain.request("evm_setAutomine", [True])
        block = self.chain.w3.eth.get_block("latest")
        self.chain.check_block(f"whale moves of step {self.step_index}", int(block["number"]), sent)
        prices = self._prices_now()
        self.points.append(
            PricePoint(
                step=self.step_index,
                block_number=BlockNumber(int(block["number"])),
                timestamp=int(block["timestamp"]),
                prices_usd=tuple(
                    (t.symbol, prices[t.symbol].quantize(VALUE_QUANTUM))
                    for t in self.manifest.tokens
                ),
            )
        )

    def _whale_move(
        self, pool: PoolEntry, state: bytes, targets: dict[str, Decimal]
    ) -> TxHash | None:
        t0 = self.manifest.token_at(pool.token0)
        t1 = self.manifest.token_at(pool.token1)
        target = raw_price(targets[t0.symbol], targets[t1.symbol], t0.decimals, t1.decimals)
        if pool.protocol == Protocol.UNISWAP_V2:
            reserve0, reserve1 = _word(state, 0), _word(state, 1)
            zero_for_one, amount_in = v2_input_to_target(reserve0, reserve1, target)
            if amount_in == 0:
                return None
            path = [t0.address, t1.address] if zero_for_one else [t1.address, t0.address]
            calldata = encode_call(V2_SWAP_SIGNATURE, amount_in, 0, path, self.whale, FAR_DEADLINE)
            return self.chain.send(
                "whale v2 move", self.whale, self.v2_router, calldata, gas=SWAP_GAS
            )
        current = _word(state, 0)
        wanted = sqrt_price_x96(target)
        if abs(wanted - current) * 1_000_000 < current:
            return None
        zero_for_one = wanted < current
        token_in, token_out = (t0, t1) if zero_for_one else (t1, t0)
        params = (
            token_in.address,
            token_out.address,
            pool.fee,
            self.whale,
            FAR_DEADLINE,
            WHALE_V3_AMOUNT_IN,
            0,
            wanted,
        )
        calldata = call_data(self.v3, "exactInputSingle", params)
        return self.chain.send(
            "whale v3 move", self.whale, self.swap_router, calldata, gas=SWAP_GAS
        )

    # --- bookkeeping ----------------------------------------------------------------

    def _balance(self, wallet: Address, symbol: str) -> int:
        if symbol == "ETH":
            return int(self.chain.w3.eth.get_balance(ChecksumAddress(HexAddress(HexStr(wallet)))))
        return int(self.tokens[symbol].functions.balanceOf(wallet).call())

    def _raw(self, symbol: str, amount: Amount, wallet: Address) -> int:
        if isinstance(amount, str) and amount.endswith("%"):
            return self._balance(wallet, symbol) * int(amount[:-1]) // 100
        decimals = 18 if symbol == "ETH" else self.manifest.token(symbol).decimals
        return int(Decimal(amount) * Decimal(10) ** decimals)

    def _address(self, symbol: str) -> Address:
        return NATIVE_ASSET if symbol == "ETH" else self.manifest.token(symbol).address

    def _send(
        self, label: str, sender: Address, to: Address, calldata: str, value_wei: int = 0
    ) -> TxReceipt:
        self.prices_before = self._prices_now()
        self.chain.set_next_timestamp(self.next_timestamp)
        self.next_timestamp += OWNER_TX_SPACING_SECONDS
        return self.chain.transact(label, sender, to, calldata, value_wei=value_wei, gas=SWAP_GAS)

    def _record(
        self,
        *,
        receipt: TxReceipt,
        wallet: Address,
        kind: TxKind,
        method: str,
        venue: str,
        pool: Address | None,
        symbol_in: str | None,
        amount_in: int,
        symbol_out: str | None,
        amount_out: int,
        value_usd: Decimal | None,
        value_source: str,
        counterparty: Address | None,
    ) -> None:
        block = self.chain.w3.eth.get_block(receipt["blockNumber"])
        gas_price = int(receipt["effectiveGasPrice"])
        self.records.append(
            HistoryTx(
                step=self.step_index,
                tx_hash=TxHash(receipt["transactionHash"].to_0x_hex()),
                block_number=BlockNumber(int(receipt["blockNumber"])),
                timestamp=int(block["timestamp"]),
                wallet=wallet,
                wallet_name=self.names[wallet],
                kind=kind,
                method=method,
                venue=venue,
                pool=pool,
                token_in=None if symbol_in is None else self._address(symbol_in),
                token_in_symbol=symbol_in,
                amount_in_raw=amount_in,
                token_out=None if symbol_out is None else self._address(symbol_out),
                token_out_symbol=symbol_out,
                amount_out_raw=amount_out,
                value_usd=value_usd,
                value_source=value_source,
                counterparty=counterparty,
                gas_payer=Address(to_checksum_address(receipt["from"])),
                gas_used=int(receipt["gasUsed"]),
                gas_price_wei=gas_price,
                gas_paid_wei=int(receipt["gasUsed"]) * gas_price,
                value_in_usd=None if symbol_in is None else self._value(symbol_in, amount_in),
                value_out_usd=None if symbol_out is None else self._value(symbol_out, amount_out),
                gas_usd=self._value("ETH", int(receipt["gasUsed"]) * gas_price),
            )
        )

    def _prices_now(self) -> dict[str, Decimal]:
        """USD prices of every token from the V3 0.05 % USDC pools (one batched read)."""
        symbols = [t.symbol for t in self.manifest.tokens if t.symbol != "USDC"]
        pools = [self.manifest.pool(Protocol.UNISWAP_V3, s, "USDC", 500) for s in symbols]
        states = self.chain.call_many([(p.address, SLOT0) for p in pools])
        usdc = self.manifest.token("USDC")
        prices = {"USDC": Decimal(1)}
        for symbol, pool, state in zip(symbols, pools, states, strict=True):
            token = self.manifest.token(symbol)
            price = price_from_sqrt_x96(_word(state, 0))
            if pool.token0 != token.address:
                price = 1 / price
            per_unit = price * Fraction(10) ** (token.decimals - usdc.decimals)
            prices[symbol] = Decimal(per_unit.numerator) / Decimal(per_unit.denominator)
        prices["ETH"] = prices["WETH"]
        return prices

    def _value(self, symbol: str, amount_raw: int) -> Decimal:
        """USD value of `amount_raw` at the prices before the last owner transaction."""
        decimals = 18 if symbol == "ETH" else self.manifest.token(symbol).decimals
        price = self.prices_before[symbol]
        return (Decimal(amount_raw) * price / Decimal(10) ** decimals).quantize(
            VALUE_QUANTUM, rounding=ROUND_HALF_EVEN
        )

    def _swap_value(
        self, symbol_in: str, amount_in: int, symbol_out: str, amount_out: int
    ) -> tuple[Decimal, str]:
        usdc = self.manifest.token("USDC").decimals
        if symbol_in == "USDC":
            return Decimal(amount_in) / Decimal(10) ** usdc, "usdc_leg"
        if symbol_out == "USDC":
            return Decimal(amount_out) / Decimal(10) ** usdc, "usdc_leg"
        return self._value(symbol_in, amount_in), "pool_price"

    def _approve(self, wallet: Address, symbol: str, spender: Address) -> None:
        token = self.manifest.token(symbol).address
        if (wallet, token, spender) in self.approved:
            return
        receipt = self._send(
            f"approve {symbol}",
            wallet,
            token,
            call_data(self.tokens[symbol], "approve", spender, 2**256 - 1),
        )
        self.approved.add((wallet, token, spender))
        self._record(
            receipt=receipt,
            wallet=wallet,
            kind=TxKind.APPROVE,
            method="approve",
            venue="erc20",
            pool=None,
            symbol_in=None,
            amount_in=0,
            symbol_out=None,
            amount_out=0,
            value_usd=None,
            value_source="none",
            counterparty=spender,
        )

    def _swap(
        self,
        *,
        label: str,
        method: str,
        venue: str,
        pool: Address,
        symbol_in: str,
        symbol_out: str,
        to: Address,
        calldata: str,
        value_wei: int = 0,
        amount_in_raw: int,
    ) -> None:
        wallet = self.main
        before_in = self._balance(wallet, symbol_in)
        before_out = self._balance(wallet, symbol_out)
        receipt = self._send(label, wallet, to, calldata, value_wei)
        gas = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
        paid = before_in - self._balance(wallet, symbol_in) - (gas if symbol_in == "ETH" else 0)
        got = self._balance(wallet, symbol_out) - before_out + (gas if symbol_out == "ETH" else 0)
        if paid != amount_in_raw:
            raise TransactionFailed(label, receipt["transactionHash"].to_0x_hex(), "input differs")
        value, source = self._swap_value(symbol_in, paid, symbol_out, got)
        self._record(
            receipt=receipt,
            wallet=wallet,
            kind=TxKind.SWAP,
            method=method,
            venue=venue,
            pool=pool,
            symbol_in=symbol_in,
            amount_in=paid,
            symbol_out=symbol_out,
            amount_out=got,
            value_usd=value,
            value_source=source,
            counterparty=to,
        )

    # --- owner actions (named in SCENARIO) ----------------------------------------------

    def act_receive_native(self, amount: Amount) -> None:
        raw = self._raw("ETH", amount, self.outsider)
        receipt = self._send("outsider sends ETH", self.outsider, self.main, "0x", raw)
        self._record(
            receipt=receipt,
            wallet=self.main,
            kind=TxKind.RECEIVE,
            method="native",
            venue="native",
            pool=None,
            symbol_in=None,
            amount_in=0,
            symbol_out="ETH",
            amount_out=raw,
            value_usd=self._value("ETH", raw),
            value_source="pool_price",
            counterparty=self.outsider,
        )

    def act_receive_token(self, symbol: str, amount: Amount) -> None:
        raw = self._raw(symbol, amount, self.outsider)
        token = self.manifest.token(symbol)
        # The outsider gets its tokens from the deployer first (not an owner transaction).
        deployer = self.manifest.account("deployer").address
        self.chain.transact(
            f"fund outsider {symbol}",
            deployer,
            token.address,
            call_data(self.tokens[symbol], "mint", self.outsider, raw),
        )
        receipt = self._send(
            f"outsider sends {symbol}",
            self.outsider,
            token.address,
            call_data(self.tokens[symbol], "transfer", self.main, raw),
        )
        source = "usdc_leg" if symbol == "USDC" else "pool_price"
        self._record(
            receipt=receipt,
            wallet=self.main,
            kind=TxKind.RECEIVE,
            method="transfer",
            venue="erc20",
            pool=None,
            symbol_in=None,
            amount_in=0,
            symbol_out=symbol,
            amount_out=raw,
            value_usd=self._value(symbol, raw),
            value_source=source,
            counterparty=self.outsider,
        )

    def act_v2_swap(self, symbol_in: str, symbol_out: str, amount: Amount) -> None:
        raw = self._raw(symbol_in, amount, self.main)
        self._approve(self.main, symbol_in, self.v2_router)
        path = [self._address(symbol_in), self._address(symbol_out)]
        self._swap(
            label=f"v2 {symbol_in}->{symbol_out}",
            method="swapExactTokensForTokens",
            venue=Protocol.UNISWAP_V2,
            pool=self.manifest.pool(Protocol.UNISWAP_V2, symbol_in, symbol_out).address,
            symbol_in=symbol_in,
            symbol_out=symbol_out,
            to=self.v2_router,
            calldata=call_data(
                self.v2, "swapExactTokensForTokens", raw, 0, path, self.main, FAR_DEADLINE
            ),
            amount_in_raw=raw,
        )

    def act_v2_swap_eth_for_tokens(self, symbol_out: str, amount: Amount) -> None:
        raw = self._raw("ETH", amount, self.main)
        path = [self.manifest.contracts.weth, self._address(symbol_out)]
        self._swap(
            label=f"v2 ETH->{symbol_out}",
            method="swapExactETHForTokens",
            venue=Protocol.UNISWAP_V2,
            pool=self.manifest.pool(Protocol.UNISWAP_V2, "WETH", symbol_out).address,
            symbol_in="ETH",
            symbol_out=symbol_out,
            to=self.v2_router,
            calldata=call_data(self.v2, "swapExactETHForTokens", 0, path, self.main, FAR_DEADLINE),
            value_wei=raw,
            amount_in_raw=raw,
        )

    def act_v2_swap_tokens_for_eth(self, symbol_in: str, amount: Amount) -> None:
        raw = self._raw(symbol_in, amount, self.main)
        self._approve(self.main, symbol_in, self.v2_router)
        path = [self._address(symbol_in), self.manifest.contracts.weth]
        self._swap(
            label=f"v2 {symbol_in}->ETH",
            method="swapExactTokensForETH",
            venue=Protocol.UNISWAP_V2,
            pool=self.manifest.pool(Protocol.UNISWAP_V2, symbol_in, "WETH").address,
            symbol_in=symbol_in,
            symbol_out="ETH",
            to=self.v2_router,
            calldata=call_data(
                self.v2, "swapExactTokensForETH", raw, 0, path, self.main, FAR_DEADLINE
            ),
            amount_in_raw=raw,
        )

    def act_v3_swap(self, symbol_in: str, symbol_out: str, fee: int, amount: Amount) -> None:
        raw = self._raw(symbol_in, amount, self.main)
        self._approve(self.main, symbol_in, self.swap_router)
        params = (
            self._address(symbol_in),
            self._address(symbol_out),
            fee,
            self.main,
            FAR_DEADLINE,
            raw,
            0,
            0,
        )
        self._swap(
            label=f"v3 {symbol_in}->{symbol_out}",
            method="exactInputSingle",
            venue=Protocol.UNISWAP_V3,
            pool=self.manifest.pool(Protocol.UNISWAP_V3, symbol_in, symbol_out, fee).address,
            symbol_in=symbol_in,
            symbol_out=symbol_out,
            to=self.swap_router,
            calldata=call_data(self.v3, "exactInputSingle", params),
            amount_in_raw=raw,
        )

    def act_v3_swap_eth_for_tokens(self, symbol_out: str, fee: int, amount: Amount) -> None:
        raw = self._raw("ETH", amount, self.main)
        weth = self.manifest.contracts.weth
        params = (weth, self._address(symbol_out), fee, self.main, FAR_DEADLINE, raw, 0, 0)
        self._swap(
            label=f"v3 ETH->{symbol_out}",
            method="exactInputSingle",
            venue=Protocol.UNISWAP_V3,
            pool=self.manifest.pool(Protocol.UNISWAP_V3, "WETH", symbol_out, fee).address,
            symbol_in="ETH",
            symbol_out=symbol_out,
            to=self.swap_router,
            calldata=call_data(self.v3, "exactInputSingle", params),
            value_wei=raw,
            amount_in_raw=raw,
        )

    def act_v3_swap_tokens_for_eth(self, symbol_in: str, fee: int, amount: Amount) -> None:
        raw = self._raw(symbol_in, amount, self.main)
        self._approve(self.main, symbol_in, self.swap_router)
        weth = self.manifest.contracts.weth
        # The router receives the WETH, then unwraps and pays native ETH to the wallet.
        params = (self._address(symbol_in), weth, fee, self.swap_router, FAR_DEADLINE, raw, 0, 0)
        calls = [
            bytes.fromhex(call_data(self.v3, "exactInputSingle", params)[2:]),
            bytes.fromhex(call_data(self.v3, "unwrapWETH9", 0, self.main)[2:]),
        ]
        self._swap(
            label=f"v3 {symbol_in}->ETH",
            method="multicall",
            venue=Protocol.UNISWAP_V3,
            pool=self.manifest.pool(Protocol.UNISWAP_V3, symbol_in, "WETH", fee).address,
            symbol_in=symbol_in,
            symbol_out="ETH",
            to=self.swap_router,
            calldata=call_data(self.v3, "multicall", calls),
            amount_in_raw=raw,
        )

    def act_wrap(self, amount: Amount) -> None:
        raw = self._raw("ETH", amount, self.main)
        receipt = self._send(
            "wrap", self.main, self.manifest.contracts.weth, call_data(self.weth, "deposit"), raw
        )
        self._record(
            receipt=receipt,
            wallet=self.main,
            kind=TxKind.WRAP,
            method="deposit",
            venue="weth",
            pool=None,
            symbol_in="ETH",
            amount_in=raw,
            symbol_out="WETH",
            amount_out=raw,
            value_usd=self._value("ETH", raw),
            value_source="pool_price",
            counterparty=self.manifest.contracts.weth,
        )

    def act_unwrap(self, amount: Amount) -> None:
        raw = self._raw("WETH", amount, self.main)
        receipt = self._send(
            "unwrap", self.main, self.manifest.contracts.weth, call_data(self.weth, "withdraw", raw)
        )
        self._record(
            receipt=receipt,
            wallet=self.main,
            kind=TxKind.UNWRAP,
            method="withdraw",
            venue="weth",
            pool=None,
            symbol_in="WETH",
            amount_in=raw,
            symbol_out="ETH",
            amount_out=raw,
            value_usd=self._value("WETH", raw),
            value_source="pool_price",
            counterparty=self.manifest.contracts.weth,
        )

    def act_transfer(self, symbol: str, amount: Amount) -> None:
        raw = self._raw(symbol, amount, self.main)
        token = self.manifest.token(symbol)
        receipt = self._send(
            f"transfer {symbol} main->cold",
            self.main,
            token.address,
            call_data(self.tokens[symbol], "transfer", self.cold, raw),
        )
        self._record(
            receipt=receipt,
            wallet=self.main,
            kind=TxKind.TRANSFER,
            method="transfer",
            venue="erc20",
            pool=None,
            symbol_in=symbol,
            amount_in=raw,
            symbol_out=None,
            amount_out=0,
            value_usd=self._value(symbol, raw),
            value_source="usdc_leg" if symbol == "USDC" else "pool_price",
            counterparty=self.cold,
        )


def contract_of(chain: WorldChain, manifest: Manifest, symbol: str) -> Contract:
    """An ERC-20 contract object for token `symbol` of `manifest`.

    Raises:
        KeyError: no such token.
    """
    return chain.contract(load_artifact("ERC20PresetMinterPauser"), manifest.token(symbol).address)
