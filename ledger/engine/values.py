"""The lot engine's values: what goes in (events, policy) and what comes out (lots,
disposals, holdings, totals). All frozen; amounts are raw integers of the asset's
smallest unit, values are exact `Decimal` in the reporting currency.

Ids: every `LotEvent` has a caller-given, unique, stable `id`. A lot's `id` is its
acquiring event's id; a piece split off it gets a derived id that is just as stable:
`"<lot>><event>"` when a transfer or conversion moves part of it (the part left behind
keeps the old id; a lot moved whole keeps its id unless it changes asset) and
`"<lot>~<sale>"` when a wash sale carries a loss into part of it. `origin` is always
the acquiring event's id, which is what specific identification names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from ledger.engine.money import exact_difference

DEFAULT_WALLET: Final = "main"


class Jurisdiction(StrEnum):
    """A rule set (each lives in `ledger.engine.jurisdictions.<value>`)."""

    US = "us"
    UK = "uk"
    DE = "de"
    CA = "ca"
    GENERIC = "generic"


class LotMethod(StrEnum):
    """How a disposal chooses lots where the jurisdiction leaves a choice."""

    FIFO = "fifo"
    LIFO = "lifo"
    HIFO = "hifo"
    SPEC = "spec"
    MIN_TAX = "min_tax"


class Term(StrEnum):
    """The holding-period class of a matched piece (`MIXED` only on a whole disposal)."""

    SHORT = "short"
    LONG = "long"
    EXEMPT = "exempt"
    MIXED = "mixed"


class MatchRule(StrEnum):
    """How one piece of a disposal was matched."""

    FIFO = "fifo"
    LIFO = "lifo"
    HIFO = "hifo"
    SPEC = "spec"
    MIN_TAX = "min_tax"
    SAME_DAY = "same_day"
    THIRTY_DAY = "thirty_day"
    S104 = "s104"
    ACB = "acb"


class Action(StrEnum):
    """What an event does to lots."""

    ACQUIRE = "acquire"
    """buy / receive: opens a lot costing `value + fee`."""
    DISPOSE = "dispose"
    """sell / taxable send: realises `value - fee` against the matched lots."""
    WITHDRAW = "withdraw"
    """non-taxable send (e.g. to an own account elsewhere): lots leave, nothing realised."""
    TRANSFER = "transfer"
    """between two own wallets: lots move with cost and dates, nothing realised."""
    CONVERT = "convert"
    """wrap/unwrap: lots move from `asset` to `to_asset` in the same wallet, nothing realised."""


class AdjustmentKind(StrEnum):
    """Why a lot's cost (and maybe holding period) differs from what was paid."""

    WASH_SALE = "wash_sale"
    SUPERFICIAL_LOSS = "superficial_loss"


@dataclass(frozen=True, slots=True)
class SpecLot:
    """Specific identification: take `amount_raw` from the lot acquired by event `lot`."""

    lot: str
    amount_raw: int


@dataclass(frozen=True, slots=True)
class LotEvent:
    """One input event of the lot engine.

    `time` is timezone-aware (UTC). `value` is the total value of `amount_raw` (required
    for ACQUIRE and DISPOSE); `fee` is added to an acquisition's cost and taken off a
    disposal's proceeds. TRANSFER needs `to_wallet`; CONVERT needs `to_asset` and may give
    `to_amount_raw` (defaults to `amount_raw`; lots are mapped pro rata when they differ).
    `lots` asks for specific identification (DISPOSE, WITHDRAW, TRANSFER, CONVERT).
    Events are replayed in order of (`time`, `seq`, acquisitions before moves before
    disposals, `id`): `seq` is the caller's tiebreak inside one instant (the chain wiring
    sets it from block number, log index and leg; hand-written files leave it 0).
    """

    id: str
    time: datetime
    action: Action
    asset: str
    amount_raw: int
    wallet: str = DEFAULT_WALLET
    value: Decimal | None = None
    fee: Decimal = Decimal(0)
    to_wallet: str | None = None
    to_asset: str | None = None
    to_amount_raw: int | None = None
    lots: tuple[SpecLot, ...] = ()
    seq: int = 0


