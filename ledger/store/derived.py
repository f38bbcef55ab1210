"""Derived rows: the lot engine's lots, lot movements and disposals, per chain.

They are a cache of the engine's output over the stored events: `replace_derived`
swaps a chain's whole set in one transaction (readers see the old set or the new one,
never a mix); `load_lots` / `load_disposals` read them back as frozen records.
Synchronous; take the `Session` of a `Store.transaction()` or `Store.reader()`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, delete, insert
from sqlmodel import Session, col, select

from ledger.ids import Address, BlockHash, BlockNumber, ChainId, LogIndex, TxHash
from ledger.store.records import (
    DerivedLedger,
    DisposalMatchRecord,
    DisposalRecord,
    DisposalTerm,
    LotAdjustment,
    LotMovementRecord,
    LotRecord,
    MovementKind,
    SourceRef,
)
from ledger.store.rows import DisposalMatchRow, DisposalRow, LotMovementRow, LotRow


def _source(row: LotRow | LotMovementRow | DisposalRow) -> SourceRef:
    return SourceRef(
        source_event=row.source_event,
        block_number=BlockNumber(row.block_number),
        block_hash=BlockHash(row.block_hash),
        tx_hash=TxHash(row.tx_hash),
        log_index=LogIndex(row.log_index),
    )


def _source_values(source: SourceRef) -> dict[str, object]:
    return {
        "source_event": source.source_event,
        "block_number": source.block_number,
        "block_hash": source.block_hash,
        "tx_hash": source.tx_hash,
        "log_index": source.log_index,
    }


def _wallet(value: str | None) -> Address | None:
    return None if value is None else Address(value)


def _term(value: str | None) -> DisposalTerm | None:
    return None if value is None else DisposalTerm(value)


def delete_derived(session: Session, chain_id: ChainId) -> None:
    """Delete a chain's derived rows (lots, movements, disposals and their matches).

    Raises:
        StoreError: the database refused the write.
    """
    chain_disposals = select(DisposalRow.id).where(col(DisposalRow.chain_id) == chain_id)
    session.exec(
        delete(DisposalMatchRow).where(col(DisposalMatchRow.disposal_pk).in_(chain_disposals))
    )
    session.exec(delete(DisposalRow).where(col(DisposalRow.chain_id) == chain_id))
    session.exec(delete(LotMovementRow).where(col(LotMovementRow.chain_id) == chain_id))
    session.exec(delete(LotRow).where(col(LotRow.chain_id) == chain_id))


def replace_derived(session: Session, chain_id: ChainId, derived: DerivedLedger) -> None:
    """Replace a chain's derived lots, movements and disposals with `derived`.

    Raises:
        IntegrityViolation: two lots (or disposals) share an id.
        UnstorableValue: a float value or a naive datetime.
        StoreError: the database refused the write.
    """
    delete_derived(session, chain_id)
    lot_values = [
        {
            "chain_id": chain_id,
            "lot_id": lot.lot_id,
            "wallet": lot.wallet,
            "asset": lot.asset,
            "amount_raw": lot.amount_raw,
            "cost_usd": lot.cost_usd,
            "remaining_raw": lot.remaining_raw,
            "remaining_cost_usd": lot.remaining_cost_usd,
            "acquired_at": lot.acquired_at,
            "holding_period_start": lot.holding_period_start,
            "adjustments": [
                {
                    "kind": a.kind,
                    "event_id": a.event_id,
                    "amount_usd": a.amount_usd,
                    "holding_days_added": a.holding_days_added,
                }
                for a in lot.adjustments
            ],
            **_source_values(lot.source),
        }
        for lot in derived.lots
    ]
    if lot_values:
        session.exec(insert(LotRow), params=lot_values)
    movement_values = [
        {
            "chain_id": chain_id,
            "movement_id": move.movement_id,
            "kind": MovementKind(move.kind).value,
            "lot_id": move.lot_id,
            "origin": move.origin,
            "new_lot_id": move.new_lot_id,
            "from_wallet": move.from_wallet,
            "to_wallet": move.to_wallet,
            "asset": move.asset,
            "amount_raw": move.amount_raw,
            "cost_usd": move.cost_usd,
            "moved_at": move.moved_at,
            **_source_values(move.source),
        }
        for move in derived.movements
    ]
    if movement_values:
        session.exec(insert(LotMovementRow), params=movement_values)
    if not derived.disposals:
        return
    disposal_values = [
        {
            "chain_id": chain_id,
            "disposal_id": d.disposal_id,
            "wallet": d.wallet,
            "asset": d.asset,
            "amount_raw": d.amount_raw,
            "disposed_at": d.disposed_at,
            "proceeds_usd": d.proceeds_usd,
            "cost_usd": d.cost_usd,
            "gain_usd": d.gain_usd,
            "term": None if d.term is None else DisposalTerm(d.term).value,
            "disallowed_loss_usd": d.disallowed_loss_usd,
            "reportable_gain_usd": d.reportable_gain_usd,
            "event_ids": list(d.event_ids),
            **_source_values(d.source),
        }
        for d in derived.disposals
    ]
    disposal_table = DisposalRow.__table__  # type: ignore[attr-defined]
    keys = session.exec(
        insert(DisposalRow).returning(disposal_table.c.id, sort_by_parameter_order=True),
        params=disposal_values,
    ).all()
    match_values = [
        {
            "disposal_pk": key[0],
            "position": position,
            "lot_id": match.lot_id,
            "origin": match.origin,
            "rule": match.rule,
            "amount_raw": match.amount_raw,
            "cost_usd": match.cost_usd,
            "proceeds_usd": match.proceeds_usd,
            "gain_usd": match.gain_usd,
            "term": None if match.term is None else DisposalTerm(match.term).value,
            "disallowed_loss_usd": match.disallowed_loss_usd,
            "acquired_at": match.acquired_at,
            "holding_period_start": match.holding_period_start,
        }
        for key, disposal in zip(keys, derived.disposals, strict=True)
        for position, match in enumerate(disposal.matches)
    ]
    if match_values:
        session.exec(insert(DisposalMatchRow), params=match_values)


def load_lots(
    session: Session,
    chain_id: ChainId,
    *,
    wallet: Address | None = None,
    asset: Address | None = None,
    open_only: bool = False,
) -> list[LotRecord]:
    """A chain's derived lots, ordered by acquisition time then lot id."""
    stmt = select(LotRow).where(LotRow.chain_id == chain_id)
    if wallet is not None:
        stmt = stmt.where(LotRow.wallet == wallet)
    if asset is not None:
        stmt = stmt.where(LotRow.asset == asset)
    rows = session.exec(stmt.order_by(col(LotRow.acquired_at), col(LotRow.lot_id))).all()
    lots = [
        LotRecord(
            lot_id=r.lot_id,
            wallet=_wallet(r.wallet),
            asset=Address(r.asset),
            amount_raw=r.amount_raw,
            cost_usd=r.cost_usd,
            remaining_raw=r.remaining_raw,
            remaining_cost_usd=r.remaining_cost_usd,
            acquired_at=r.acquired_at,
            holding_period_start=r.holding_period_start,
            source=_source(r),
            adjustments=tuple(
                LotAdjustment(
                    kind=str(a["kind"]),
                    event_id=str(a["event_id"]),
                    amount_usd=Decimal(str(a["amount_usd"])),
                    holding_days_added=int(a["holding_days_added"]),
                )
                for a in r.adjustments
            ),
        )
        for r in rows
    ]
    # U256 is TEXT on SQLite: filter remaining > 0 here, identically on both backends.
    return [lot for lot in lots if lot.remaining_raw > 0] if open_only else lots


