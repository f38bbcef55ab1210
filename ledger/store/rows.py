"""The store's tables: one SQLModel class per table, every class name ending in `Row`.

Tables (SQL name → class):

    chain              ChainRow             a configured chain (id, name, native symbol)
    chain_state        ChainStateRow        the last head / safe block seen on a chain
    wallet             WalletRow            an owned wallet (address, label)
    asset              AssetRow             a token on a chain, with spam/unpriceable/hostile flags
    block              BlockRow             number, hash, parent hash, time (reorg detection)
    ledger_event       LedgerEventRow       one `ledger.events.LedgerEvent`, every field
    price              PriceRow             a USD price of an asset at a block, or a 'missing' marker
    index_checkpoint   IndexCheckpointRow   how far a sweep has booked a chain (block + hash)
    lot                LotRow               derived: an open or closed lot
    lot_movement       LotMovementRow       derived: a lot (part) moved to an own wallet or sent away
    disposal           DisposalRow          derived: a realised disposal
    disposal_match     DisposalMatchRow     derived: one lot piece matched to a disposal
    proposal           ProposalRow          a strategy decision awaiting review/execution
    execution          ExecutionRow         one attempt at sending one trade of a proposal
    nonce              NonceRow             the executor's next nonce per (chain, address)

Conventions: raw token amounts are `U256` ints (`*_raw`), USD values are exact `UsdDecimal`
(`*_usd`), instants are `UtcTimestamp` (`*_at`). Enum-valued columns hold the enum's
string value (plain VARCHAR, no native database enum, so migrations stay portable).
Every tax-relevant row carries chain id, block number, block hash, tx hash, log index.

These rows are the store's own business: repository functions in `ledger.store` take and
return frozen values (`ledger.events.LedgerEvent`, `ledger.store.records`), not rows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from ledger.store.columns import U256, JsonDocument, UsdDecimal, UtcTimestamp

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

STORE_METADATA = MetaData(naming_convention=_NAMING)
"""The metadata of the store's tables only (what migrations are compared against)."""


class StoreModel(SQLModel, registry=registry(metadata=STORE_METADATA)):
    """Base of every store row: registers in `STORE_METADATA`, not SQLModel's global one."""


_ID = BigInteger().with_variant(Integer(), "sqlite")
"""Surrogate keys: BIGINT on Postgres; INTEGER on SQLite, where only that is the rowid."""
_ENGINE_ID = Text()
"""Engine ids (lots, disposals, events) are unbounded: a lot split by transfers is named
`lot>event>event...`, a uk same-day disposal `a+b+c`."""
_ADDRESS = String(42)
_HASH = String(66)


class ChainRow(StoreModel, table=True):
    """A chain the ledger knows about."""

    __tablename__ = "chain"

    chain_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    name: str = Field(sa_type=String(64))
    native_symbol: str = Field(sa_type=String(16))
    created_at: datetime = Field(sa_type=UtcTimestamp)


class ChainStateRow(StoreModel, table=True):
    """The last chain head and safe (finalised) block the indexer saw."""

    __tablename__ = "chain_state"

    chain_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    head_block_number: int = Field(sa_type=BigInteger)
    safe_block_number: int | None = Field(default=None, sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=UtcTimestamp)


class WalletRow(StoreModel, table=True):
    """One of the owner's wallets (addresses are chain-independent)."""

    __tablename__ = "wallet"

    address: str = Field(sa_type=_ADDRESS, primary_key=True)
    label: str = Field(sa_type=String(128))
    created_at: datetime = Field(sa_type=UtcTimestamp)


class AssetRow(StoreModel, table=True):
    """A token on a chain (the native coin is `ledger.events.NATIVE_ASSET`)."""

    __tablename__ = "asset"

    chain_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    address: str = Field(sa_type=_ADDRESS, primary_key=True)
    symbol: str = Field(sa_type=String(64))
    decimals: int = Field(sa_type=Integer)
    is_spam: bool = Field(default=False)
    is_unpriceable: bool = Field(default=False)
    is_hostile: bool = Field(default=False)
    updated_at: datetime = Field(sa_type=UtcTimestamp)


class BlockRow(StoreModel, table=True):
    """A block the indexer has seen: enough to find where a reorg forked."""

    __tablename__ = "block"

    chain_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    number: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    hash: str = Field(sa_type=_HASH)
    parent_hash: str = Field(sa_type=_HASH)
    timestamp: datetime = Field(sa_type=UtcTimestamp)


