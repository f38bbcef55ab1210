"""The generated history, as the world restored from the cache serves it: complete and
exact (balances follow from it to the wei), readable from blocks, receipts, logs and
traces, spread over more than a year, and leaving long- and short-term lots at both a
gain and a loss at the final pool prices."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import pytest
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3 import Web3

from harvestd.world.artifacts import load_artifact
from harvestd.world.history import History, TxKind, history_from_json
from harvestd.world.launch import World
from harvestd.world.manifest import Protocol, load_manifest, manifest_from_json
from ledger.events import NATIVE_ASSET

YEAR_SECONDS = 365 * 86_400
V2_SWAP_TOPIC = Web3.keccak(text="Swap(address,uint256,uint256,uint256,uint256,address)")
V3_SWAP_TOPIC = Web3.keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)")


@pytest.fixture(scope="module")
def history(world: World) -> History:
    assert world.history is not None
    return world.history


def test_history_spans_more_than_a_year_in_25_to_40_steps(history: History) -> None:
    steps = {tx.step for tx in history.transactions}
    assert 25 <= len(steps) <= 40
    assert history.end_timestamp - history.start_timestamp > YEAR_SECONDS
    assert len(history.price_points) == len(steps)


def test_history_covers_every_kind_and_both_routers(history: History) -> None:
    kinds = {tx.kind for tx in history.transactions}
    assert kinds == set(TxKind)
    methods = {(tx.venue, tx.method) for tx in history.transactions if tx.kind == TxKind.SWAP}
    assert {
        ("uniswap_v2", "swapExactTokensForTokens"),
        ("uniswap_v2", "swapExactETHForTokens"),
        ("uniswap_v2", "swapExactTokensForETH"),
        ("uniswap_v3", "exactInputSingle"),
        ("uniswap_v3", "multicall"),
    } <= methods
    assert any(
        tx.kind == TxKind.TRANSFER and tx.wallet_name == "main" for tx in history.transactions
    )
    eth_prices = [p.price("ETH") for p in history.price_points]
    assert min(eth_prices) < 2300 < 3800 < max(eth_prices)


def test_every_record_matches_its_receipt_and_block(world: World, history: History) -> None:
    w3 = world.chain().w3
    for tx in history.transactions:
        receipt = w3.eth.get_transaction_receipt(HexStr(tx.tx_hash))
        assert receipt["status"] == 1
        assert int(receipt["blockNumber"]) == int(tx.block_number)
        assert str(receipt["from"]) == str(tx.gas_payer)
        assert receipt["gasUsed"] * receipt["effectiveGasPrice"] == tx.gas_paid_wei
        block = w3.eth.get_block(tx.block_number)
        assert block["timestamp"] == tx.timestamp
        assert len(block["transactions"]) == 1


def expected_balances(history: History) -> dict[tuple[str, str], int]:
    """Balances that follow from the records alone (everyone starts at zero)."""
    owned = {address for _, address in history.wallets}
    balance: dict[tuple[str, str], int] = defaultdict(int)
    for tx in history.transactions:
        if tx.token_in is not None:
            balance[(tx.wallet, tx.token_in)] -= tx.amount_in_raw
            if tx.kind == TxKind.TRANSFER and tx.counterparty in owned:
                balance[(tx.counterparty, tx.token_in)] += tx.amount_in_raw
        if tx.token_out is not None:
            balance[(tx.wallet, tx.token_out)] += tx.amount_out_raw
        if tx.gas_payer in owned:
            balance[(tx.gas_payer, NATIVE_ASSET)] -= tx.gas_paid_wei
    return balance


def test_balances_follow_from_the_history_to_the_wei(world: World, history: History) -> None:
    chain = world.chain()
    erc20 = load_artifact("ERC20PresetMinterPauser")
    expected = expected_balances(history)
    for _, wallet in history.wallets:
        holder = to_checksum_address(wallet)
        assert (
            chain.w3.eth.get_balance(holder, block_identifier=history.last_block)
            == expected[(wallet, NATIVE_ASSET)]
        )
        for token in world.manifest.tokens:
            held = chain.contract(erc20, token.address).functions.balanceOf(holder).call()
            assert held == expected[(wallet, token.address)], (wallet, token.symbol)


def test_logs_and_traces_of_the_history_are_served(world: World, history: History) -> None:
    w3 = world.chain().w3
    pools = {str(p.address) for p in world.manifest.pools}
    logs = w3.eth.get_logs(
        {
            "fromBlock": history.first_block,
            "toBlock": history.last_block,
            "topics": [[V2_SWAP_TOPIC, V3_SWAP_TOPIC]],
        }
    )
    swapped = {str(to_checksum_address(entry["address"])) for entry in logs}
    assert swapped == pools  # the whale moves every pool, the owner trades in some

    native_out = [
        tx for tx in history.transactions if tx.token_out == NATIVE_ASSET and tx.kind == TxKind.SWAP
    ]
    assert {tx.method for tx in native_out} == {"swapExactTokensForETH", "multicall"}
    for tx in native_out:
        trace = world.chain().request("trace_transaction", [tx.tx_hash])
        paid = [
            int(frame["action"].get("value", "0x0"), 16)
            for frame in trace
            if frame["type"] == "call"
            and str(to_checksum_address(frame["action"]["to"])) == str(tx.wallet)
        ]
        assert paid == [tx.amount_out_raw]


@dataclass
class Lot:
    wallet: str
    symbol: str
    amount_raw: int
    cost_usd: Decimal
    acquired_at: int


def open_lots_fifo(history: History, decimals: dict[str, int]) -> list[Lot]:
    """FIFO lots of the non-USD tokens (ETH and WETH as one asset), per wallet."""

    def asset(symbol: str | None) -> str | None:
        if symbol in (None, "USDC"):
            return None
        return "ETH" if symbol == "WETH" else symbol

    lots: dict[tuple[str, str], list[Lot]] = defaultdict(list)

    def take(wallet: str, symbol: str, amount: int) -> list[Lot]:
        taken: list[Lot] = []
        queue = lots[(wallet, symbol)]
        while amount > 0 and queue:
            lot = queue[0]
            used = min(amount, lot.amount_raw)
            share = lot.cost_usd * used / lot.amount_raw
            taken.append(Lot(wallet, symbol, used, share, lot.acquired_at))
            lot.amount_raw -= used
            lot.cost_usd -= share
            amount -= used
            if lot.amount_raw == 0:
                queue.pop(0)
        return taken

    for tx in history.transactions:
        if tx.kind in (TxKind.WRAP, TxKind.UNWRAP, TxKind.APPROVE):
            continue
        gave, got = asset(tx.token_in_symbol), asset(tx.token_out_symbol)
        if gave is not None and tx.kind == TxKind.TRANSFER:
            cold = "cold"
            for lot in take(tx.wallet_name, gave, tx.amount_in_raw):
                lots[(cold, gave)].append(
                    Lot(cold, gave, lot.amount_raw, lot.cost_usd, lot.acquired_at)
                )
            continue
        if gave is not None:
            take(tx.wallet_name, gave, tx.amount_in_raw)
        if got is not None and tx.value_usd is not None:
            lots[(tx.wallet_name, got)].append(
                Lot(tx.wallet_name, got, tx.amount_out_raw, tx.value_usd, tx.timestamp)
            )
    return [lot for queue in lots.values() for lot in queue if lot.amount_raw > 0]


def test_open_lots_are_long_and_short_term_at_gains_and_losses(
    world: World, history: History
) -> None:
    chain = world.chain()
    final = history.final_prices()
    # the recorded final prices are the pools' prices now
    pool_contract = load_artifact("UniswapV3Pool")
    weth_usdc = world.manifest.pool(Protocol.UNISWAP_V3, "WETH", "USDC", 500)
    sqrt_price = chain.contract(pool_contract, weth_usdc.address).functions.slot0().call()[0]
    raw = Decimal(sqrt_price) ** 2 / Decimal(2) ** 192
    pool_eth_usd = (
        raw * 10**12 if weth_usdc.token0 == world.manifest.token("WETH").address else 10**12 / raw
    )
    assert abs(pool_eth_usd - final.price("ETH")) < Decimal("0.01")

    decimals = {t.symbol: t.decimals for t in world.manifest.tokens} | {"ETH": 18}
    seen: set[tuple[str, str]] = set()
    substitute_loss = False
    for lot in open_lots_fifo(history, decimals):
        value = (
            Decimal(lot.amount_raw) * final.price(lot.symbol) / Decimal(10) ** decimals[lot.symbol]
        )
        gain = value - lot.cost_usd
        term = "long" if history.end_timestamp - lot.acquired_at > YEAR_SECONDS else "short"
        seen.add((term, "gain" if gain > 0 else "loss"))
        if lot.symbol in ("rETH", "wstETH") and gain < -lot.cost_usd / 10:
            substitute_loss = True
    assert seen == {("long", "gain"), ("long", "loss"), ("short", "gain"), ("short", "loss")}
    assert substitute_loss


def test_records_are_exact_values(history: History) -> None:
    for tx in history.transactions:
        assert isinstance(tx.amount_in_raw, int)
        assert isinstance(tx.amount_out_raw, int)
        if tx.kind == TxKind.SWAP:
            assert tx.amount_in_raw > 0
            assert tx.amount_out_raw > 0
            assert tx.value_usd is not None and tx.value_usd > 0
            assert tx.pool is not None
        if tx.value_source == "usdc_leg":
            assert tx.value_usd is not None
            assert tx.value_usd == tx.value_usd.quantize(Decimal("0.000001"))


def test_history_and_manifest_survive_json(world: World, history: History) -> None:
    assert history_from_json(json.loads(json.dumps(history.to_json()))) == history
    assert manifest_from_json(json.loads(json.dumps(world.manifest.to_json()))) == world.manifest
    assert load_manifest(world.manifest_path) == world.manifest


def test_both_legs_and_gas_are_valued(history: History) -> None:
    for tx in history.transactions:
        assert tx.gas_usd >= 0
        if tx.kind == TxKind.SWAP:
            assert tx.value_in_usd is not None and tx.value_out_usd is not None
            # the two legs of a swap are worth about the same before it (fees, impact)
            assert abs(tx.value_in_usd - tx.value_out_usd) < tx.value_in_usd / 50
