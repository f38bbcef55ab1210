"""The store: SQLModel rows, engines and sessions, Alembic migrations, and the repository
functions the indexer, strategy, executor and daemon call.

    store = open_store("sqlite:///var/harvestd.db")   # or postgresql+psycopg://...
    store.upgrade()                                    # Alembic, to head; a no-op when there
    with store.transaction() as session:              # one transaction, all or nothing
        add_events(session, events)
        put_blocks(session, blocks)
        set_checkpoint(session, chain_id, block_number, block_hash)

Every repository function is synchronous and takes a `Session` from
`Store.transaction()` (writes) or `Store.reader()` (reads). Async code runs the whole
`with` block in a worker thread: `await asyncio.to_thread(book, store, batch)`.
Errors are `ledger.store.errors.StoreError`s; no SQLAlchemy exception escapes a `Store`
transaction. Money is exact: raw amounts are ints, USD values Decimals, times aware UTC.

Modules: `db` (engines, `Store`, migrations), `rows` (tables), `columns` (exact column
types), `records` (frozen values in and out), `catalog` (chains, wallets, assets),
`eventlog` (ledger events), `chainlog` (blocks, checkpoints, rollback), `prices`,
`derived` (lots and disposals), `engine_output` (the lot engine's `LedgerResult` as
derived records), `proposals`, `executions` (and nonces), `errors`.
"""

from __future__ import annotations

from ledger.store.catalog import (
    get_asset,
    get_chain_state,
    list_assets,
    list_chain_ids,
    list_wallets,
    set_chain_state,
    upsert_assets,
    upsert_chain,
    upsert_wallets,
)
from ledger.store.chainlog import (
    DEFAULT_STREAM,
    RollbackSummary,
    count_blocks,
    find_fork_point,
    get_block,
    get_checkpoint,
    latest_block,
    load_block_hashes,
    prune_blocks,
    put_blocks,
    rollback_to_block,
    set_checkpoint,
)
from ledger.store.db import Store, open_store, redact_url, upgrade
from ledger.store.derived import (
    delete_derived,
    load_disposals,
    load_lot_movements,
    load_lots,
    replace_derived,
)
from ledger.store.engine_output import derived_from_result, event_id, sources_for
from ledger.store.eventlog import (
    add_events,
    count_events,
    load_events,
    relabel_event,
    set_event_value,
)
from ledger.store.executions import (
    advance_execution,
    count_attempts,
    create_execution,
    get_execution,
    get_next_nonce,
    list_executions,
    reserve_nonce,
    set_next_nonce,
)
from ledger.store.prices import find_latest_price, get_price, put_prices
from ledger.store.proposals import (
    create_proposal,
    expire_proposals,
    find_open_proposal,
    get_proposal,
    list_proposals,
    update_proposal_status,
)
from ledger.store.records import (
    AssetRecord,
    BlockRecord,
    ChainStateRecord,
    Checkpoint,
    DerivedLedger,
    DisposalMatchRecord,
    DisposalRecord,
    DisposalTerm,
    ExecutionRecord,
    ExecutionState,
    ExecutionUpdate,
    LotAdjustment,
    LotMovementRecord,
    LotRecord,
    MovementKind,
    NewExecution,
    PricePoint,
    ProposalRecord,
    ProposalStatus,
    SourceRef,
    WalletRecord,
)

__all__ = [
    "DEFAULT_STREAM",
    "AssetRecord",
    "BlockRecord",
    "ChainStateRecord",
    "Checkpoint",
    "DerivedLedger",
    "DisposalMatchRecord",
    "DisposalRecord",
    "DisposalTerm",
    "ExecutionRecord",
    "ExecutionState",
    "ExecutionUpdate",
    "LotAdjustment",
    "LotMovementRecord",
    "LotRecord",
    "MovementKind",
    "NewExecution",
    "PricePoint",
    "ProposalRecord",
    "ProposalStatus",
    "RollbackSummary",
    "SourceRef",
    "Store",
    "WalletRecord",
    "add_events",
    "advance_execution",
    "count_attempts",
    "count_blocks",
    "count_events",
    "create_execution",
    "create_proposal",
    "delete_derived",
    "derived_from_result",
    "event_id",
    "expire_proposals",
    "find_fork_point",
    "find_latest_price",
    "find_open_proposal",
    "get_asset",
    "get_block",
    "get_chain_state",
    "get_checkpoint",
    "get_execution",
    "get_next_nonce",
    "get_price",
    "get_proposal",
    "latest_block",
    "list_assets",
    "list_chain_ids",
    "list_executions",
    "list_proposals",
    "list_wallets",
    "load_block_hashes",
    "load_disposals",
    "load_events",
    "load_lot_movements",
    "load_lots",
    "open_store",
    "prune_blocks",
    "put_blocks",
    "put_prices",
    "redact_url",
    "relabel_event",
    "replace_derived",
    "reserve_nonce",
    "rollback_to_block",
    "set_chain_state",
    "set_checkpoint",
    "set_event_value",
    "set_next_nonce",
    "sources_for",
    "update_proposal_status",
    "upgrade",
    "upsert_assets",
    "upsert_chain",
    "upsert_wallets",
]
