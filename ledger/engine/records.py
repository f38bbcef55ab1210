"""The engine's working records: mutable, slotted, integer-valued, used only during replay,
and their conversion into the frozen public values of `ledger.engine.values`.

Values here are value units (see `ledger.engine.money`); days are proleptic Gregorian
ordinals of the UTC date; `ts` is microseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from ledger.engine.money import from_units
from ledger.engine.values import (
    Adjustment,
    Disposal,
    Holding,
    Lot,
    MatchedPiece,
    MatchRule,
    Removal,
    RemovedPiece,
    Term,
    Totals,
)

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DAY: Final = date(1970, 1, 1).toordinal()
US_PER_DAY: Final = 86_400_000_000
_ONE_US: Final = timedelta(microseconds=1)


def to_ts(moment: datetime) -> int:
    """Microseconds since the epoch of a timezone-aware datetime."""
    return (moment - EPOCH) // _ONE_US


def day_of(ts: int) -> int:
    """The ordinal of the UTC date of `ts`."""
    return EPOCH_DAY + ts // US_PER_DAY


@dataclass(frozen=True, slots=True)
class Prepared:
    """An event ready for replay: its timestamp, UTC day and position in replay order."""

    ts: int
    day: int
    event: object


class OpenLot:
    """A lot while the replay runs (amount and cost change as it is drawn on)."""

    __slots__ = (
        "acq_ts",
        "acquired",
        "adjustments",
        "amount",
        "asset",
        "cost",
        "deadline",
        "hp_start",
        "id",
        "origin",
        "replaced",
        "wallet",
    )

    def __init__(
        self,
        lot_id: str,
        origin: str,
        asset: str,
        wallet: str,
        amount: int,
        cost: int,
        acquired: datetime,
        acq_ts: int,
        hp_start: datetime,
        deadline: int,
        adjustments: tuple[Adjustment, ...] = (),
        replaced: bool = False,
    ) -> None:
        self.id = lot_id
        self.origin = origin
        self.asset = asset
        self.wallet = wallet
        self.amount = amount
        self.cost = cost
        self.acquired = acquired
        self.acq_ts = acq_ts
        self.hp_start = hp_start
        self.deadline = deadline
        self.adjustments = adjustments
        self.replaced = replaced

    def freeze(self, pooled: bool = False) -> Lot:
        """The public value of this lot."""
        return Lot(
            id=self.id,
            origin=self.origin,
            asset=self.asset,
            wallet=None if pooled else self.wallet,
            amount_raw=self.amount,
            cost=from_units(self.cost),
            acquired_at=self.acquired,
            holding_period_start=self.hp_start,
            adjustments=self.adjustments,
        )


class PieceRecord:
    """One matched piece while the replay runs (`disallowed` may still grow)."""

    __slots__ = (
        "acquired",
        "amount",
        "cost",
        "disallowed",
        "hp_start",
        "lot",
        "origin",
        "proceeds",
        "rule",
        "term",
    )

    def __init__(
        self,
        lot: str,
        origin: str | None,
        rule: MatchRule,
        amount: int,
        cost: int,
        proceeds: int,
        term: Term | None,
        acquired: datetime | None,
        hp_start: datetime | None,
    ) -> None:
        self.lot = lot
        self.origin = origin
        self.rule = rule
        self.amount = amount
        self.cost = cost
        self.proceeds = proceeds
        self.term = term
        self.disallowed = 0
        self.acquired = acquired
        self.hp_start = hp_start

    def freeze(self) -> MatchedPiece:
        """The public value of this piece."""
        return MatchedPiece(
            lot=self.lot,
            origin=self.origin,
            rule=self.rule,
            amount_raw=self.amount,
            cost=from_units(self.cost),
            proceeds=from_units(self.proceeds),
            gain=from_units(self.proceeds - self.cost),
            term=self.term,
            disallowed_loss=from_units(self.disallowed),
            acquired_at=self.acquired,
            holding_period_start=self.hp_start,
        )


class DisposalRecord:
    """One disposal while the replay runs."""

    __slots__ = ("amount", "asset", "day", "event_ids", "id", "pieces", "time", "ts", "wallet")

    def __init__(
        self,
        disposal_id: str,
        event_ids: tuple[str, ...],
        time: datetime,
        ts: int,
        day: int,
        asset: str,
        wallet: str | None,
        amount: int,
        pieces: list[PieceRecord],
    ) -> None:
        self.id = disposal_id
        self.event_ids = event_ids
        self.time = time
        self.ts = ts
        self.day = day
        self.asset = asset
        self.wallet = wallet
        self.amount = amount
        self.pieces = pieces

    def freeze(self) -> Disposal:
        """The public value of this disposal (sums are of the pieces, so they add up)."""
        pieces = self.pieces
        proceeds = cost = disallowed = 0
        terms: set[Term | None] = set()
        for piece in pieces:
            proceeds += piece.proceeds
            cost += piece.cost
            disallowed += piece.disallowed
            terms.add(piece.term)
        term = next(iter(terms)) if len(terms) == 1 else Term.MIXED
        gain = proceeds - cost
        return Disposal(
            id=self.id,
            event_ids=self.event_ids,
            time=self.time,
            asset=self.asset,
            wallet=self.wallet,
            amount_raw=self.amount,
            proceeds=from_units(proceeds),
            cost=from_units(cost),
            gain=from_units(gain),
            term=term,
            disallowed_loss=from_units(disallowed),
            reportable_gain=from_units(gain + disallowed),
            pieces=tuple(piece.freeze() for piece in pieces),
        )


class RemovalRecord:
    """One non-taxable removal while the replay runs."""

    __slots__ = ("amount", "asset", "id", "pieces", "time", "wallet")

    def __init__(
        self,
        removal_id: str,
        time: datetime,
        asset: str,
        wallet: str,
        amount: int,
        pieces: list[tuple[str, str | None, int, int]],
    ) -> None:
        self.id = removal_id
        self.time = time
        self.asset = asset
        self.wallet = wallet
        self.amount = amount
        self.pieces = pieces

    def freeze(self) -> Removal:
        """The public value of this removal."""
        return Removal(
            id=self.id,
            time=self.time,
            asset=self.asset,
            wallet=self.wallet,
            amount_raw=self.amount,
            cost=from_units(sum(cost for _, _, _, cost in self.pieces)),
            pieces=tuple(
                RemovedPiece(lot=lot, origin=origin, amount_raw=amount, cost=from_units(cost))
                for lot, origin, amount, cost in self.pieces
            ),
        )


def freeze_holding(asset: str, wallet: str | None, lots: Sequence[Lot]) -> Holding:
    """A holding from its frozen lots (amount and cost are their sums)."""
    amount = sum(lot.amount_raw for lot in lots)
    cost = sum((lot.cost for lot in lots), start=from_units(0))
    return Holding(asset=asset, wallet=wallet, amount_raw=amount, cost=cost, lots=tuple(lots))


def total_records(records: Sequence[DisposalRecord]) -> Totals:
    """Reportable gains by term, disallowed losses, and the net over everything."""
    by_term: dict[Term | None, int] = {Term.SHORT: 0, Term.LONG: 0, Term.EXEMPT: 0, None: 0}
    disallowed = 0
    for record in records:
        for piece in record.pieces:
            disallowed += piece.disallowed
            by_term[piece.term] += piece.proceeds - piece.cost + piece.disallowed
    return Totals(
        short_term_gain=from_units(by_term[Term.SHORT]),
        long_term_gain=from_units(by_term[Term.LONG]),
        exempt_gain=from_units(by_term[Term.EXEMPT]),
        disallowed_loss=from_units(disallowed),
        net_gain=from_units(sum(by_term.values())),
    )