def load_lot_movements(session: Session, chain_id: ChainId) -> list[LotMovementRecord]:
    """A chain's derived lot movements, in the order they happened."""
    rows = session.exec(
        select(LotMovementRow)
        .where(LotMovementRow.chain_id == chain_id)
        .order_by(col(LotMovementRow.moved_at), col(LotMovementRow.id))
    ).all()
    return [
        LotMovementRecord(
            movement_id=r.movement_id,
            kind=MovementKind(r.kind),
            lot_id=r.lot_id,
            origin=r.origin,
            new_lot_id=r.new_lot_id,
            from_wallet=_wallet(r.from_wallet),
            to_wallet=_wallet(r.to_wallet),
            asset=Address(r.asset),
            amount_raw=r.amount_raw,
            cost_usd=r.cost_usd,
            moved_at=r.moved_at,
            source=_source(r),
        )
        for r in rows
    ]


def load_disposals(
    session: Session,
    chain_id: ChainId,
    *,
    wallet: Address | None = None,
    asset: Address | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[DisposalRecord]:
    """A chain's derived disposals with their matched pieces, in time order.

    `since` is inclusive and `until` exclusive (a tax year is [Jan 1, next Jan 1)).
    """
    filters: list[ColumnElement[bool]] = [col(DisposalRow.chain_id) == chain_id]
    if wallet is not None:
        filters.append(col(DisposalRow.wallet) == wallet)
    if asset is not None:
        filters.append(col(DisposalRow.asset) == asset)
    if since is not None:
        filters.append(col(DisposalRow.disposed_at) >= since)
    if until is not None:
        filters.append(col(DisposalRow.disposed_at) < until)
    rows = session.exec(
        select(DisposalRow)
        .where(*filters)
        .order_by(col(DisposalRow.disposed_at), col(DisposalRow.id))
    ).all()
    matches: dict[int, list[DisposalMatchRecord]] = defaultdict(list)
    if rows:
        match_rows = session.exec(
            select(DisposalMatchRow)
            .join(DisposalRow, col(DisposalMatchRow.disposal_pk) == col(DisposalRow.id))
            .where(*filters)
            .order_by(col(DisposalMatchRow.disposal_pk), col(DisposalMatchRow.position))
        ).all()
        for m in match_rows:
            matches[m.disposal_pk].append(
                DisposalMatchRecord(
                    lot_id=m.lot_id,
                    origin=m.origin,
                    acquired_at=m.acquired_at,
                    holding_period_start=m.holding_period_start,
                    rule=m.rule,
                    amount_raw=m.amount_raw,
                    cost_usd=m.cost_usd,
                    proceeds_usd=m.proceeds_usd,
                    gain_usd=m.gain_usd,
                    term=_term(m.term),
                    disallowed_loss_usd=m.disallowed_loss_usd,
                )
            )
    return [
        DisposalRecord(
            disposal_id=r.disposal_id,
            wallet=_wallet(r.wallet),
            asset=Address(r.asset),
            amount_raw=r.amount_raw,
            disposed_at=r.disposed_at,
            proceeds_usd=r.proceeds_usd,
            cost_usd=r.cost_usd,
            gain_usd=r.gain_usd,
            term=_term(r.term),
            disallowed_loss_usd=r.disallowed_loss_usd,
            reportable_gain_usd=r.reportable_gain_usd,
            source=_source(r),
            matches=tuple(matches.get(r.id or 0, ())),
            event_ids=tuple(str(e) for e in r.event_ids),
        )
        for r in rows
    ]
