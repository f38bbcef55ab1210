"""Ledger events in the store: idempotent booking, loading in chain order, re-labelling.

An event's identity is (chain id, tx hash, log index, leg, wallet) — the UNIQUE key of
`ledger_event` — so booking the same events twice inserts nothing the second time.
Synchronous; take the `Session` of a `Store.transaction()`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from ledger.events import ChainRef, EventKind, Label, LedgerEvent, SwapAudit
from ledger.ids import Address, BlockHash, BlockNumber, ChainId, LogIndex, TxHash
from ledger.store._sql import upsert_statement
from ledger.store.errors import NotFound
from ledger.store.rows import LedgerEventRow

_IDENTITY = ["chain_id", "tx_hash", "log_index", "leg", "wallet"]
_WINDOW_GAP = 1_000
"""Blocks of a batch further apart than this are looked up in separate ranges."""


def _event_values(event: LedgerEvent) -> dict[str, Any]:
    ref = event.ref
    swap = event.swap
    return {
        "chain_id": ref.chain_id,
        "block_number": ref.block_number,
        "block_hash": ref.block_hash,
        "tx_hash": ref.tx_hash,
        "log_index": ref.log_index,
        "leg": event.leg,
        "timestamp": event.timestamp,
        "kind": EventKind(event.kind).value,
        "wallet": event.wallet,
        "asset": event.asset,
        "amount_raw": event.amount_raw,
        "value_usd": event.value_usd,
        "fee_usd": event.fee_usd,
        "counterparty": event.counterparty,
        "group_key": event.group,
        "needs_review": event.needs_review,
        "price_missing": event.price_missing,
        "label": Label(event.label).value,
        "swap_protocol": None if swap is None else swap.protocol,
        "swap_pool": None if swap is None else swap.pool,
        "swap_token_in": None if swap is None else swap.token_in,
        "swap_token_out": None if swap is None else swap.token_out,
        "swap_amount_in_raw": None if swap is None else swap.amount_in_raw,
        "swap_amount_out_raw": None if swap is None else swap.amount_out_raw,
    }


def event_from_row(row: LedgerEventRow | Row[Any]) -> LedgerEvent:
    """The `LedgerEvent` a stored row (ORM row or Core row) holds, exactly as booked."""
    swap = None
    if row.swap_protocol is not None:
        swap = SwapAudit(
            protocol=row.swap_protocol,
            pool=Address(row.swap_pool or ""),
            token_in=Address(row.swap_token_in or ""),
            token_out=Address(row.swap_token_out or ""),
            amount_in_raw=row.swap_amount_in_raw or 0,
            amount_out_raw=row.swap_amount_out_raw or 0,
        )
    return LedgerEvent(
        ref=ChainRef(
            chain_id=ChainId(row.chain_id),
            block_number=BlockNumber(row.block_number),
            block_hash=BlockHash(row.block_hash),
            tx_hash=TxHash(row.tx_hash),
            log_index=LogIndex(row.log_index),
        ),
        leg=row.leg,
        timestamp=row.timestamp,
        kind=EventKind(row.kind),
        wallet=Address(row.wallet),
        asset=Address(row.asset),
        amount_raw=row.amount_raw,
        value_usd=row.value_usd,
        fee_usd=row.fee_usd,
        counterparty=None if row.counterparty is None else Address(row.counterparty),
        group=row.group_key,
        needs_review=row.needs_review,
        price_missing=row.price_missing,
        label=Label(row.label),
        swap=swap,
    )


def add_events(session: Session, events: Iterable[LedgerEvent]) -> int:
    """Book ledger events; ones already stored (same identity) are skipped.

    Returns how many were new: the batch is checked against the identities stored in
    its block range (an indexed range scan; far-apart blocks get separate ranges), then
    inserted with one executemany of INSERT ... ON CONFLICT DO NOTHING, so a concurrent
    duplicate (or the same transaction stored at another height) is still stored once;
    in those rare races the count is an upper bound.

    Raises:
        UnstorableValue: an amount out of range, a naive timestamp, a float value.
        StoreError: the database refused the write.
    """
    fresh: dict[tuple[int, str, int, int, str], dict[str, Any]] = {}
    for event in events:
        values = _event_values(event)
        fresh.setdefault(_identity(values), values)
    blocks_by_chain: dict[int, set[int]] = defaultdict(set)
    for values in fresh.values():
        blocks_by_chain[values["chain_id"]].add(values["block_number"])
    for chain_id, block_numbers in blocks_by_chain.items():
        for first, last in _windows(sorted(block_numbers)):
            stored = session.exec(
                select(
                    LedgerEventRow.tx_hash,
                    LedgerEventRow.log_index,
                    LedgerEventRow.leg,
                    LedgerEventRow.wallet,
                ).where(
                    LedgerEventRow.chain_id == chain_id,
                    col(LedgerEventRow.block_number) >= first,
                    col(LedgerEventRow.block_number) <= last,
                )
            ).all()
            for tx, log_index, leg, wallet in stored:
                fresh.pop((chain_id, tx, log_index, leg, wallet), None)
    if not fresh:
        return 0
    # Still ON CONFLICT DO NOTHING: a concurrent writer may have booked some meanwhile
    # (then the count is an upper bound, the rows are still stored once). A plain
    # executemany is several times faster on psycopg than INSERT ... RETURNING pages.
    stmt = upsert_statement(session, LedgerEventRow).on_conflict_do_nothing(
        index_elements=_IDENTITY
    )
    session.exec(stmt, params=list(fresh.values()))
    return len(fresh)


def _windows(block_numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted block numbers as (first, last) ranges split wherever a gap exceeds
    `_WINDOW_GAP`, so a lookup reads only the stored rows near the batch."""
    windows: list[tuple[int, int]] = []
    for number in block_numbers:
        if windows and number - windows[-1][1] <= _WINDOW_GAP:
            windows[-1] = (windows[-1][0], number)
        else:
            windows.append((number, number))
    return windows


