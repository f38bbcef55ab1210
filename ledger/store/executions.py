"""Executions and nonces: what the executor did with each trade, surviving restarts.

An execution is one attempt at sending one trade of a proposal; its state moves
pending → signed → sent → confirmed | failed | replaced (`EXECUTION_TRANSITIONS`). A stuck
transaction's replacement is a new attempt of the same trade. The nonce table keeps the
next nonce per (chain, sender) so a restarted executor never reuses or skips one.
Synchronous; take the `Session` of a `Store.transaction()`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from ledger.ids import Address, BlockNumber, ChainId, TxHash
from ledger.store._sql import now_utc, upsert_statement
from ledger.store.errors import InvalidTransition, NotFound
from ledger.store.records import (
    EXECUTION_TRANSITIONS,
    ExecutionRecord,
    ExecutionState,
    ExecutionUpdate,
    NewExecution,
)
from ledger.store.rows import ExecutionRow, NonceRow, ProposalRow

_BLOCKING_STATES = (ExecutionState.PENDING, ExecutionState.SIGNED, ExecutionState.CONFIRMED)
"""A new attempt of a trade is refused while another is pending, signed or confirmed (a
sent one may be replaced, so a new attempt is allowed alongside it)."""


def _record(row: ExecutionRow) -> ExecutionRecord:
    assert row.id is not None  # only flushed rows are turned into records
    return ExecutionRecord(
        id=row.id,
        proposal_id=row.proposal_id,
        trade_index=row.trade_index,
        attempt=row.attempt,
        state=ExecutionState(row.state),
        chain_id=ChainId(row.chain_id),
        from_address=Address(row.from_address),
        token_in=Address(row.token_in),
        token_out=Address(row.token_out),
        amount_in_raw=row.amount_in_raw,
        min_amount_out_raw=row.min_amount_out_raw,
        nonce=row.nonce,
        tx_hash=None if row.tx_hash is None else TxHash(row.tx_hash),
        raw_tx=row.raw_tx,
        max_fee_per_gas_wei=row.max_fee_per_gas_wei,
        max_priority_fee_per_gas_wei=row.max_priority_fee_per_gas_wei,
        amount_out_raw=row.amount_out_raw,
        gas_used=row.gas_used,
        effective_gas_price_wei=row.effective_gas_price_wei,
        effective_price=row.effective_price,
        block_number=None if row.block_number is None else BlockNumber(row.block_number),
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create_execution(
    session: Session, new: NewExecution, *, at: datetime | None = None
) -> ExecutionRecord:
    """Start a new attempt (state pending) of one trade of a proposal.

    Raises:
        NotFound: the proposal does not exist.
        InvalidTransition: another attempt of this trade is pending, signed or confirmed.
        StoreError: the database refused the write.
    """
    if session.get(ProposalRow, new.proposal_id) is None:
        raise NotFound("proposal", new.proposal_id)
    siblings = session.exec(
        select(ExecutionRow).where(
            ExecutionRow.proposal_id == new.proposal_id,
            ExecutionRow.trade_index == new.trade_index,
        )
    ).all()
    for other in siblings:
        if ExecutionState(other.state) in _BLOCKING_STATES:
            raise InvalidTransition(
                "execution",
                f"{new.proposal_id}#{new.trade_index}",
                f"attempt {other.attempt} {other.state}",
                "a new attempt",
            )
    attempt = max((other.attempt for other in siblings), default=0) + 1
    when = at or now_utc()
    row = ExecutionRow(
        proposal_id=new.proposal_id,
        trade_index=new.trade_index,
        attempt=attempt,
        state=ExecutionState.PENDING.value,
        chain_id=new.chain_id,
        from_address=new.from_address,
        token_in=new.token_in,
        token_out=new.token_out,
        amount_in_raw=new.amount_in_raw,
        min_amount_out_raw=new.min_amount_out_raw,
        created_at=when,
        updated_at=when,
    )
    session.add(row)
    session.flush()
    return _record(row)


def get_execution(session: Session, execution_id: int) -> ExecutionRecord:
    """One execution by id.

    Raises:
        NotFound: no execution has this id.
    """
    row = session.get(ExecutionRow, execution_id)
    if row is None:
        raise NotFound("execution", str(execution_id))
    return _record(row)


def list_executions(
    session: Session,
    *,
    proposal_id: str | None = None,
    states: tuple[ExecutionState, ...] | None = None,
) -> list[ExecutionRecord]:
    """Executions (of one proposal, or in some states), by proposal, trade and attempt.

    On start-up the executor lists `SIGNED` and `SENT` ones to resume them.
    """
    stmt = select(ExecutionRow)
    if proposal_id is not None:
        stmt = stmt.where(ExecutionRow.proposal_id == proposal_id)
    if states is not None:
        stmt = stmt.where(col(ExecutionRow.state).in_([ExecutionState(s).value for s in states]))
    stmt = stmt.order_by(
        col(ExecutionRow.proposal_id), col(ExecutionRow.trade_index), col(ExecutionRow.attempt)
    )
    return [_record(row) for row in session.exec(stmt).all()]


def advance_execution(
    session: Session,
    execution_id: int,
    state: ExecutionState,
    update: ExecutionUpdate | None = None,
    *,
    at: datetime | None = None,
) -> ExecutionRecord:
    """Move an execution to `state` (if allowed) and record what was learned.

    Fields of `update` that are None keep their stored values.

    Raises:
        NotFound: no execution has this id.
        InvalidTransition: the execution's current state cannot go to `state`.
        StoreError: the database refused the write.
    """
    wanted = ExecutionState(state)
    row = session.exec(
        select(ExecutionRow).where(ExecutionRow.id == execution_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound("execution", str(execution_id))
    current = ExecutionState(row.state)
    if wanted not in EXECUTION_TRANSITIONS[current]:
        raise InvalidTransition("execution", str(execution_id), current.value, wanted.value)
    row.state = wanted.value
    row.updated_at = at or now_utc()
    if update is not None:
        for name in ExecutionUpdate.__slots__:
            value = getattr(update, name)
            if value is not None:
                setattr(row, name, value)
    session.add(row)
    session.flush()
    return _record(row)


def get_next_nonce(session: Session, chain_id: ChainId, address: Address) -> int | None:
    """The next nonce stored for a sender, or None if the store has none yet."""
    row = session.get(NonceRow, (chain_id, address))
    return None if row is None else row.next_nonce


def reserve_nonce(session: Session, chain_id: ChainId, address: Address, chain_nonce: int) -> int:
    """Take the next nonce for a sender: max(stored, `chain_nonce`), then store it + 1.

    `chain_nonce` is the node's pending transaction count for the address. The row is
    locked for the rest of the transaction, so concurrent reservations serialise.

    Raises:
        StoreError: the database refused the write.
    """
    # Create the row if missing without disturbing an existing one, then lock it.
    insert = upsert_statement(session, NonceRow).values(
        chain_id=chain_id, address=address, next_nonce=chain_nonce, updated_at=now_utc()
    )
    session.exec(insert.on_conflict_do_nothing(index_elements=["chain_id", "address"]))
    row = session.exec(
        select(NonceRow)
        .where(NonceRow.chain_id == chain_id, NonceRow.address == address)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    nonce = max(row.next_nonce, chain_nonce)
    row.next_nonce = nonce + 1
    row.updated_at = now_utc()
    session.add(row)
    session.flush()
    return nonce


def set_next_nonce(session: Session, chain_id: ChainId, address: Address, next_nonce: int) -> None:
    """Overwrite the stored next nonce (resynchronising with the node after a reset).

    Raises:
        StoreError: the database refused the write.
    """
    stmt = upsert_statement(session, NonceRow).values(
        chain_id=chain_id, address=address, next_nonce=next_nonce, updated_at=now_utc()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["chain_id", "address"],
        set_={"next_nonce": stmt.excluded.next_nonce, "updated_at": stmt.excluded.updated_at},
    )
    session.exec(stmt)
    session.expire_all()


def count_attempts(session: Session, proposal_id: str, trade_index: int) -> int:
    """How many attempts of one trade exist."""
    return int(
        session.exec(
            select(func.count())
            .select_from(ExecutionRow)
            .where(ExecutionRow.proposal_id == proposal_id, ExecutionRow.trade_index == trade_index)
        ).one()
    )
