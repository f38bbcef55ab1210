"""Alembic migrations of the store, run programmatically by `ledger.store.db.upgrade`."""
