"""Initial schema: every table of ledger.store.rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:40:35.333057
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ledger.store.columns

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "asset",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("is_spam", sa.Boolean(), nullable=False),
        sa.Column("is_unpriceable", sa.Boolean(), nullable=False),
        sa.Column("is_hostile", sa.Boolean(), nullable=False),
        sa.Column("updated_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_asset")),
    )
    op.create_table(
        "block",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number", name=op.f("pk_block")),
    )
    op.create_table(
        "chain",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("native_symbol", sa.String(length=16), nullable=False),
        sa.Column("created_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_chain")),
    )
    op.create_table(
        "chain_state",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("head_block_number", sa.BigInteger(), nullable=False),
        sa.Column("safe_block_number", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_chain_state")),
    )
    op.create_table(
        "disposal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("disposal_id", sa.Text(), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=True),
        sa.Column("asset", sa.String(length=42), nullable=False),
        sa.Column("amount_raw", ledger.store.columns.U256(), nullable=False),
        sa.Column("disposed_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.Column("proceeds_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("cost_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("gain_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("term", sa.String(length=16), nullable=True),
        sa.Column("disallowed_loss_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("reportable_gain_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("event_ids", ledger.store.columns.JsonDocument(), nullable=False),
        sa.Column("source_event", sa.Text(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposal")),
        sa.UniqueConstraint("chain_id", "disposal_id", name="uq_disposal_identity"),
    )
    with op.batch_alter_table("disposal", schema=None) as batch_op:
        batch_op.create_index(
            "ix_disposal_wallet_asset", ["chain_id", "wallet", "asset"], unique=False
        )

    op.create_table(
        "index_checkpoint",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("updated_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "stream", name=op.f("pk_index_checkpoint")),
    )
    op.create_table(
        "ledger_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("leg", sa.Integer(), nullable=False),
        sa.Column("timestamp", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=False),
        sa.Column("asset", sa.String(length=42), nullable=False),
        sa.Column("amount_raw", ledger.store.columns.U256(), nullable=False),
        sa.Column("value_usd", ledger.store.columns.UsdDecimal(), nullable=True),
        sa.Column("fee_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("counterparty", sa.String(length=42), nullable=True),
        sa.Column("group_key", sa.Text(), nullable=True),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("price_missing", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("swap_protocol", sa.String(length=32), nullable=True),
        sa.Column("swap_pool", sa.String(length=42), nullable=True),
        sa.Column("swap_token_in", sa.String(length=42), nullable=True),
        sa.Column("swap_token_out", sa.String(length=42), nullable=True),
        sa.Column("swap_amount_in_raw", ledger.store.columns.U256(), nullable=True),
        sa.Column("swap_amount_out_raw", ledger.store.columns.U256(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_event")),
        sa.UniqueConstraint(
            "chain_id", "tx_hash", "log_index", "leg", "wallet", name="uq_ledger_event_identity"
        ),
    )
    with op.batch_alter_table("ledger_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_event_chain_order",
            ["chain_id", "block_number", "log_index", "leg"],
            unique=False,
        )
        batch_op.create_index("ix_ledger_event_wallet_asset", ["wallet", "asset"], unique=False)

    op.create_table(
        "lot",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.Text(), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=True),
        sa.Column("asset", sa.String(length=42), nullable=False),
        sa.Column("amount_raw", ledger.store.columns.U256(), nullable=False),
        sa.Column("cost_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("remaining_raw", ledger.store.columns.U256(), nullable=False),
        sa.Column("remaining_cost_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("acquired_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.Column("holding_period_start", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.Column("adjustments", ledger.store.columns.JsonDocument(), nullable=False),
        sa.Column("source_event", sa.Text(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot")),
        sa.UniqueConstraint("chain_id", "lot_id", name="uq_lot_identity"),
    )
    with op.batch_alter_table("lot", schema=None) as batch_op:
        batch_op.create_index("ix_lot_wallet_asset", ["chain_id", "wallet", "asset"], unique=False)

    op.create_table(
        "lot_movement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("movement_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lot_id", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.Column("new_lot_id", sa.Text(), nullable=True),
        sa.Column("from_wallet", sa.String(length=42), nullable=True),
        sa.Column("to_wallet", sa.String(length=42), nullable=True),
        sa.Column("asset", sa.String(length=42), nullable=False),
        sa.Column("amount_raw", ledger.store.columns.U256(), nullable=False),
        sa.Column("cost_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("moved_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.Column("source_event", sa.Text(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_movement")),
    )
    with op.batch_alter_table("lot_movement", schema=None) as batch_op:
        batch_op.create_index("ix_lot_movement_lot", ["chain_id", "lot_id"], unique=False)

    op.create_table(
        "nonce",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_nonce")),
    )
    op.create_table(
        "price",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("price_usd", ledger.store.columns.UsdDecimal(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("missing", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price")),
        sa.UniqueConstraint("chain_id", "asset", "block_number", "source", name="uq_price_point"),
    )
    op.create_table(
        "proposal",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("active_fingerprint", sa.String(length=128), nullable=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("wallet", sa.String(length=42), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.Column("updated_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.Column("expires_at", ledger.store.columns.UtcTimestamp(), nullable=True),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column(
            "expected_short_term_gain_usd", ledger.store.columns.UsdDecimal(), nullable=False
        ),
        sa.Column("expected_long_term_gain_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("expected_exempt_gain_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("expected_tax_effect_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("expected_cost_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("trade_count", sa.Integer(), nullable=False),
        sa.Column("details", ledger.store.columns.JsonDocument(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
        sa.UniqueConstraint("active_fingerprint", name="uq_proposal_active_fingerprint"),
    )
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.create_index("ix_proposal_fingerprint", ["fingerprint"], unique=False)
        batch_op.create_index("ix_proposal_status", ["status"], unique=False)

    op.create_table(
        "wallet",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("created_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_wallet")),
    )
    op.create_table(
        "disposal_match",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "disposal_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("amount_raw", ledger.store.columns.U256(), nullable=False),
        sa.Column("cost_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("proceeds_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("gain_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("term", sa.String(length=16), nullable=True),
        sa.Column("disallowed_loss_usd", ledger.store.columns.UsdDecimal(), nullable=False),
        sa.Column("acquired_at", ledger.store.columns.UtcTimestamp(), nullable=True),
        sa.Column("holding_period_start", ledger.store.columns.UtcTimestamp(), nullable=True),
        sa.ForeignKeyConstraint(
            ["disposal_pk"],
            ["disposal.id"],
            name=op.f("fk_disposal_match_disposal_pk_disposal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposal_match")),
        sa.UniqueConstraint("disposal_pk", "position", name="uq_disposal_match_position"),
    )
    with op.batch_alter_table("disposal_match", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disposal_match_disposal_pk"), ["disposal_pk"], unique=False
        )

    op.create_table(
        "execution",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("proposal_id", sa.String(length=128), nullable=False),
        sa.Column("trade_index", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("from_address", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("max_fee_per_gas_wei", ledger.store.columns.U256(), nullable=True),
        sa.Column("max_priority_fee_per_gas_wei", ledger.store.columns.U256(), nullable=True),
        sa.Column("token_in", sa.String(length=42), nullable=False),
        sa.Column("token_out", sa.String(length=42), nullable=False),
        sa.Column("amount_in_raw", ledger.store.columns.U256(), nullable=False),
        sa.Column("min_amount_out_raw", ledger.store.columns.U256(), nullable=False),
        sa.Column("amount_out_raw", ledger.store.columns.U256(), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("effective_gas_price_wei", ledger.store.columns.U256(), nullable=True),
        sa.Column("effective_price", ledger.store.columns.UsdDecimal(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.Column("updated_at", ledger.store.columns.UtcTimestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_execution_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution")),
        sa.UniqueConstraint("proposal_id", "trade_index", "attempt", name="uq_execution_attempt"),
    )
    with op.batch_alter_table("execution", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_execution_proposal_id"), ["proposal_id"], unique=False)
        batch_op.create_index(
            "ix_execution_sender_nonce", ["chain_id", "from_address", "nonce"], unique=False
        )
        batch_op.create_index("ix_execution_state", ["state"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("execution", schema=None) as batch_op:
        batch_op.drop_index("ix_execution_state")
        batch_op.drop_index("ix_execution_sender_nonce")
        batch_op.drop_index(batch_op.f("ix_execution_proposal_id"))

    op.drop_table("execution")
    with op.batch_alter_table("disposal_match", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disposal_match_disposal_pk"))

    op.drop_table("disposal_match")
    op.drop_table("wallet")
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_index("ix_proposal_status")
        batch_op.drop_index("ix_proposal_fingerprint")

    op.drop_table("proposal")
    op.drop_table("price")
    op.drop_table("nonce")
    with op.batch_alter_table("lot_movement", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_movement_lot")

    op.drop_table("lot_movement")
    with op.batch_alter_table("lot", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_wallet_asset")

    op.drop_table("lot")
    with op.batch_alter_table("ledger_event", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_event_wallet_asset")
        batch_op.drop_index("ix_ledger_event_chain_order")

    op.drop_table("ledger_event")
    op.drop_table("index_checkpoint")
    with op.batch_alter_table("disposal", schema=None) as batch_op:
        batch_op.drop_index("ix_disposal_wallet_asset")

    op.drop_table("disposal")
    op.drop_table("chain_state")
    op.drop_table("chain")
    op.drop_table("block")
    op.drop_table("asset")
