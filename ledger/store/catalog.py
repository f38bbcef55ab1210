"""Chains, chain state, wallets and assets: what the ledger is about.

Synchronous; take the `Session` of a `Store.transaction()` (async callers wrap the whole
transaction in `asyncio.to_thread`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from ledger.ids import Address, BlockNumber, ChainId
from ledger.store._sql import now_utc, upsert_statement
from ledger.store.records import AssetRecord, ChainStateRecord, WalletRecord
from ledger.store.rows import AssetRow, ChainRow, ChainStateRow, WalletRow


def upsert_chain(session: Session, chain_id: ChainId, name: str, native_symbol: str) -> None:
    """Register a chain, or update its name and native symbol.

    Raises:
        StoreError: the database refused the write (raised when the transaction ends).
    """
    stmt = upsert_statement(session, ChainRow).values(
        chain_id=chain_id, name=name, native_symbol=native_symbol, created_at=now_utc()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["chain_id"],
        set_={"name": stmt.excluded.name, "native_symbol": stmt.excluded.native_symbol},
    )
    session.exec(stmt)


def list_chain_ids(session: Session) -> list[ChainId]:
    """Every registered chain id, ascending."""
    return [
        ChainId(row)
        for row in session.exec(select(ChainRow.chain_id).order_by(col(ChainRow.chain_id)))
    ]


def set_chain_state(
    session: Session,
    chain_id: ChainId,
    head_block_number: BlockNumber,
    safe_block_number: BlockNumber | None = None,
    *,
    at: datetime | None = None,
) -> ChainStateRecord:
    """Record the chain head (and safe block) the indexer last saw.

    Raises:
        StoreError: the database refused the write.
    """
    when = at or now_utc()
    stmt = upsert_statement(session, ChainStateRow).values(
        chain_id=chain_id,
        head_block_number=head_block_number,
        safe_block_number=safe_block_number,
        updated_at=when,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["chain_id"],
        set_={
            "head_block_number": stmt.excluded.head_block_number,
            "safe_block_number": stmt.excluded.safe_block_number,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    session.exec(stmt)
    return ChainStateRecord(chain_id, head_block_number, safe_block_number, when)


def get_chain_state(session: Session, chain_id: ChainId) -> ChainStateRecord | None:
    """The last head/safe block recorded for a chain, or None."""
    row = session.get(ChainStateRow, chain_id)
    if row is None:
        return None
    return ChainStateRecord(
        ChainId(row.chain_id),
        BlockNumber(row.head_block_number),
        None if row.safe_block_number is None else BlockNumber(row.safe_block_number),
        row.updated_at,
    )


def upsert_wallets(session: Session, wallets: Iterable[WalletRecord]) -> None:
    """Register owned wallets, or update their labels.

    Raises:
        StoreError: the database refused the write.
    """
    values = [{"address": w.address, "label": w.label, "created_at": now_utc()} for w in wallets]
    if not values:
        return
    stmt = upsert_statement(session, WalletRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["address"], set_={"label": stmt.excluded.label}
    )
    session.exec(stmt, params=values)


def list_wallets(session: Session) -> list[WalletRecord]:
    """Every owned wallet, by address."""
    rows = session.exec(select(WalletRow).order_by(WalletRow.address)).all()
    return [WalletRecord(Address(r.address), r.label) for r in rows]


def upsert_assets(session: Session, assets: Iterable[AssetRecord]) -> None:
    """Register assets, or update their symbol, decimals and flags.

    Raises:
        StoreError: the database refused the write.
    """
    values = [
        {
            "chain_id": a.chain_id,
            "address": a.address,
            "symbol": a.symbol,
            "decimals": a.decimals,
            "is_spam": a.is_spam,
            "is_unpriceable": a.is_unpriceable,
            "is_hostile": a.is_hostile,
            "updated_at": now_utc(),
        }
        for a in assets
    ]
    if not values:
        return
    stmt = upsert_statement(session, AssetRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["chain_id", "address"],
        set_={
            name: getattr(stmt.excluded, name)
            for name in (
                "symbol",
                "decimals",
                "is_spam",
                "is_unpriceable",
                "is_hostile",
                "updated_at",
            )
        },
    )
    session.exec(stmt, params=values)


def _asset_record(row: AssetRow) -> AssetRecord:
    return AssetRecord(
        chain_id=ChainId(row.chain_id),
        address=Address(row.address),
        symbol=row.symbol,
        decimals=row.decimals,
        is_spam=row.is_spam,
        is_unpriceable=row.is_unpriceable,
        is_hostile=row.is_hostile,
    )


def get_asset(session: Session, chain_id: ChainId, address: Address) -> AssetRecord | None:
    """One asset, or None if it was never registered."""
    row = session.get(AssetRow, (chain_id, address))
    return None if row is None else _asset_record(row)


def list_assets(session: Session, chain_id: ChainId) -> list[AssetRecord]:
    """Every asset registered on a chain, by address."""
    rows = session.exec(
        select(AssetRow).where(AssetRow.chain_id == chain_id).order_by(AssetRow.address)
    ).all()
    return [_asset_record(r) for r in rows]