@dataclass(frozen=True, slots=True)
class TaxRates:
    """Marginal rates by term, used by `min_tax` and by sale estimates (not by replay totals)."""

    short: Decimal
    long: Decimal
    exempt: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Policy:
    """How to replay: the jurisdiction, the lot method, and the jurisdiction's options.

    `method=None` means the jurisdiction's default (fifo where there is a choice).
    `wash_sale` applies to `us` only. `long_term_after_days` overrides the holding period
    (us/generic: long term, de: exempt, when held MORE than that many days). `rates=None`
    means the jurisdiction's default rates.
    """

    jurisdiction: Jurisdiction
    method: LotMethod | None = None
    wash_sale: bool = False
    long_term_after_days: int | None = None
    rates: TaxRates | None = None


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A change to a lot's cost basis made by a loss rule.

    `amount` is added to the lot's cost; `holding_days_added` is the sold lot's holding
    period tacked on (wash sale) or 0.
    """

    kind: AdjustmentKind
    event_id: str
    amount: Decimal
    holding_days_added: int


@dataclass(frozen=True, slots=True)
class Lot:
    """An open lot (or, for `uk`/`ca`, an asset's whole pool: `wallet` None, id `s104:`/`acb:`).

    `cost` includes acquisition fees and any carried disallowed loss. For a pool,
    `acquired_at` and `holding_period_start` are the time of the earliest addition
    since the pool was last empty.
    """

    id: str
    origin: str
    asset: str
    wallet: str | None
    amount_raw: int
    cost: Decimal
    acquired_at: datetime
    holding_period_start: datetime
    adjustments: tuple[Adjustment, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchedPiece:
    """The part of one disposal matched to one lot (or pool, or UK day bucket).

    `gain` (a property) is `proceeds - cost`, always; `disallowed_loss` (>= 0) is the part of a loss that a
    rule denied and carried into a replacement. `origin`, `acquired_at` and
    `holding_period_start` are None for pooled matches.
    """

    lot: str
    origin: str | None
    rule: MatchRule
    amount_raw: int
    cost: Decimal
    proceeds: Decimal
    term: Term | None
    disallowed_loss: Decimal
    acquired_at: datetime | None
    holding_period_start: datetime | None

    @property
    def gain(self) -> Decimal:
        """Proceeds less cost (a loss is negative), exactly."""
        return exact_difference(self.proceeds, self.cost)


@dataclass(frozen=True, slots=True)
class Disposal:
    """One realisation: a sale or taxable send (for `uk`, all of one asset's disposals on one
    day, with `id` joining theirs by `+` and `wallet` None).

    `gain` is `proceeds - cost` and `reportable_gain` is `gain + disallowed_loss` (both
    properties, so they cannot disagree with the fields); `term` is the
    pieces' common term, `MIXED` when they differ, None where the jurisdiction has none.
    """

    id: str
    event_ids: tuple[str, ...]
    time: datetime
    asset: str
    wallet: str | None
    amount_raw: int
    proceeds: Decimal
    cost: Decimal
    term: Term | None
    disallowed_loss: Decimal
    pieces: tuple[MatchedPiece, ...]

    @property
    def gain(self) -> Decimal:
        """Proceeds less cost (a loss is negative), exactly."""
        return exact_difference(self.proceeds, self.cost)

    @property
    def reportable_gain(self) -> Decimal:
        """The gain with any disallowed loss added back: what is reported."""
        return exact_difference(self.gain, -self.disallowed_loss)


@dataclass(frozen=True, slots=True)
class RemovedPiece:
    """One lot's part in a non-taxable removal."""

    lot: str
    origin: str | None
    amount_raw: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Removal:
    """A non-taxable send: lots left the owner's books with their cost; nothing realised."""

    id: str
    time: datetime
    asset: str
    wallet: str
    amount_raw: int
    cost: Decimal
    pieces: tuple[RemovedPiece, ...]


@dataclass(frozen=True, slots=True)
class Holding:
    """What is still held of one asset in one wallet (`wallet` None for pooled jurisdictions)."""

    asset: str
    wallet: str | None
    amount_raw: int
    cost: Decimal
    lots: tuple[Lot, ...]


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums of reportable gains (gain + disallowed loss) by term, and of disallowed losses.

    `net_gain` is the sum over all disposals, whatever their term (the only figure for
    `uk`/`ca`, which have no terms); `exempt_gain` is included in it.
    """

    short_term_gain: Decimal
    long_term_gain: Decimal
    exempt_gain: Decimal
    disallowed_loss: Decimal
    net_gain: Decimal


@dataclass(frozen=True, slots=True)
class LedgerResult:
    """The outcome of replaying a list of events under a policy."""

    policy: Policy
    disposals: tuple[Disposal, ...]
    removals: tuple[Removal, ...]
    holdings: tuple[Holding, ...]
    totals: Totals

    @property
    def lots(self) -> tuple[Lot, ...]:
        """Every open lot, holding by holding."""
        return tuple(lot for holding in self.holdings for lot in holding.lots)


@dataclass(frozen=True, slots=True)
class SaleEstimate:
    """What selling given lots at given proceeds would realise (see `estimate_sale`)."""

    pieces: tuple[MatchedPiece, ...]
    proceeds: Decimal
    cost: Decimal
    gain: Decimal
    short_term_gain: Decimal
    long_term_gain: Decimal
    exempt_gain: Decimal
    tax: Decimal
    """Sum of each piece's gain times its term's rate (negative: tax saved)."""
