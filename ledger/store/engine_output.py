"""The lot engine's output as store records: `LedgerResult` → `DerivedLedger`.

The engine names events by string ids; the store traces every derived row to the chain.
`event_id(event)` is the id convention for ledger events (use it when converting
`LedgerEvent`s to engine `LotEvent`s), `sources_for(events)` maps those ids back to chain
positions, and `derived_from_result(result, sources)` builds what `replace_derived`
stores: the open lots (`remaining_raw == amount_raw`: the engine reports what is left),
the disposals with their matched pieces, and non-taxable removals as movements.
Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ledger.engine import Disposal, LedgerResult, Lot, Removal
from ledger.events import LedgerEvent
from ledger.ids import Address
from ledger.store.errors import NotFound
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


def event_id(event: LedgerEvent) -> str:
    """The engine event id of a ledger event: `chain:tx:log:leg:wallet` (unique, stable)."""
    ref = event.ref
    return f"{ref.chain_id}:{ref.tx_hash}:{ref.log_index}:{event.leg}:{event.wallet}"


def sources_for(events: Iterable[LedgerEvent]) -> dict[str, SourceRef]:
    """Chain positions of ledger events, keyed by `event_id`."""
    out: dict[str, SourceRef] = {}
    for event in events:
        key = event_id(event)
        ref = event.ref
        out[key] = SourceRef(key, ref.block_number, ref.block_hash, ref.tx_hash, ref.log_index)
    return out


def _source(sources: Mapping[str, SourceRef], key: str) -> SourceRef:
    try:
        return sources[key]
    except KeyError:
        raise NotFound("engine event", key) from None


def _term(term: object) -> DisposalTerm | None:
    return None if term is None else DisposalTerm(str(term))


def lot_record(lot: Lot, sources: Mapping[str, SourceRef]) -> LotRecord:
    """One open engine lot as a `LotRecord`.

    Raises:
        NotFound: the lot's origin event is not in `sources`.
    """
    return LotRecord(
        lot_id=lot.id,
        wallet=None if lot.wallet is None else Address(lot.wallet),
        asset=Address(lot.asset),
        amount_raw=lot.amount_raw,
        cost_usd=lot.cost,
        remaining_raw=lot.amount_raw,
        remaining_cost_usd=lot.cost,
        acquired_at=lot.acquired_at,
        holding_period_start=lot.holding_period_start,
        source=_source(sources, lot.origin),
        adjustments=tuple(
            LotAdjustment(str(a.kind), a.event_id, a.amount, a.holding_days_added)
            for a in lot.adjustments
        ),
    )


def disposal_record(disposal: Disposal, sources: Mapping[str, SourceRef]) -> DisposalRecord:
    """One engine disposal (with its pieces) as a `DisposalRecord`.

    Raises:
        NotFound: its first event is not in `sources`.
    """
    first = disposal.event_ids[0] if disposal.event_ids else disposal.id
    return DisposalRecord(
        disposal_id=disposal.id,
        wallet=None if disposal.wallet is None else Address(disposal.wallet),
        asset=Address(disposal.asset),
        amount_raw=disposal.amount_raw,
        disposed_at=disposal.time,
        proceeds_usd=disposal.proceeds,
        cost_usd=disposal.cost,
        gain_usd=disposal.gain,
        term=_term(disposal.term),
        disallowed_loss_usd=disposal.disallowed_loss,
        reportable_gain_usd=disposal.reportable_gain,
        source=_source(sources, first),
        matches=tuple(
            DisposalMatchRecord(
                lot_id=piece.lot,
                rule=str(piece.rule),
                amount_raw=piece.amount_raw,
                cost_usd=piece.cost,
                proceeds_usd=piece.proceeds,
                gain_usd=piece.gain,
                term=_term(piece.term),
                disallowed_loss_usd=piece.disallowed_loss,
                origin=piece.origin,
                acquired_at=piece.acquired_at,
                holding_period_start=piece.holding_period_start,
            )
            for piece in disposal.pieces
        ),
        event_ids=tuple(disposal.event_ids),
    )


def removal_records(
    removal: Removal, sources: Mapping[str, SourceRef]
) -> tuple[LotMovementRecord, ...]:
    """One non-taxable removal as one `LotMovementRecord` per lot piece.

    Raises:
        NotFound: the removal's event is not in `sources`.
    """
    source = _source(sources, removal.id)
    return tuple(
        LotMovementRecord(
            movement_id=removal.id,
            kind=MovementKind.REMOVAL,
            lot_id=piece.lot,
            origin=piece.origin,
            new_lot_id=None,
            from_wallet=Address(removal.wallet),
            to_wallet=None,
            asset=Address(removal.asset),
            amount_raw=piece.amount_raw,
            cost_usd=piece.cost,
            moved_at=removal.time,
            source=source,
        )
        for piece in removal.pieces
    )


def derived_from_result(result: LedgerResult, sources: Mapping[str, SourceRef]) -> DerivedLedger:
    """Everything a replay derived, as the records `replace_derived` stores.

    Raises:
        NotFound: an event id the result names is not in `sources`.
    """
    return DerivedLedger(
        lots=tuple(lot_record(lot, sources) for lot in result.lots),
        movements=tuple(m for r in result.removals for m in removal_records(r, sources)),
        disposals=tuple(disposal_record(d, sources) for d in result.disposals),
    )
