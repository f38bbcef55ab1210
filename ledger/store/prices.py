"""The price cache: a USD price per (chain, asset, block, source), or a 'missing' marker.

Prices are per whole token (not per raw unit). A miss is cached as a `PricePoint` whose
`price_usd` is None, so the indexer does not ask again on every pass.
Synchronous; take the `Session` of a `Store.transaction()` or `Store.reader()`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from ledger.ids import Address, BlockNumber, ChainId
from ledger.store._sql import now_utc, upsert_statement
from ledger.store.records import PricePoint
from ledger.store.rows import PriceRow


def _point(row: PriceRow) -> PricePoint:
    return PricePoint(
        chain_id=ChainId(row.chain_id),
        asset=Address(row.asset),
        block_number=BlockNumber(row.block_number),
        price_usd=None if row.missing else row.price_usd,
        source=row.source,
    )


def put_prices(session: Session, points: Iterable[PricePoint]) -> None:
    """Cache prices (or misses); a point already cached for the same key is overwritten.

    Raises:
        UnstorableValue: a float or non-finite price.
        StoreError: the database refused the write.
    """
    values = [
        {
            "chain_id": p.chain_id,
            "asset": p.asset,
            "block_number": p.block_number,
            "price_usd": p.price_usd,
            "source": p.source,
            "missing": p.price_usd is None,
            "recorded_at": now_utc(),
        }
        for p in points
    ]
    if not values:
        return
    stmt = upsert_statement(session, PriceRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["chain_id", "asset", "block_number", "source"],
        set_={
            "price_usd": stmt.excluded.price_usd,
            "missing": stmt.excluded.missing,
            "recorded_at": stmt.excluded.recorded_at,
        },
    )
    session.exec(stmt, params=values)


def get_price(
    session: Session,
    chain_id: ChainId,
    asset: Address,
    block_number: BlockNumber,
    source: str | None = None,
) -> PricePoint | None:
    """The cached price at exactly this block (from `source`, or from any source,
    preferring a real price to a miss), or None if nothing is cached."""
    stmt = select(PriceRow).where(
        PriceRow.chain_id == chain_id,
        PriceRow.asset == asset,
        PriceRow.block_number == block_number,
    )
    if source is not None:
        stmt = stmt.where(PriceRow.source == source)
    rows = session.exec(stmt.order_by(col(PriceRow.missing), col(PriceRow.source))).all()
    return _point(rows[0]) if rows else None


def find_latest_price(
    session: Session,
    chain_id: ChainId,
    asset: Address,
    at_or_before: BlockNumber,
    *,
    not_before: BlockNumber | None = None,
    source: str | None = None,
) -> PricePoint | None:
    """The most recent real (non-missing) price at or before a block, optionally no
    older than `not_before` — e.g. the last pool `Sync` before a transfer."""
    stmt = select(PriceRow).where(
        PriceRow.chain_id == chain_id,
        PriceRow.asset == asset,
        col(PriceRow.block_number) <= at_or_before,
        col(PriceRow.missing).is_(False),
    )
    if not_before is not None:
        stmt = stmt.where(col(PriceRow.block_number) >= not_before)
    if source is not None:
        stmt = stmt.where(PriceRow.source == source)
    row = session.exec(
        stmt.order_by(col(PriceRow.block_number).desc(), col(PriceRow.source)).limit(1)
    ).first()
    return None if row is None else _point(row)