def _identity(values: dict[str, Any]) -> tuple[int, str, int, int, str]:
    return (
        values["chain_id"],
        values["tx_hash"],
        values["log_index"],
        values["leg"],
        values["wallet"],
    )


def load_events(
    session: Session,
    chain_id: ChainId,
    *,
    wallet: Address | None = None,
    asset: Address | None = None,
    from_block: BlockNumber | None = None,
    to_block: BlockNumber | None = None,
    needs_review: bool | None = None,
) -> list[LedgerEvent]:
    """A chain's events (optionally filtered), in a stable chain order.

    Order: block number, log index, tx hash, leg, wallet — a total order on the event
    identity, identical on both backends. Transaction-level events (log index -1: gas,
    native transfers) sort before the block's logs, since no transaction index is kept.
    `from_block` and `to_block` are inclusive.
    """
    # Core rows, not ORM objects: the same column types, several times cheaper per row.
    table = LedgerEventRow.__table__  # type: ignore[attr-defined]
    c = table.c
    stmt = sa_select(table).where(c.chain_id == chain_id)
    if wallet is not None:
        stmt = stmt.where(c.wallet == wallet)
    if asset is not None:
        stmt = stmt.where(c.asset == asset)
    if from_block is not None:
        stmt = stmt.where(c.block_number >= from_block)
    if to_block is not None:
        stmt = stmt.where(c.block_number <= to_block)
    if needs_review is not None:
        stmt = stmt.where(c.needs_review == needs_review)
    stmt = stmt.order_by(c.block_number, c.log_index, c.tx_hash, c.leg, c.wallet)
    return [event_from_row(row) for row in session.connection().execute(stmt).all()]


def count_events(session: Session, chain_id: ChainId) -> int:
    """How many events are stored for a chain."""
    stmt = (
        select(func.count()).select_from(LedgerEventRow).where(LedgerEventRow.chain_id == chain_id)
    )
    return int(session.exec(stmt).one())


def _find_row(session: Session, ref: ChainRef, leg: int, wallet: Address) -> LedgerEventRow:
    row = session.exec(
        select(LedgerEventRow).where(
            LedgerEventRow.chain_id == ref.chain_id,
            LedgerEventRow.tx_hash == ref.tx_hash,
            LedgerEventRow.log_index == ref.log_index,
            LedgerEventRow.leg == leg,
            LedgerEventRow.wallet == wallet,
        )
    ).one_or_none()
    if row is None:
        raise NotFound(
            "ledger event",
            f"chain {ref.chain_id} tx {ref.tx_hash} log {ref.log_index} leg {leg} wallet {wallet}",
        )
    return row


def set_event_value(
    session: Session, ref: ChainRef, leg: int, wallet: Address, value_usd: Decimal
) -> LedgerEvent:
    """Give a booked event the market value found later (clears `price_missing`).

    Raises:
        NotFound: no stored event has that identity.
        UnstorableValue: a float or non-finite value.
        StoreError: the database refused the write.
    """
    row = _find_row(session, ref, leg, wallet)
    row.value_usd = value_usd
    row.price_missing = False
    session.add(row)
    session.flush()
    return event_from_row(row)


def relabel_event(
    session: Session, ref: ChainRef, leg: int, wallet: Address, label: Label
) -> LedgerEvent:
    """Set the user's label on one event; any label but UNREVIEWED clears needs_review.

    Raises:
        NotFound: no stored event has that identity.
        StoreError: the database refused the write.
    """
    row = _find_row(session, ref, leg, wallet)
    row.label = Label(label).value
    if Label(label) is not Label.UNREVIEWED:
        row.needs_review = False
    session.add(row)
    session.flush()
    return event_from_row(row)
