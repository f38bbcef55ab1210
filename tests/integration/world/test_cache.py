"""The state cache: the same deterministic addresses as a cold deploy; what a restored
node answers about the past (blocks, receipts, logs and parity traces always; `eth_call`
at past blocks and debug traces only from an archive cache)."""

from __future__ import annotations

import pytest
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import to_checksum_address
from web3.exceptions import Web3Exception

from harvestd.world.artifacts import load_artifact
from harvestd.world.chain import RpcRefused
from harvestd.world.history import TxKind
from harvestd.world.launch import World, WorldFactory


def first_usdc_receipt(world: World) -> int:
    assert world.history is not None
    return next(
        tx.block_number
        for tx in world.history.transactions
        if tx.kind == TxKind.RECEIVE and tx.token_out_symbol == "USDC"
    )


def usdc_of_main(world: World, block: int) -> int:
    chain = world.chain()
    token = chain.contract(
        load_artifact("ERC20PresetMinterPauser"), world.manifest.token("USDC").address
    )
    main: ChecksumAddress = to_checksum_address(world.manifest.account("main").address)
    return int(token.functions.balanceOf(main).call(block_identifier=block))


def test_cold_deploy_has_the_cached_addresses(world: World, make_world: WorldFactory) -> None:
    cold = make_world(cached=False, with_history=False)
    assert cold.manifest.contracts == world.manifest.contracts
    assert cold.manifest.tokens == world.manifest.tokens
    assert cold.manifest.pools == world.manifest.pools
    assert cold.manifest.accounts == world.manifest.accounts


def test_restored_node_serves_the_past_but_not_past_state(world: World) -> None:
    block = first_usdc_receipt(world)
    header = world.chain().w3.eth.get_block(block)
    assert header["number"] == block
    with pytest.raises(Web3Exception):
        usdc_of_main(world, block - 1)
    tx = world.history.transactions[0].tx_hash if world.history else ""
    with pytest.raises(RpcRefused):
        world.chain().request("debug_traceTransaction", [tx, {"tracer": "callTracer"}])
    assert world.chain().request("trace_transaction", [tx])


@pytest.mark.slow
def test_archive_cache_answers_calls_at_past_blocks(make_world: WorldFactory) -> None:
    archive = make_world(archive=True)
    block = first_usdc_receipt(archive)
    assert usdc_of_main(archive, block - 1) == 0
    assert usdc_of_main(archive, block) == 250_000 * 10**6
    assert archive.history is not None
    swap = next(tx for tx in archive.history.transactions if tx.method == "swapExactTokensForETH")
    trace = archive.chain().request(
        "debug_traceTransaction", [HexStr(swap.tx_hash), {"tracer": "callTracer"}]
    )
    assert trace["to"].lower() == archive.manifest.contracts.v2_router.lower()
