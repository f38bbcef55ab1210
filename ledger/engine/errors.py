"""The lot engine's exceptions (and the basis file's, which feeds the engine).

    HarvestdError (ledger.errors)
    └── LedgerError (ledger.errors)
        ├── BasisFileError            a basis file that cannot be read into engine events
        │   ├── MalformedBasisFile    bad YAML, a missing/invalid key or value (names where)
        │   └── UnknownEventKind      an event whose `kind` the basis file does not know
        ├── ReportError               a report (ledger.reports) cannot be built
        │   ├── ReportNotApplicable   e.g. Form 8949 asked of a uk result
        │   └── PriceMissing          a holding to value has no price
        └── EngineError               the lot engine refused an event
            ├── InvalidEvent          an event that breaks the engine's input contract
            ├── DuplicateEventId      two events share one id
            ├── MethodNotAllowed      a lot method the jurisdiction does not permit
            ├── InsufficientLots      a disposal/transfer of more than the wallet holds
            ├── SpecLotMissing        specific identification names no lot in that wallet
            ├── SpecLotExhausted      it names a lot with less left than asked for
            └── SpecAmountMismatch    the named amounts do not add up to the event's amount

Every leaf carries the fields that describe the problem (always the event id, or the
1-based position in a basis file) and builds its own message. Amounts are raw integers
of the asset's smallest unit as the engine sees them.
"""

from __future__ import annotations

from ledger.errors import LedgerError


class BasisFileError(LedgerError):
    """A basis file could not be read into engine events."""


class MalformedBasisFile(BasisFileError):
    """The file is not valid YAML, or a key or value is missing or invalid."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class UnknownEventKind(BasisFileError):
    """An event's `kind` is none of buy, receive, sell, send, transfer."""

    def __init__(self, where: str, kind: str) -> None:
        self.where = where
        self.kind = kind
        super().__init__(
            f"{where}: unknown kind {kind!r}, expected one of buy, receive, sell, send, transfer"
        )


class ReportError(LedgerError):
    """A report cannot be built from the result it was given."""


class ReportNotApplicable(ReportError):
    """The report belongs to another jurisdiction than the result's."""

    def __init__(self, report: str, jurisdiction: str, expected: str) -> None:
        self.report = report
        self.jurisdiction = jurisdiction
        self.expected = expected
        super().__init__(
            f"{report} needs a result replayed under {expected}, got one under {jurisdiction}"
        )


class PriceMissing(ReportError):
    """A holding cannot be valued: no price was given for its asset."""

    def __init__(self, asset: str) -> None:
        self.asset = asset
        super().__init__(f"no price given for {asset}, which is held")


class EngineError(LedgerError):
    """The lot engine refused an event."""


class InvalidEvent(EngineError):
    """An event breaks the engine's input contract (e.g. no value on a disposal)."""

    def __init__(self, event_id: str, problem: str) -> None:
        self.event_id = event_id
        self.problem = problem
        super().__init__(f"event {event_id}: {problem}")


class DuplicateEventId(EngineError):
    """Two events share one id; ids must be unique so rows can be traced."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event {event_id}: the id is used by more than one event")


class MethodNotAllowed(EngineError):
    """The jurisdiction prescribes its own matching and does not permit this method."""

    def __init__(self, jurisdiction: str, method: str, allowed: tuple[str, ...]) -> None:
        self.jurisdiction = jurisdiction
        self.method = method
        self.allowed = allowed
        permitted = ", ".join(allowed) if allowed else "none (leave it out)"
        super().__init__(
            f"jurisdiction {jurisdiction} does not permit method {method!r}; permitted: {permitted}"
        )


class InsufficientLots(EngineError):
    """A disposal, transfer, conversion or send of more than the wallet holds."""

    def __init__(
        self, wallet: str, asset: str, wanted_raw: int, held_raw: int, event_id: str
    ) -> None:
        self.wallet = wallet
        self.asset = asset
        self.wanted_raw = wanted_raw
        self.held_raw = held_raw
        self.event_id = event_id
        super().__init__(
            f"event {event_id}: wallet {wallet} holds {held_raw} of {asset} "
            f"(raw units), cannot take {wanted_raw}"
        )


class SpecLotMissing(EngineError):
    """Specific identification names a lot that wallet does not hold."""

    def __init__(self, event_id: str, lot: str, wallet: str, asset: str) -> None:
        self.event_id = event_id
        self.lot = lot
        self.wallet = wallet
        self.asset = asset
        super().__init__(
            f"event {event_id}: lot {lot!r} names no open lot of {asset} in wallet {wallet}"
        )


class SpecLotExhausted(EngineError):
    """Specific identification asks a lot for more than it has left."""

    def __init__(self, event_id: str, lot: str, wanted_raw: int, left_raw: int) -> None:
        self.event_id = event_id
        self.lot = lot
        self.wanted_raw = wanted_raw
        self.left_raw = left_raw
        super().__init__(
            f"event {event_id}: lot {lot!r} has {left_raw} left (raw units), "
            f"cannot take {wanted_raw}"
        )


class SpecAmountMismatch(EngineError):
    """The amounts named in `lots` do not add up to the event's amount."""

    def __init__(self, event_id: str, named_raw: int, amount_raw: int) -> None:
        self.event_id = event_id
        self.named_raw = named_raw
        self.amount_raw = amount_raw
        super().__init__(
            f"event {event_id}: the named lots add up to {named_raw} (raw units) "
            f"but the event moves {amount_raw}"
        )