class LedgerEventRow(StoreModel, table=True):
    """One classified movement of one asset for one owned wallet (a `LedgerEvent`)."""

    __tablename__ = "ledger_event"
    __table_args__ = (
        UniqueConstraint(
            "chain_id", "tx_hash", "log_index", "leg", "wallet", name="uq_ledger_event_identity"
        ),
        Index("ix_ledger_event_chain_order", "chain_id", "block_number", "log_index", "leg"),
        Index("ix_ledger_event_wallet_asset", "wallet", "asset"),
    )

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    chain_id: int = Field(sa_type=BigInteger)
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str = Field(sa_type=_HASH)
    tx_hash: str = Field(sa_type=_HASH)
    log_index: int = Field(sa_type=Integer)
    leg: int = Field(sa_type=Integer)
    timestamp: datetime = Field(sa_type=UtcTimestamp)
    kind: str = Field(sa_type=String(16))
    wallet: str = Field(sa_type=_ADDRESS)
    asset: str = Field(sa_type=_ADDRESS)
    amount_raw: int = Field(sa_type=U256)
    value_usd: Decimal | None = Field(default=None, sa_type=UsdDecimal)
    fee_usd: Decimal = Field(sa_type=UsdDecimal)
    counterparty: str | None = Field(default=None, sa_type=_ADDRESS)
    group_key: str | None = Field(default=None, sa_type=Text)
    needs_review: bool = Field(default=False)
    price_missing: bool = Field(default=False)
    label: str = Field(sa_type=String(16))
    swap_protocol: str | None = Field(default=None, sa_type=String(32))
    swap_pool: str | None = Field(default=None, sa_type=_ADDRESS)
    swap_token_in: str | None = Field(default=None, sa_type=_ADDRESS)
    swap_token_out: str | None = Field(default=None, sa_type=_ADDRESS)
    swap_amount_in_raw: int | None = Field(default=None, sa_type=U256)
    swap_amount_out_raw: int | None = Field(default=None, sa_type=U256)


class PriceRow(StoreModel, table=True):
    """The USD price of one whole token at a block from one source, or a 'missing' marker
    (price_usd NULL, missing true) so a failed lookup is not retried on every pass."""

    __tablename__ = "price"
    __table_args__ = (
        UniqueConstraint("chain_id", "asset", "block_number", "source", name="uq_price_point"),
    )

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    chain_id: int = Field(sa_type=BigInteger)
    asset: str = Field(sa_type=_ADDRESS)
    block_number: int = Field(sa_type=BigInteger)
    price_usd: Decimal | None = Field(default=None, sa_type=UsdDecimal)
    source: str = Field(sa_type=String(64))
    missing: bool = Field(default=False)
    recorded_at: datetime = Field(sa_type=UtcTimestamp)


class IndexCheckpointRow(StoreModel, table=True):
    """How far one sweep (`stream`) has booked a chain: committed with the rows it covers."""

    __tablename__ = "index_checkpoint"

    chain_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    stream: str = Field(sa_type=String(64), primary_key=True)
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str = Field(sa_type=_HASH)
    updated_at: datetime = Field(sa_type=UtcTimestamp)


class LotRow(StoreModel, table=True):
    """Derived: a lot as the lot engine last computed it (replaced wholesale per chain)."""

    __tablename__ = "lot"
    __table_args__ = (
        UniqueConstraint("chain_id", "lot_id", name="uq_lot_identity"),
        Index("ix_lot_wallet_asset", "chain_id", "wallet", "asset"),
    )

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    chain_id: int = Field(sa_type=BigInteger)
    lot_id: str = Field(sa_type=_ENGINE_ID)
    wallet: str | None = Field(default=None, sa_type=_ADDRESS)
    """None for a pooled jurisdiction's pool (uk Section 104, ca ACB)."""
    asset: str = Field(sa_type=_ADDRESS)
    amount_raw: int = Field(sa_type=U256)
    cost_usd: Decimal = Field(sa_type=UsdDecimal)
    remaining_raw: int = Field(sa_type=U256)
    remaining_cost_usd: Decimal = Field(sa_type=UsdDecimal)
    acquired_at: datetime = Field(sa_type=UtcTimestamp)
    holding_period_start: datetime = Field(sa_type=UtcTimestamp)
    adjustments: Any = Field(sa_type=JsonDocument)
    """Basis/holding-period adjustments (wash sale, superficial loss) as a JSON list."""
    source_event: str = Field(sa_type=_ENGINE_ID)
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str = Field(sa_type=_HASH)
    tx_hash: str = Field(sa_type=_HASH)
    log_index: int = Field(sa_type=Integer)


