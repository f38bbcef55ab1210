"""Indexer throughput (printed, never asserted): a full backfill into SQLite against a raw
sweep of the same JSON-RPC requests.

Workload (built once, then kept as an Anvil state in `.harvestd-cache/indexer-bench/`):
`TXS` transactions of the SpamAirdropper contract, each emitting `PER_TX` ERC-20
`Transfer` logs, one to each of the `WALLETS` owned wallets and the rest to random
addresses: 200,000 logs, 10 % touching the wallets, `TXS * WALLETS` ledger events
(the classifier nets one transaction's flows per wallet and asset). The token is
configured as the numeraire (worth 1 USD), so every event is priced and booked.

Printed: the full backfill (gather + classify + price + one-transaction booking +
lot derivation) in events/s and wallet logs/s, and the raw sweep (the same eth_getLogs
with the wallet filters, trace_filter, receipts and headers, JSON only) in the same units.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

from harvestd.commands.backfill import plan_for
from harvestd.settings import load_settings
from harvestd.world.anvil import AnvilOptions, start_anvil
from harvestd.world.artifacts import load_artifact
from harvestd.world.chain import WorldChain, encode_call
from harvestd.world.paths import find_repo_root
from indexer.pipeline import ChainIndexer
from indexer.records import parse_log
from indexer.rpc import RpcCall, RpcClient
from indexer.sweep import wallet_filters
from ledger.ids import Address, ChainId
from ledger.store import count_events, open_store

pytestmark = pytest.mark.chain

TXS = 1_000
PER_TX = 200
WALLETS = 20
TXS_PER_BLOCK = 10
STATE_VERSION = 2


def _address(n: int) -> str:
    return "0x" + f"{n:040x}"


OWNED = [
    Address(to_checksum_address("0x" + hashlib.sha256(f"wallet {i}".encode()).hexdigest()[:40]))
    for i in range(WALLETS)
]


def _state_file() -> Path:
    folder = find_repo_root() / ".harvestd-cache" / "indexer-bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"state-v{STATE_VERSION}-{TXS}x{PER_TX}.json"


def _build_state(path: Path) -> None:
    node = start_anvil(AnvilOptions(extra_args=("--dump-state", str(path))))
    try:
        chain = WorldChain.at(node.rpc_url)
        sender = chain.w3.eth.accounts[0]
        spam = chain.deploy("spam contract", sender, load_artifact("SpamAirdropper"))
        chain.request("evm_setAutomine", [False])
        signature = "airdrop(address,address[],uint256)"
        for i in range(TXS):
            noise = [_address(0xB0B00000 + i * PER_TX + j) for j in range(PER_TX - WALLETS)]
            recipients = [*OWNED, *noise]
            data = encode_call(signature, _address(0xFEED), recipients, 10**18 + i)
            chain.request(
                "eth_sendTransaction",
                [{"from": sender, "to": spam, "data": data, "gas": hex(1_500_000)}],
            )
            if (i + 1) % TXS_PER_BLOCK == 0:
                chain.mine()
        chain.mine()
    finally:
        node.interrupt()


def _config(tmp_path: Path, rpc_url: str, spam: str) -> Path:
    wallets = "\n".join(f'      - {{label: w{i}, address: "{a}"}}' for i, a in enumerate(OWNED))
    text = f"""
database:
  url: sqlite:///{tmp_path / "bench.db"}
owner:
  jurisdiction: us
  method: fifo
  tax_rates: {{short_term: 0.35, long_term: 0.15}}
chains:
  - name: bench
    chain_id: 31337
    rpc_url: {rpc_url}
    confirmations: 0
    max_block_range: 2000
    numeraire: SPAM
    wallets:
{wallets}
    tokens:
      - {{symbol: SPAM, address: "{spam}", decimals: 18}}
"""
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    return path


async def _raw_sweep(rpc_url: str, owned: list[Address], head: int) -> tuple[float, int]:
    started = time.perf_counter()
    async with RpcClient(rpc_url, max_concurrency=4) as rpc:
        filters = wallet_filters(owned)
        found = await rpc.batch([RpcCall("eth_getLogs", [f.to_params(0, head)]) for f in filters])
        await rpc.call(
            "trace_filter",
            {"fromBlock": hex(0), "toBlock": hex(head), "toAddress": owned},
        )
        logs = [parse_log(item) for result in found for item in result]
        hashes = sorted({entry.tx_hash for entry in logs})
        await rpc.batch([RpcCall("eth_getTransactionReceipt", [h]) for h in hashes])
        blocks = sorted({entry.block_number for entry in logs})
        await rpc.batch([RpcCall("eth_getBlockByNumber", [hex(b), False]) for b in blocks])
    return time.perf_counter() - started, len(logs)


def test_indexer_backfill_throughput(tmp_path: Path) -> None:
    state = _state_file()
    built = 0.0
    if not state.exists():
        started = time.perf_counter()
        _build_state(state)
        built = time.perf_counter() - started
    node = start_anvil(AnvilOptions(load_state=state))
    try:
        chain = WorldChain.at(node.rpc_url)
        head = int(chain.w3.eth.block_number)
        spam = chain.w3.eth.get_transaction_receipt(
            chain.w3.eth.get_block(1, full_transactions=False)["transactions"][0]
        )["contractAddress"]
        settings = load_settings(_config(tmp_path, node.rpc_url, str(spam)))
        raw_seconds, wallet_logs = asyncio.run(_raw_sweep(node.rpc_url, OWNED, head))
        store = open_store(settings.database.url.get_secret_value())
        store.upgrade()

        async def backfill() -> float:
            started = time.perf_counter()
            async with RpcClient(node.rpc_url, max_concurrency=4) as rpc:
                await ChainIndexer(plan_for(settings, settings.chains[0]), store, rpc).run()
            return time.perf_counter() - started

        full_seconds = asyncio.run(backfill())
        with store.reader() as session:
            events = count_events(session, ChainId(31337))
        store.close()
    finally:
        node.stop()
    print()
    if built:
        print(f"workload built in {built:.1f} s and saved to {state}")
    print(f"workload: {TXS * PER_TX} logs in {head} blocks, {wallet_logs} touch the wallets")
    print(
        f"full backfill: {events} events in {full_seconds:.2f} s = "
        f"{events / full_seconds:,.0f} events/s, {wallet_logs / full_seconds:,.0f} wallet logs/s"
    )
    print(
        f"raw sweep of the same requests: {raw_seconds:.2f} s = "
        f"{events / raw_seconds:,.0f} events/s, {wallet_logs / raw_seconds:,.0f} wallet logs/s"
    )
    print(f"backfill / raw sweep time: {full_seconds / raw_seconds:.2f}x")
