"""Fixtures for the store suite: one `store` per test, on SQLite and on Postgres.

Postgres: a uniquely named database (harvestd_t_<random>) is created on the server at
127.0.0.1:5432 for this test session, migrated to head once, truncated between tests, and
dropped at the end. SQLite: a fresh migrated file per test.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger.store import Store, open_store
from ledger.store.rows import STORE_METADATA

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL_TEMPLATE = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@contextmanager
def pg_database(prefix: str = "harvestd_t") -> Iterator[str]:
    """Create a uniquely named Postgres database, yield its URL, drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield PG_URL_TEMPLATE.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def pg_store() -> Iterator[Store]:
    """A migrated Postgres store for the whole session (its database dropped at the end)."""
    with pg_database() as url:
        store = open_store(url)
        store.upgrade()
        try:
            yield store
        finally:
            store.close()


def _truncate(store: Store) -> None:
    names = ", ".join(f'"{t.name}"' for t in STORE_METADATA.sorted_tables)
    with store.engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated store on each backend."""
    if request.param == "postgres":
        pg: Store = request.getfixturevalue("pg_store")
        _truncate(pg)
        yield pg
        return
    sqlite_store = open_store(f"sqlite:///{tmp_path / 'harvestd.db'}")
    sqlite_store.upgrade()
    try:
        yield sqlite_store
    finally:
        sqlite_store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a brand-new, empty database (not migrated) on each backend."""
    if request.param == "postgres":
        with pg_database("harvestd_t_mig") as url:
            yield url
        return
    yield f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture
def reopen(tmp_path: Path) -> Callable[[Store], Store]:
    """Open a second `Store` on the same database (what a restarted daemon does)."""

    def _reopen(store: Store) -> Store:
        return open_store(store.engine.url.render_as_string(hide_password=False))

    return _reopen
