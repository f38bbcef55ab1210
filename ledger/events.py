"""Ledger events: what the indexer books and the store keeps, one row per wallet movement.

A `LedgerEvent` is the classified, chain-traced form of one movement of one asset in or
out of one of the owner's wallets. The indexer produces them, `ledger.store` persists
them (idempotently, keyed by `ChainRef` plus `leg`), and the lot engine replays them
(after conversion to engine events) to derive lots and disposals.

Kinds follow DESIGN.md's rules:

- `SWAP_OUT` / `SWAP_IN`: the two legs of a swap A→B; one disposal and one acquisition
  sharing one `value_usd` (and one `group`: the transaction hash).
- `RECEIVE`: from an outside address — an acquisition at market value, `needs_review`.
- `SEND`: to an outside address — lots leave without a realised gain, `needs_review`.
- `TRANSFER_OUT` / `TRANSFER_IN`: between two of the owner's wallets; lots move with basis
  and acquisition time (`counterparty` names the other own wallet).
- `WRAP` / `UNWRAP`: native coin ⇄ wrapped native coin; not a disposal, lots convert.
- `GAS`: the native coin paid for gas; a disposal of that coin.

Amounts are raw integers of the token's smallest unit; values are exact `Decimal` USD.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ledger.ids import Address, BlockHash, BlockNumber, ChainId, LogIndex, TxHash

NATIVE_ASSET: Address = Address("0x0000000000000000000000000000000000000000")
"""The asset address used for the chain's native coin (ETH)."""

TX_LEVEL: LogIndex = LogIndex(-1)
"""`log_index` of an event that comes from the transaction itself, not from a log
(a native value transfer, a trace, the gas)."""


class EventKind(StrEnum):
    """What one ledger event does to the wallet's lots."""

    SWAP_IN = "swap_in"
    SWAP_OUT = "swap_out"
    RECEIVE = "receive"
    SEND = "send"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    WRAP = "wrap"
    UNWRAP = "unwrap"
    GAS = "gas"


class Label(StrEnum):
    """A user's re-labelling of a receipt or a send (DESIGN.md: reviewable events)."""

    UNREVIEWED = "unreviewed"
    INCOME = "income"
    GIFT = "gift"
    SPEND = "spend"
    OWN_ACCOUNT = "own_account"
    PURCHASE = "purchase"
    SALE = "sale"


@dataclass(frozen=True, slots=True)
class ChainRef:
    """Where on chain an event comes from; with `leg`, a ledger event's identity."""

    chain_id: ChainId
    block_number: BlockNumber
    block_hash: BlockHash
    tx_hash: TxHash
    log_index: LogIndex


@dataclass(frozen=True, slots=True)
class SwapAudit:
    """The decoded swap that explains a SWAP_IN/SWAP_OUT pair, kept for audit."""

    protocol: str  # "uniswap_v2" | "uniswap_v3"
    pool: Address
    token_in: Address
    token_out: Address
    amount_in_raw: int
    amount_out_raw: int


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One classified movement of one asset in or out of one owned wallet."""

    ref: ChainRef
    leg: int
    """Distinguishes several events made from one log or one transaction (0, 1, ...)."""
    timestamp: datetime
    """The block's time, timezone-aware UTC."""
    kind: EventKind
    wallet: Address
    asset: Address
    amount_raw: int
    value_usd: Decimal | None
    """Market value of `amount_raw` at the block; None when no price could be found."""
    fee_usd: Decimal = Decimal(0)
    """Gas (in USD) attached to this leg: added to an acquisition's cost or taken off a
    disposal's proceeds."""
    counterparty: Address | None = None
    group: str | None = None
    """Ties legs that belong together (a swap's two legs, a transfer's two sides)."""
    needs_review: bool = False
    price_missing: bool = False
    label: Label = Label.UNREVIEWED
    swap: SwapAudit | None = None
