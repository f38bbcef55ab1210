"""Blocks, index checkpoints and reorg rollback: the store's view of the chain's history.

The indexer stores each block it books (number, hash, parent hash), finds where a reorg
forked with `find_fork_point`, and calls `rollback_to_block` to delete everything above
the fork in one transaction before booking the new branch. Checkpoints are written with
`set_checkpoint` in the same transaction as the rows they cover.
Synchronous; take the `Session` of a `Store.transaction()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from ledger.ids import BlockHash, BlockNumber, ChainId
from ledger.store._sql import now_utc, upsert_statement
from ledger.store.records import BlockRecord, Checkpoint
from ledger.store.rows import (
    BlockRow,
    ChainStateRow,
    DisposalMatchRow,
    DisposalRow,
    IndexCheckpointRow,
    LedgerEventRow,
    LotMovementRow,
    LotRow,
    PriceRow,
)

DEFAULT_STREAM = "ledger"
"""The checkpoint stream of the main event sweep."""


def _block_record(row: BlockRow) -> BlockRecord:
    return BlockRecord(
        chain_id=ChainId(row.chain_id),
        number=BlockNumber(row.number),
        hash=BlockHash(row.hash),
        parent_hash=BlockHash(row.parent_hash),
        timestamp=row.timestamp,
    )


def put_blocks(session: Session, blocks: Iterable[BlockRecord]) -> None:
    """Store block headers; a block already stored at that number is overwritten.

    Raises:
        UnstorableValue: a naive timestamp.
        StoreError: the database refused the write.
    """
    values = [
        {
            "chain_id": b.chain_id,
            "number": b.number,
            "hash": b.hash,
            "parent_hash": b.parent_hash,
            "timestamp": b.timestamp,
        }
        for b in blocks
    ]
    if not values:
        return
    stmt = upsert_statement(session, BlockRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["chain_id", "number"],
        set_={
            "hash": stmt.excluded.hash,
            "parent_hash": stmt.excluded.parent_hash,
            "timestamp": stmt.excluded.timestamp,
        },
    )
    session.exec(stmt, params=values)


def get_block(session: Session, chain_id: ChainId, number: BlockNumber) -> BlockRecord | None:
    """The stored header at a height, or None."""
    row = session.get(BlockRow, (chain_id, number))
    return None if row is None else _block_record(row)


def latest_block(session: Session, chain_id: ChainId) -> BlockRecord | None:
    """The highest stored header of a chain, or None."""
    row = session.exec(
        select(BlockRow)
        .where(BlockRow.chain_id == chain_id)
        .order_by(col(BlockRow.number).desc())
        .limit(1)
    ).first()
    return None if row is None else _block_record(row)


def load_block_hashes(
    session: Session, chain_id: ChainId, from_block: BlockNumber, to_block: BlockNumber
) -> dict[BlockNumber, BlockHash]:
    """Stored hashes for heights `from_block`..`to_block` (inclusive); gaps are absent."""
    rows = session.exec(
        select(BlockRow.number, BlockRow.hash).where(
            BlockRow.chain_id == chain_id,
            col(BlockRow.number) >= from_block,
            col(BlockRow.number) <= to_block,
        )
    ).all()
    return {BlockNumber(number): BlockHash(hash_) for number, hash_ in rows}


def find_fork_point(
    session: Session, chain_id: ChainId, canonical: Mapping[BlockNumber, BlockHash]
) -> BlockNumber | None:
    """The highest height at which the stored hash equals the chain's (`canonical`).

    `canonical` maps heights to the node's current hashes (e.g. the last 64 blocks).
    Heights the store does not hold are ignored. None means no height agrees: the
    fork is deeper than the heights given (ask again with older ones).
    """
    if not canonical:
        return None
    stored = load_block_hashes(session, chain_id, min(canonical), max(canonical))
    agreeing = [
        n
        for n, h in canonical.items()
        if stored.get(n) is not None and stored[n].lower() == h.lower()
    ]
    return max(agreeing) if agreeing else None


def prune_blocks(session: Session, chain_id: ChainId, below: BlockNumber) -> int:
    """Forget headers below a height (older than any reorg can reach); returns the count.

    Raises:
        StoreError: the database refused the write.
    """
    result = session.exec(
        delete(BlockRow).where(col(BlockRow.chain_id) == chain_id, col(BlockRow.number) < below)
    )
    return int(result.rowcount)


def get_checkpoint(
    session: Session, chain_id: ChainId, stream: str = DEFAULT_STREAM
) -> Checkpoint | None:
    """How far `stream` has booked the chain, or None if it never has."""
    row = session.get(IndexCheckpointRow, (chain_id, stream))
    if row is None:
        return None
    return Checkpoint(
        chain_id=ChainId(row.chain_id),
        stream=row.stream,
        block_number=BlockNumber(row.block_number),
        block_hash=BlockHash(row.block_hash),
        updated_at=row.updated_at,
    )


def set_checkpoint(
    session: Session,
    chain_id: ChainId,
    block_number: BlockNumber,
    block_hash: BlockHash,
    stream: str = DEFAULT_STREAM,
    *,
    at: datetime | None = None,
) -> Checkpoint:
    """Record that `stream` has booked the chain up to and including `block_number`.

    Write it in the same `Store.transaction()` as the rows it covers.

    Raises:
        StoreError: the database refused the write.
    """
    when = at or now_utc()
    stmt = upsert_statement(session, IndexCheckpointRow).values(
        chain_id=chain_id,
        stream=stream,
        block_number=block_number,
        block_hash=block_hash,
        updated_at=when,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["chain_id", "stream"],
        set_={
            "block_number": stmt.excluded.block_number,
            "block_hash": stmt.excluded.block_hash,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    session.exec(stmt)
    return Checkpoint(chain_id, stream, block_number, block_hash, when)


@dataclass(frozen=True, slots=True)
class RollbackSummary:
    """How many rows of each kind a rollback deleted (or rewound)."""

    chain_id: ChainId
    to_block: BlockNumber
    events: int
    blocks: int
    prices: int
    lots: int
    lot_movements: int
    disposals: int
    checkpoints_rewound: int


def rollback_to_block(session: Session, chain_id: ChainId, block: BlockNumber) -> RollbackSummary:
    """Delete every row of a chain above `block` (events, blocks, prices, derived rows)
    and rewind checkpoints and chain head above it to `block`.

    Run it in its own `Store.transaction()` (or with the re-booking that follows): it
    either happens entirely or not at all. Derived lots below `block` may still reflect
    disposals that were deleted: re-derive (`replace_derived`) after a rollback.
    Proposals and executions are not touched.

    Raises:
        StoreError: the database refused the write.
    """
    events = session.exec(
        delete(LedgerEventRow).where(
            col(LedgerEventRow.chain_id) == chain_id, col(LedgerEventRow.block_number) > block
        )
    ).rowcount
    prices = session.exec(
        delete(PriceRow).where(
            col(PriceRow.chain_id) == chain_id, col(PriceRow.block_number) > block
        )
    ).rowcount
    doomed = select(DisposalRow.id).where(
        col(DisposalRow.chain_id) == chain_id, col(DisposalRow.block_number) > block
    )
    session.exec(delete(DisposalMatchRow).where(col(DisposalMatchRow.disposal_pk).in_(doomed)))
    disposals = session.exec(
        delete(DisposalRow).where(
            col(DisposalRow.chain_id) == chain_id, col(DisposalRow.block_number) > block
        )
    ).rowcount
    movements = session.exec(
        delete(LotMovementRow).where(
            col(LotMovementRow.chain_id) == chain_id, col(LotMovementRow.block_number) > block
        )
    ).rowcount
    lots = session.exec(
        delete(LotRow).where(col(LotRow.chain_id) == chain_id, col(LotRow.block_number) > block)
    ).rowcount
    blocks = session.exec(
        delete(BlockRow).where(col(BlockRow.chain_id) == chain_id, col(BlockRow.number) > block)
    ).rowcount
    kept = session.get(BlockRow, (chain_id, block))
    over = (col(IndexCheckpointRow.chain_id) == chain_id) & (
        col(IndexCheckpointRow.block_number) > block
    )
    if kept is not None:
        rewound = session.exec(
            update(IndexCheckpointRow)
            .where(over)
            .values(block_number=block, block_hash=kept.hash, updated_at=now_utc())
        ).rowcount
    else:
        # Without the header at `block` there is no hash to vouch for: start over there.
        rewound = session.exec(delete(IndexCheckpointRow).where(over)).rowcount
    session.exec(
        update(ChainStateRow)
        .where(
            col(ChainStateRow.chain_id) == chain_id, col(ChainStateRow.head_block_number) > block
        )
        .values(head_block_number=block, updated_at=now_utc())
    )
    session.exec(
        update(ChainStateRow)
        .where(
            col(ChainStateRow.chain_id) == chain_id, col(ChainStateRow.safe_block_number) > block
        )
        .values(safe_block_number=block)
    )
    session.expire_all()
    return RollbackSummary(
        chain_id=chain_id,
        to_block=block,
        events=int(events),
        blocks=int(blocks),
        prices=int(prices),
        lots=int(lots),
        lot_movements=int(movements),
        disposals=int(disposals),
        checkpoints_rewound=int(rewound),
    )


def count_blocks(session: Session, chain_id: ChainId) -> int:
    """How many headers are stored for a chain."""
    return int(
        session.exec(
            select(func.count()).select_from(BlockRow).where(BlockRow.chain_id == chain_id)
        ).one()
    )
