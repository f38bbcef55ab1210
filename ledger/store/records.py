"""Frozen values the store's repository functions take and return (rows stay inside).

Ledger events are `ledger.events.LedgerEvent`; everything else the store keeps has its
value here: wallets, assets, blocks, checkpoints, prices, the derived lots/disposals the
lot engine's output is mapped onto, proposals and executions, and their state machines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ledger.ids import Address, BlockHash, BlockNumber, ChainId, LogIndex, TxHash
from ledger.store.columns import JsonValue


@dataclass(frozen=True, slots=True)
class WalletRecord:
    """One of the owner's wallets."""

    address: Address
    label: str


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """A token on a chain with the flags that keep it out of pricing or trading."""

    chain_id: ChainId
    address: Address
    symbol: str
    decimals: int
    is_spam: bool = False
    is_unpriceable: bool = False
    is_hostile: bool = False


@dataclass(frozen=True, slots=True)
class ChainStateRecord:
    """The last head and safe block the indexer saw on a chain."""

    chain_id: ChainId
    head_block_number: BlockNumber
    safe_block_number: BlockNumber | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """A block header, enough to detect a reorg by its hash and parent hash."""

    chain_id: ChainId
    number: BlockNumber
    hash: BlockHash
    parent_hash: BlockHash
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far one sweep (`stream`) has booked a chain."""

    chain_id: ChainId
    stream: str
    block_number: BlockNumber
    block_hash: BlockHash
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PricePoint:
    """The USD price of one whole token at a block from a source; `price_usd` None means
    the source was asked and had no price (a cached miss)."""

    chain_id: ChainId
    asset: Address
    block_number: BlockNumber
    price_usd: Decimal | None
    source: str

    @property
    def is_missing(self) -> bool:
        """Whether this is a cached 'no price' marker."""
        return self.price_usd is None


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where on chain a derived row comes from, and the engine's id for that event."""

    source_event: str
    block_number: BlockNumber
    block_hash: BlockHash
    tx_hash: TxHash
    log_index: LogIndex


@dataclass(frozen=True, slots=True)
class LotAdjustment:
    """A change a loss rule made to a lot (wash sale, superficial loss): the disallowed
    loss added to its cost and the days added to its holding period."""

    kind: str
    event_id: str
    amount_usd: Decimal
    holding_days_added: int


@dataclass(frozen=True, slots=True)
class LotRecord:
    """A lot as the lot engine computed it: what was acquired and what is left.

    `wallet` is None for a pooled jurisdiction's pool (uk Section 104, ca ACB).
    `source.source_event` is the acquiring event (the engine's `origin`)."""

    lot_id: str
    wallet: Address | None
    asset: Address
    amount_raw: int
    cost_usd: Decimal
    remaining_raw: int
    remaining_cost_usd: Decimal
    acquired_at: datetime
    holding_period_start: datetime
    source: SourceRef
    adjustments: tuple[LotAdjustment, ...] = ()


class MovementKind(StrEnum):
    """Why lots left a wallet without a realised gain."""

    TRANSFER = "transfer"
    """To another of the owner's wallets: basis and dates kept."""
    REMOVAL = "removal"
    """Sent away without realising (a non-taxable send): the lots leave the books."""


@dataclass(frozen=True, slots=True)
class LotMovementRecord:
    """One lot's part in a transfer between own wallets or in a non-taxable removal.

    Pieces of one movement share `movement_id` (the engine's event id)."""

    movement_id: str
    kind: MovementKind
    lot_id: str
    origin: str | None
    new_lot_id: str | None
    from_wallet: Address | None
    to_wallet: Address | None
    asset: Address
    amount_raw: int
    cost_usd: Decimal
    moved_at: datetime
    source: SourceRef


class DisposalTerm(StrEnum):
    """A disposal's (or matched piece's) holding-period term; None where there is none.

    The same values as `ledger.engine.values.Term` (convert with `DisposalTerm(t.value)`)."""

    SHORT = "short"
    LONG = "long"
    EXEMPT = "exempt"
    MIXED = "mixed"


@dataclass(frozen=True, slots=True)
class DisposalMatchRecord:
    """One lot piece matched to a disposal; `rule` names how (a `ledger.engine.values.
    MatchRule` value: fifo, hifo, same_day, thirty_day, s104, acb...). `origin`,
    `acquired_at` and `holding_period_start` are None for pooled matches."""

    lot_id: str
    rule: str
    amount_raw: int
    cost_usd: Decimal
    proceeds_usd: Decimal
    gain_usd: Decimal
    term: DisposalTerm | None
    disallowed_loss_usd: Decimal = Decimal(0)
    origin: str | None = None
    acquired_at: datetime | None = None
    holding_period_start: datetime | None = None