class LotMovementRow(StoreModel, table=True):
    """Derived: part of a lot that left a wallet without a realised gain — moved to another
    own wallet (kind 'transfer', basis and dates kept) or sent away (kind 'removal')."""

    __tablename__ = "lot_movement"
    __table_args__ = (Index("ix_lot_movement_lot", "chain_id", "lot_id"),)

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    chain_id: int = Field(sa_type=BigInteger)
    movement_id: str = Field(sa_type=_ENGINE_ID)
    kind: str = Field(sa_type=String(16))
    lot_id: str = Field(sa_type=_ENGINE_ID)
    origin: str | None = Field(default=None, sa_type=_ENGINE_ID)
    new_lot_id: str | None = Field(default=None, sa_type=_ENGINE_ID)
    from_wallet: str | None = Field(default=None, sa_type=_ADDRESS)
    to_wallet: str | None = Field(default=None, sa_type=_ADDRESS)
    asset: str = Field(sa_type=_ADDRESS)
    amount_raw: int = Field(sa_type=U256)
    cost_usd: Decimal = Field(sa_type=UsdDecimal)
    moved_at: datetime = Field(sa_type=UtcTimestamp)
    source_event: str = Field(sa_type=_ENGINE_ID)
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str = Field(sa_type=_HASH)
    tx_hash: str = Field(sa_type=_HASH)
    log_index: int = Field(sa_type=Integer)


class DisposalRow(StoreModel, table=True):
    """Derived: a realised disposal (gain = proceeds - cost; reportable = gain + disallowed)."""

    __tablename__ = "disposal"
    __table_args__ = (
        UniqueConstraint("chain_id", "disposal_id", name="uq_disposal_identity"),
        Index("ix_disposal_wallet_asset", "chain_id", "wallet", "asset"),
    )

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    chain_id: int = Field(sa_type=BigInteger)
    disposal_id: str = Field(sa_type=_ENGINE_ID)
    wallet: str | None = Field(default=None, sa_type=_ADDRESS)
    """None for a pooled jurisdiction's day bucket (uk)."""
    asset: str = Field(sa_type=_ADDRESS)
    amount_raw: int = Field(sa_type=U256)
    disposed_at: datetime = Field(sa_type=UtcTimestamp)
    proceeds_usd: Decimal = Field(sa_type=UsdDecimal)
    cost_usd: Decimal = Field(sa_type=UsdDecimal)
    gain_usd: Decimal = Field(sa_type=UsdDecimal)
    term: str | None = Field(default=None, sa_type=String(16))
    disallowed_loss_usd: Decimal = Field(sa_type=UsdDecimal)
    reportable_gain_usd: Decimal = Field(sa_type=UsdDecimal)
    event_ids: Any = Field(sa_type=JsonDocument)
    """Every engine event id realised in this disposal (several for a uk same-day group)."""
    source_event: str = Field(sa_type=_ENGINE_ID)
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str = Field(sa_type=_HASH)
    tx_hash: str = Field(sa_type=_HASH)
    log_index: int = Field(sa_type=Integer)


