"""Where a reorg forked: the highest stored block whose hash the node still agrees with.

The indexer notices a reorg when the node's hash of the checkpoint block differs from
the stored one (or the block is gone). `find_fork_block` then compares the stored
headers (every block that holds an event, and each batch's last block) with the node's,
over a window below the checkpoint that widens 4x until some height agrees; everything
above that height is rolled back by the caller (`ledger.store.rollback_to_block`, one
transaction). If no stored height agrees down to `start_block`, the fork is
`start_block - 1`: the whole chain is re-indexed.
"""

from __future__ import annotations

import asyncio

from indexer.sweep import LogSweeper
from ledger.ids import BlockHash, BlockNumber, ChainId
from ledger.store import Store, find_fork_point, load_block_hashes

INITIAL_WINDOW = 64


async def find_fork_block(
    store: Store,
    sweeper: LogSweeper,
    chain_id: ChainId,
    checkpoint_block: int,
    start_block: int,
) -> int:
    """The highest stored height at or below `checkpoint_block` on the node's chain.

    Raises:
        RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: the node failed.
        StoreError: the store refused the read.
    """
    window = INITIAL_WINDOW
    head = int(await sweeper.fetch_head())
    while True:
        lo = max(start_block, checkpoint_block - window + 1)

        def stored_hashes(lo: int = lo) -> dict[BlockNumber, BlockHash]:
            with store.reader("read block hashes") as session:
                return load_block_hashes(
                    session, chain_id, BlockNumber(lo), BlockNumber(checkpoint_block)
                )

        stored = await asyncio.to_thread(stored_hashes)
        heights = [n for n in stored if n <= head]
        if heights:
            headers = await sweeper.fetch_headers(heights)
            canonical = {n: BlockHash(h.hash) for n, h in headers.items()}

            def fork_point(canonical: dict[BlockNumber, BlockHash] = canonical) -> int | None:
                with store.reader("find fork point") as session:
                    found = find_fork_point(session, chain_id, canonical)
                return None if found is None else int(found)

            fork = await asyncio.to_thread(fork_point)
            if fork is not None:
                return fork
        if lo <= start_block:
            return start_block - 1
        window *= 4
