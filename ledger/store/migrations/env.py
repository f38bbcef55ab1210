"""Alembic environment: runs on the connection `ledger.store.db` hands in, online only.

There is no alembic.ini: `ledger.store.db.alembic_config()` points Alembic at this
folder and puts an open connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ledger.store.rows import STORE_METADATA


def run_migrations_online() -> None:
    """Run the migrations on the connection the caller opened (inside its transaction)."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "run migrations through ledger.store.db.upgrade(url), which supplies a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=STORE_METADATA,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