@dataclass(frozen=True, slots=True)
class DisposalRecord:
    """A realised disposal and its matched pieces (in matching order).

    `wallet` is None for a uk same-day group; `event_ids` lists every engine event it
    realises (`source` is the chain position of the first)."""

    disposal_id: str
    wallet: Address | None
    asset: Address
    amount_raw: int
    disposed_at: datetime
    proceeds_usd: Decimal
    cost_usd: Decimal
    gain_usd: Decimal
    term: DisposalTerm | None
    disallowed_loss_usd: Decimal
    reportable_gain_usd: Decimal
    source: SourceRef
    matches: tuple[DisposalMatchRecord, ...] = ()
    event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DerivedLedger:
    """Everything the lot engine derived for one chain; replaced as one unit."""

    lots: tuple[LotRecord, ...] = ()
    movements: tuple[LotMovementRecord, ...] = ()
    disposals: tuple[DisposalRecord, ...] = ()


class ProposalStatus(StrEnum):
    """Where a proposal is in its life."""

    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"


ACTIVE_PROPOSAL_STATUSES: frozenset[ProposalStatus] = frozenset(
    {ProposalStatus.OPEN, ProposalStatus.APPROVED, ProposalStatus.EXECUTING}
)
"""Statuses in which a proposal blocks an equivalent one (same fingerprint)."""

PROPOSAL_TRANSITIONS: Mapping[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.OPEN: frozenset(
        {
            ProposalStatus.APPROVED,
            ProposalStatus.REJECTED,
            ProposalStatus.SUPERSEDED,
            ProposalStatus.EXPIRED,
        }
    ),
    ProposalStatus.APPROVED: frozenset(
        {
            ProposalStatus.EXECUTING,
            ProposalStatus.REJECTED,
            ProposalStatus.SUPERSEDED,
            ProposalStatus.EXPIRED,
        }
    ),
    ProposalStatus.EXECUTING: frozenset({ProposalStatus.EXECUTED, ProposalStatus.FAILED}),
    ProposalStatus.REJECTED: frozenset(),
    ProposalStatus.SUPERSEDED: frozenset(),
    ProposalStatus.EXPIRED: frozenset(),
    ProposalStatus.EXECUTED: frozenset(),
    ProposalStatus.FAILED: frozenset(),
}
"""The proposal state machine: which status may follow which."""


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    """A persisted proposal: trades, lots, expected gains by term, tax effect, costs.

    `details` holds the full decision (trades, lots each sale uses, quotes, costs) as
    JSON: Decimals go in as Decimal and come back as their strings; floats are refused.
    The key figures are also columns so they can be listed without parsing `details`."""

    id: str
    kind: str
    status: ProposalStatus
    fingerprint: str
    chain_id: ChainId
    wallet: Address | None
    reason: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    expected_short_term_gain_usd: Decimal
    expected_long_term_gain_usd: Decimal
    expected_exempt_gain_usd: Decimal
    expected_tax_effect_usd: Decimal
    expected_cost_usd: Decimal
    trade_count: int
    details: Mapping[str, JsonValue] = field(default_factory=dict)
    status_note: str | None = None


class ExecutionState(StrEnum):
    """Where one attempt at one trade is: pending → signed → sent → confirmed/failed/replaced."""

    PENDING = "pending"
    SIGNED = "signed"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    REPLACED = "replaced"


EXECUTION_TRANSITIONS: Mapping[ExecutionState, frozenset[ExecutionState]] = {
    ExecutionState.PENDING: frozenset({ExecutionState.SIGNED, ExecutionState.FAILED}),
    ExecutionState.SIGNED: frozenset({ExecutionState.SENT, ExecutionState.FAILED}),
    ExecutionState.SENT: frozenset(
        {ExecutionState.CONFIRMED, ExecutionState.FAILED, ExecutionState.REPLACED}
    ),
    ExecutionState.CONFIRMED: frozenset(),
    ExecutionState.FAILED: frozenset(),
    ExecutionState.REPLACED: frozenset(),
}
"""The execution state machine: which state may follow which."""


@dataclass(frozen=True, slots=True)
class NewExecution:
    """What the executor knows about a trade before it signs anything."""

    proposal_id: str
    trade_index: int
    chain_id: ChainId
    from_address: Address
    token_in: Address
    token_out: Address
    amount_in_raw: int
    min_amount_out_raw: int


@dataclass(frozen=True, slots=True)
class ExecutionUpdate:
    """Fields learned on a state change; None leaves the stored value as it is."""

    nonce: int | None = None
    tx_hash: TxHash | None = None
    raw_tx: str | None = None
    max_fee_per_gas_wei: int | None = None
    max_priority_fee_per_gas_wei: int | None = None
    amount_out_raw: int | None = None
    gas_used: int | None = None
    effective_gas_price_wei: int | None = None
    effective_price: Decimal | None = None
    block_number: BlockNumber | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One attempt at one trade of a proposal, as stored."""

    id: int
    proposal_id: str
    trade_index: int
    attempt: int
    state: ExecutionState
    chain_id: ChainId
    from_address: Address
    token_in: Address
    token_out: Address
    amount_in_raw: int
    min_amount_out_raw: int
    nonce: int | None
    tx_hash: TxHash | None
    raw_tx: str | None
    max_fee_per_gas_wei: int | None
    max_priority_fee_per_gas_wei: int | None
    amount_out_raw: int | None
    gas_used: int | None
    effective_gas_price_wei: int | None
    effective_price: Decimal | None
    block_number: BlockNumber | None
    error: str | None
    created_at: datetime
    updated_at: datetime
