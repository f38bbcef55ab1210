"""Proposals: create once per fingerprint, read, list, move through their statuses.

"An equivalent proposal is already open" is enforced by the database: `active_fingerprint`
is UNIQUE and is set only while a proposal is open, approved or executing, so two
processes racing to propose the same trade cannot both succeed.
Synchronous; take the `Session` of a `Store.transaction()` or `Store.reader()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ledger.ids import Address, ChainId
from ledger.store._sql import now_utc
from ledger.store.errors import EquivalentProposalOpen, InvalidTransition, NotFound
from ledger.store.records import (
    ACTIVE_PROPOSAL_STATUSES,
    PROPOSAL_TRANSITIONS,
    ProposalRecord,
    ProposalStatus,
)
from ledger.store.rows import ProposalRow


def _record(row: ProposalRow) -> ProposalRecord:
    return ProposalRecord(
        id=row.id,
        kind=row.kind,
        status=ProposalStatus(row.status),
        fingerprint=row.fingerprint,
        chain_id=ChainId(row.chain_id),
        wallet=None if row.wallet is None else Address(row.wallet),
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        expected_short_term_gain_usd=row.expected_short_term_gain_usd,
        expected_long_term_gain_usd=row.expected_long_term_gain_usd,
        expected_exempt_gain_usd=row.expected_exempt_gain_usd,
        expected_tax_effect_usd=row.expected_tax_effect_usd,
        expected_cost_usd=row.expected_cost_usd,
        trade_count=row.trade_count,
        details=row.details,
        status_note=row.status_note,
    )


def _active(status: ProposalStatus, fingerprint: str) -> str | None:
    return fingerprint if status in ACTIVE_PROPOSAL_STATUSES else None


def find_open_proposal(session: Session, fingerprint: str) -> ProposalRecord | None:
    """The open, approved or executing proposal with this fingerprint, if any."""
    row = session.exec(
        select(ProposalRow).where(ProposalRow.active_fingerprint == fingerprint)
    ).one_or_none()
    return None if row is None else _record(row)


def create_proposal(session: Session, proposal: ProposalRecord) -> ProposalRecord:
    """Persist a new proposal, unless an equivalent one (same fingerprint) is active.

    Raises:
        EquivalentProposalOpen: an open/approved/executing proposal has the fingerprint.
        IntegrityViolation: a proposal with this id already exists.
        UnstorableValue: a float in `details` or a naive datetime.
        StoreError: the database refused the write.
    """
    status = ProposalStatus(proposal.status)
    active = _active(status, proposal.fingerprint)
    if active is not None:
        existing = find_open_proposal(session, active)
        if existing is not None:
            raise EquivalentProposalOpen(proposal.fingerprint, existing.id)
    row = ProposalRow(
        id=proposal.id,
        kind=proposal.kind,
        status=status.value,
        fingerprint=proposal.fingerprint,
        active_fingerprint=active,
        chain_id=proposal.chain_id,
        wallet=proposal.wallet,
        reason=proposal.reason,
        created_at=proposal.created_at,
        updated_at=proposal.updated_at,
        expires_at=proposal.expires_at,
        status_note=proposal.status_note,
        expected_short_term_gain_usd=proposal.expected_short_term_gain_usd,
        expected_long_term_gain_usd=proposal.expected_long_term_gain_usd,
        expected_exempt_gain_usd=proposal.expected_exempt_gain_usd,
        expected_tax_effect_usd=proposal.expected_tax_effect_usd,
        expected_cost_usd=proposal.expected_cost_usd,
        trade_count=proposal.trade_count,
        details=dict(proposal.details),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Lost a race with another writer between the check above and this insert.
        winner = find_open_proposal(session, active) if active is not None else None
        if winner is None:
            raise
        raise EquivalentProposalOpen(proposal.fingerprint, winner.id) from None
    session.refresh(row)
    return _record(row)


def get_proposal(session: Session, proposal_id: str) -> ProposalRecord:
    """One proposal by id.

    Raises:
        NotFound: no proposal has this id.
    """
    row = session.get(ProposalRow, proposal_id)
    if row is None:
        raise NotFound("proposal", proposal_id)
    return _record(row)


def list_proposals(
    session: Session,
    *,
    statuses: Iterable[ProposalStatus] | None = None,
    kind: str | None = None,
    chain_id: ChainId | None = None,
    limit: int | None = None,
) -> list[ProposalRecord]:
    """Proposals, oldest first, optionally filtered by status, kind and chain."""
    stmt = select(ProposalRow)
    if statuses is not None:
        stmt = stmt.where(col(ProposalRow.status).in_([ProposalStatus(s).value for s in statuses]))
    if kind is not None:
        stmt = stmt.where(ProposalRow.kind == kind)
    if chain_id is not None:
        stmt = stmt.where(ProposalRow.chain_id == chain_id)
    stmt = stmt.order_by(col(ProposalRow.created_at), col(ProposalRow.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_record(row) for row in session.exec(stmt).all()]


def update_proposal_status(
    session: Session,
    proposal_id: str,
    status: ProposalStatus,
    *,
    note: str | None = None,
    at: datetime | None = None,
) -> ProposalRecord:
    """Move a proposal to `status` if its state machine allows it (`PROPOSAL_TRANSITIONS`).

    The row is locked (SELECT ... FOR UPDATE on Postgres; SQLite write transactions are
    already exclusive), so two workers cannot both move it out of the same status.

    Raises:
        NotFound: no proposal has this id.
        InvalidTransition: the proposal's current status cannot go to `status`.
        StoreError: the database refused the write.
    """
    wanted = ProposalStatus(status)
    row = session.exec(
        select(ProposalRow).where(ProposalRow.id == proposal_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound("proposal", proposal_id)
    current = ProposalStatus(row.status)
    if wanted not in PROPOSAL_TRANSITIONS[current]:
        raise InvalidTransition("proposal", proposal_id, current.value, wanted.value)
    row.status = wanted.value
    row.active_fingerprint = _active(wanted, row.fingerprint)
    row.updated_at = at or now_utc()
    if note is not None:
        row.status_note = note
    session.add(row)
    session.flush()
    return _record(row)


def expire_proposals(session: Session, now: datetime | None = None) -> list[str]:
    """Mark open and approved proposals whose `expires_at` has passed as expired.

    Returns the ids expired, oldest first.

    Raises:
        StoreError: the database refused the write.
    """
    when = now or now_utc()
    rows = session.exec(
        select(ProposalRow)
        .where(
            col(ProposalRow.status).in_([ProposalStatus.OPEN.value, ProposalStatus.APPROVED.value]),
            col(ProposalRow.expires_at).is_not(None),
            col(ProposalRow.expires_at) <= when,
        )
        .order_by(col(ProposalRow.created_at), col(ProposalRow.id))
        .with_for_update()
    ).all()
    for row in rows:
        row.status = ProposalStatus.EXPIRED.value
        row.active_fingerprint = None
        row.updated_at = when
        session.add(row)
    session.flush()
    return [row.id for row in rows]