class DisposalMatchRow(StoreModel, table=True):
    """Derived: one lot piece matched to a disposal, with the rule and term that applied."""

    __tablename__ = "disposal_match"
    __table_args__ = (
        UniqueConstraint("disposal_pk", "position", name="uq_disposal_match_position"),
    )

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    disposal_pk: int = Field(
        sa_column=Column(
            _ID, ForeignKey("disposal.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    position: int = Field(sa_type=Integer)
    lot_id: str = Field(sa_type=_ENGINE_ID)
    origin: str | None = Field(default=None, sa_type=_ENGINE_ID)
    rule: str = Field(sa_type=String(32))
    amount_raw: int = Field(sa_type=U256)
    cost_usd: Decimal = Field(sa_type=UsdDecimal)
    proceeds_usd: Decimal = Field(sa_type=UsdDecimal)
    gain_usd: Decimal = Field(sa_type=UsdDecimal)
    term: str | None = Field(default=None, sa_type=String(16))
    disallowed_loss_usd: Decimal = Field(sa_type=UsdDecimal)
    acquired_at: datetime | None = Field(default=None, sa_type=UtcTimestamp)
    holding_period_start: datetime | None = Field(default=None, sa_type=UtcTimestamp)


class ProposalRow(StoreModel, table=True):
    """A strategy decision: what to trade and why, and where it is in its life.

    `active_fingerprint` equals `fingerprint` while the proposal is open, approved or
    executing and is NULL otherwise; its UNIQUE constraint is what makes "an equivalent
    proposal is already open" a database fact on both backends (NULLs never collide)."""

    __tablename__ = "proposal"
    __table_args__ = (
        UniqueConstraint("active_fingerprint", name="uq_proposal_active_fingerprint"),
        Index("ix_proposal_status", "status"),
        Index("ix_proposal_fingerprint", "fingerprint"),
    )

    id: str = Field(sa_type=String(128), primary_key=True)
    kind: str = Field(sa_type=String(32))
    status: str = Field(sa_type=String(16))
    fingerprint: str = Field(sa_type=String(128))
    active_fingerprint: str | None = Field(default=None, sa_type=String(128))
    chain_id: int = Field(sa_type=BigInteger)
    wallet: str | None = Field(default=None, sa_type=_ADDRESS)
    """The wallet the proposal trades from; None when its trades span several."""
    reason: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UtcTimestamp)
    updated_at: datetime = Field(sa_type=UtcTimestamp)
    expires_at: datetime | None = Field(default=None, sa_type=UtcTimestamp)
    status_note: str | None = Field(default=None, sa_type=Text)
    expected_short_term_gain_usd: Decimal = Field(sa_type=UsdDecimal)
    expected_long_term_gain_usd: Decimal = Field(sa_type=UsdDecimal)
    expected_exempt_gain_usd: Decimal = Field(sa_type=UsdDecimal)
    expected_tax_effect_usd: Decimal = Field(sa_type=UsdDecimal)
    expected_cost_usd: Decimal = Field(sa_type=UsdDecimal)
    trade_count: int = Field(sa_type=Integer)
    details: Any = Field(sa_type=JsonDocument)


class ExecutionRow(StoreModel, table=True):
    """One attempt at sending one trade of a proposal (a replacement is a new attempt)."""

    __tablename__ = "execution"
    __table_args__ = (
        UniqueConstraint("proposal_id", "trade_index", "attempt", name="uq_execution_attempt"),
        Index("ix_execution_state", "state"),
        Index("ix_execution_sender_nonce", "chain_id", "from_address", "nonce"),
    )

    id: int | None = Field(default=None, sa_type=_ID, primary_key=True)
    proposal_id: str = Field(
        sa_column=Column(String(128), ForeignKey("proposal.id"), nullable=False, index=True)
    )
    trade_index: int = Field(sa_type=Integer)
    attempt: int = Field(sa_type=Integer)
    state: str = Field(sa_type=String(16))
    chain_id: int = Field(sa_type=BigInteger)
    from_address: str = Field(sa_type=_ADDRESS)
    nonce: int | None = Field(default=None, sa_type=BigInteger)
    tx_hash: str | None = Field(default=None, sa_type=_HASH)
    raw_tx: str | None = Field(default=None, sa_type=Text)
    max_fee_per_gas_wei: int | None = Field(default=None, sa_type=U256)
    max_priority_fee_per_gas_wei: int | None = Field(default=None, sa_type=U256)
    token_in: str = Field(sa_type=_ADDRESS)
    token_out: str = Field(sa_type=_ADDRESS)
    amount_in_raw: int = Field(sa_type=U256)
    min_amount_out_raw: int = Field(sa_type=U256)
    amount_out_raw: int | None = Field(default=None, sa_type=U256)
    gas_used: int | None = Field(default=None, sa_type=BigInteger)
    effective_gas_price_wei: int | None = Field(default=None, sa_type=U256)
    effective_price: Decimal | None = Field(default=None, sa_type=UsdDecimal)
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UtcTimestamp)
    updated_at: datetime = Field(sa_type=UtcTimestamp)


class NonceRow(StoreModel, table=True):
    """The next nonce the executor will use for an address on a chain (survives restarts)."""

    __tablename__ = "nonce"

    chain_id: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    address: str = Field(sa_type=_ADDRESS, primary_key=True)
    next_nonce: int = Field(sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=UtcTimestamp)


__all__ = [
    "STORE_METADATA",
    "AssetRow",
    "BlockRow",
    "ChainRow",
    "ChainStateRow",
    "DisposalMatchRow",
    "DisposalRow",
    "ExecutionRow",
    "IndexCheckpointRow",
    "LedgerEventRow",
    "LotMovementRow",
    "LotRow",
    "NonceRow",
    "PriceRow",
    "ProposalRow",
    "StoreModel",
    "WalletRow",
]
