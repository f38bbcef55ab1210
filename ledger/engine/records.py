"""The engine's working records: mutable, slotted, integer-valued, used only during replay,
and their conversion into the frozen public values of `ledger.engine.values`.

Values here are value units (see `ledger.engine.money`); times are UTC datetimes and days
the proleptic Gregorian ordinals of their dates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Final, TypeVar

from ledger.engine.money import exact_sum, from_units
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

_T = TypeVar("_T")


def _builder(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen, slotted dataclass: the same object
    `cls(*values)` makes (none of ours has `__post_init__`), at a fraction of the cost of
    the frozen `__init__`'s per-field `object.__setattr__`.

    The object is made as an instance of a mutable twin with the very same slots, filled
    by plain attribute stores, then given its real class (`__class__` assignment, which
    Python allows between classes of identical layout); from then on it is frozen like
    any other. Where the layouts differ the twin is refused at once, and the slots are
    then filled through the class's own slot descriptors instead (slower, same object).
    The body is generated, one line per field, the way `dataclasses` generates `__init__`.
    Used only here, for the many values a replay emits; every field must be given.
    """
    names = [field.name for field in fields(cls)]  # type: ignore[arg-type]
    twin = type(f"_Mutable{cls.__name__}", (), {"__slots__": cls.__dict__["__slots__"]})
    namespace: dict[str, object] = {"_new": object.__new__, "_cls": cls, "_twin": twin}
    lines = [f"def build({', '.join(names)}):"]
    try:
        probe: object = object.__new__(twin)
        probe.__class__ = cls
    except TypeError:  # not the same layout after all
        lines.append("    obj = _new(_cls)")
        for name in names:
            namespace[f"_set_{name}"] = getattr(cls, name).__set__
            lines.append(f"    _set_{name}(obj, {name})")
    else:
        lines.append("    obj = _new(_twin)")
        lines.extend(f"    obj.{name} = {name}" for name in names)
        lines.append("    obj.__class__ = _cls")
    lines.append("    return obj")
    exec("\n".join(lines), namespace)
    build = namespace["build"]
    assert callable(build)
    return build


_new_piece = _builder(MatchedPiece)
_new_disposal = _builder(Disposal)
_new_lot = _builder(Lot)

build_piece: Final = _new_piece
"""`MatchedPiece(*fields)` for the replay's hot loops (positional, every field given)."""
build_disposal: Final = _new_disposal
"""`Disposal(*fields)` for the replay's hot loops (positional, every field given)."""

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DAY: Final = date(1970, 1, 1).toordinal()
US_PER_DAY: Final = 86_400_000_000
_ONE_US: Final = timedelta(microseconds=1)


def to_ts(moment: datetime) -> int:
    """Microseconds since the epoch of a timezone-aware datetime.

    Raises:
        Nothing.
    """
    return (moment - EPOCH) // _ONE_US


class OpenLot:
    """A lot while the replay runs (amount and cost change as it is drawn on)."""

    __slots__ = (
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
        self.hp_start = hp_start
        self.deadline = deadline
        self.adjustments = adjustments
        self.replaced = replaced

    def freeze(self, pooled: bool = False) -> Lot:
        """The public value of this lot.

        Raises:
            Nothing.
        """
        return _new_lot(
            self.id,
            self.origin,
            self.asset,
            None if pooled else self.wallet,
            self.amount,
            from_units(self.cost),
            self.acquired,
            self.hp_start,
            self.adjustments,
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
        """The public value of this piece.

        Raises:
            Nothing.
        """
        return _new_piece(
            self.lot,
            self.origin,
            self.rule,
            self.amount,
            from_units(self.cost),
            from_units(self.proceeds),
            self.term,
            from_units(self.disallowed),
            self.acquired,
            self.hp_start,
        )


class DisposalRecord:
    """One disposal while the replay runs."""

    __slots__ = ("amount", "asset", "day", "event_ids", "id", "pieces", "time", "wallet")

    def __init__(
        self,
        disposal_id: str,
        event_ids: tuple[str, ...],
        time: datetime,
        day: int,
        asset: str,
        wallet: str | None,
        amount: int,
        pieces: list[PieceRecord],
    ) -> None:
        self.id = disposal_id
        self.event_ids = event_ids
        self.time = time
        self.day = day
        self.asset = asset
        self.wallet = wallet
        self.amount = amount
        self.pieces = pieces

    def freeze(self) -> Disposal:
        """The public value of this disposal (its sums are the pieces' sums, so they add up).

        Raises:
            Nothing.
        """
        pieces = tuple([piece.freeze() for piece in self.pieces])
        if len(pieces) == 1:
            only = pieces[0]
            return _new_disposal(
                self.id,
                self.event_ids,
                self.time,
                self.asset,
                self.wallet,
                self.amount,
                only.proceeds,
                only.cost,
                only.term,
                only.disallowed_loss,
                pieces,
            )
        proceeds = cost = disallowed = 0
        terms: set[Term | None] = set()
        for piece in self.pieces:
            proceeds += piece.proceeds
            cost += piece.cost
            disallowed += piece.disallowed
            terms.add(piece.term)
        return _new_disposal(
            self.id,
            self.event_ids,
            self.time,
            self.asset,
            self.wallet,
            self.amount,
            from_units(proceeds),
            from_units(cost),
            next(iter(terms)) if len(terms) == 1 else Term.MIXED,
            from_units(disallowed),
            pieces,
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
        """The public value of this removal.

        Raises:
            Nothing.
        """
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
    """A holding from its frozen lots (amount and cost are their sums).

    Raises:
        Nothing.
    """
    amount = sum(lot.amount_raw for lot in lots)
    cost = exact_sum(lot.cost for lot in lots)
    return Holding(asset=asset, wallet=wallet, amount_raw=amount, cost=cost, lots=tuple(lots))


def total_records(records: Sequence[DisposalRecord]) -> Totals:
    """Reportable gains by term, disallowed losses, and the net over everything.

    Raises:
        Nothing.
    """
    by_term: dict[Term | None, int] = {Term.SHORT: 0, Term.LONG: 0, Term.EXEMPT: 0, None: 0}
    disallowed = 0
    for record in records:
        for piece in record.pieces:
            disallowed += piece.disallowed
            by_term[piece.term] += piece.proceeds - piece.cost + piece.disallowed
    return totals_of(by_term, disallowed)


def totals_of(by_term: dict[Term | None, int], disallowed: int) -> Totals:
    """`Totals` from reportable gains in value units by term (any term may be missing) and
    the disallowed losses.

    Raises:
        Nothing.
    """
    return Totals(
        short_term_gain=from_units(by_term.get(Term.SHORT, 0)),
        long_term_gain=from_units(by_term.get(Term.LONG, 0)),
        exempt_gain=from_units(by_term.get(Term.EXEMPT, 0)),
        disallowed_loss=from_units(disallowed),
        net_gain=from_units(sum(by_term.values())),
    )


@dataclass(frozen=True, slots=True)
class Replayed:
    """What a rule set's replay produced, before totals are summed.

    A rule set whose disposals can no longer change once booked (no loss rule reaches
    back into them) may hand them over already frozen, with their totals: `frozen` and
    `totals` then stand in for `disposals`, which is left empty.
    """

    disposals: Sequence[DisposalRecord]
    removals: Sequence[RemovalRecord]
    holdings: Sequence[Holding]
    frozen: Sequence[Disposal] | None = None
    totals: Totals | None = None
