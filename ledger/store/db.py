"""Engines, sessions, transactions and migrations: the store's only contact with drivers.

Nothing here runs at import time. `harvestd` builds one `Store` at start-up
(`open_store(url)`), runs `store.upgrade()` (or `upgrade(url)`), and passes the store in.

Backends:

- SQLite (the default, `sqlite:///path/to/harvestd.db`): WAL journal, foreign keys on,
  a busy timeout, `synchronous=NORMAL`. SQLAlchemy (not the sqlite3 module) emits BEGIN;
  write transactions use `BEGIN IMMEDIATE` so two writers queue on the busy timeout
  instead of failing on a lock upgrade, while readers never block under WAL.
- Postgres (`postgresql://...`, `postgres://...` or `postgresql+psycopg://...`): always
  psycopg 3; connections are pinged before use, since the daemon runs for months.

Transactions: `with store.transaction() as session:` commits on a clean exit and rolls
back on any exception, so a checkpoint written in the block commits together with the
rows it covers, or not at all. Every repository function in `ledger.store` is synchronous
and takes that `Session`; async callers run the whole block in a worker thread
(`await asyncio.to_thread(book_batch, store, ...)`), never the event loop.

Errors: SQLAlchemy/driver exceptions are translated here into `ledger.store.errors`;
URLs in messages have their password redacted (`redact_url`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import structlog
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from ledger.store.errors import (
    DatabaseFailure,
    DatabaseUnavailable,
    IntegrityViolation,
    InvalidDatabaseUrl,
    MigrationFailed,
    NestedTransaction,
    StoreError,
    TransactionConflict,
)

MIGRATIONS_DIR: Final[Path] = Path(__file__).resolve().parent / "migrations"
"""The Alembic script directory shipped inside the package."""

SQLITE_BUSY_TIMEOUT_MS: Final[int] = 15_000
PG_CONNECT_TIMEOUT_SECONDS: Final[int] = 10
_MIGRATION_LOCK_KEY: Final[int] = 0x68617276  # "harv": serialises concurrent upgrades
_WRITE_OPTION: Final[str] = "harvestd_write"
_CONFLICT_STATES: Final[frozenset[str]] = frozenset({"40001", "40P01"})
"""Postgres SQLSTATEs of serialization failure and deadlock: safe to retry."""
_UNAVAILABLE_HINTS = re.compile(
    r"could not connect|connection refused|connection failed|database is locked|"
    r"unable to open|timeout|timed out|server closed|terminating connection|"
    r"does not exist|no route to host|name or service not known",
    re.IGNORECASE,
)

_log = structlog.get_logger(__name__)


def redact_url(url: str | URL) -> str:
    """The URL with any password replaced by `***`, safe for logs and messages."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _normalise_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise InvalidDatabaseUrl(redact_url(url), "not a database URL") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise InvalidDatabaseUrl(
                redact_url(parsed), f"driver {driver!r} is not supported; use postgresql+psycopg"
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise InvalidDatabaseUrl(
                redact_url(parsed), f"driver {driver!r} is not supported; use sqlite:///PATH"
            )
        return parsed.set(drivername="sqlite")
    raise InvalidDatabaseUrl(
        redact_url(parsed), f"backend {backend!r} is not supported; use sqlite or postgresql"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def create_store_engine(url: str, *, echo: bool = False) -> Engine:
    """Build an engine for a SQLite or Postgres URL (opens no connection yet).

    Raises:
        InvalidDatabaseUrl: the URL does not parse or names another backend or driver.
        DatabaseUnavailable: the SQLite file's folder cannot be created.
    """
    parsed = _normalise_url(url)
    try:
        if parsed.drivername == "sqlite":
            database = parsed.database or ""
            in_memory = database in ("", ":memory:")
            if not in_memory:
                try:
                    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatabaseUnavailable(redact_url(parsed), str(exc)) from exc
            engine = create_engine(
                parsed,
                echo=echo,
                connect_args={
                    "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                    "check_same_thread": False,
                },
                # An in-memory database exists per connection: share one (tests only;
                # it is not safe for concurrent writers).
                **({"poolclass": StaticPool} if in_memory else {}),
            )
            _configure_sqlite(engine)
            return engine
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
        return create_engine(parsed, echo=echo, pool_pre_ping=True, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise InvalidDatabaseUrl(redact_url(parsed), str(exc)) from exc


def translate_error(exc: SQLAlchemyError, operation: str, url: str) -> StoreError:
    """The store error that stands for a SQLAlchemy/driver exception."""
    if isinstance(exc, StatementError) and isinstance(exc.orig, StoreError):
        return exc.orig
    if isinstance(exc, StatementError) and exc.orig is not None:
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc.orig)
    else:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    if isinstance(exc, IntegrityError):
        return IntegrityViolation(operation, reason)
    if getattr(getattr(exc, "orig", None), "sqlstate", None) in _CONFLICT_STATES:
        return TransactionConflict(operation, reason)
    if isinstance(exc, OperationalError) and (
        exc.connection_invalidated or _UNAVAILABLE_HINTS.search(reason)
    ):
        return DatabaseUnavailable(url, reason)
    return DatabaseFailure(operation, reason)


@contextmanager
def translated_errors(operation: str, url: str) -> Iterator[None]:
    """Run a block, turning SQLAlchemy exceptions into store errors.

    Raises:
        StoreError: a translated database error.
    """
    try:
        yield
    except SQLAlchemyError as exc:
        raise translate_error(exc, operation, url) from exc


class Store:
    """The database: an engine plus explicit transactions. Built once, passed in.

    Repository functions (`ledger.store.*`) take the `Session` a transaction yields.
    Everything is synchronous; from async code call it through `asyncio.to_thread`.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{_WRITE_OPTION: True})
        # Readers see one consistent snapshot for all their queries (a lot list and its
        # disposals never straddle a concurrent replace_derived): REPEATABLE READ on
        # Postgres; on SQLite a WAL read transaction already is a snapshot.
        self._reader = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._open = threading.local()  # the write transaction this thread holds, if any
        self.url: str = redact_url(engine.url)
        """The database URL, password redacted."""
        self.backend: str = engine.dialect.name
        """'sqlite' or 'postgresql'."""

    @property
    def engine(self) -> Engine:
        """The underlying engine (for migrations and tests; repository code uses sessions)."""
        return self._engine

    @contextmanager
    def transaction(self, operation: str = "transaction") -> Iterator[Session]:
        """A write transaction: commits on a clean exit, rolls back on any exception.

        One per thread at a time: pass its session down instead of opening another.

        Raises:
            NestedTransaction: this thread already holds a write transaction of this store.
            StoreError: a database error inside the block or at commit, translated.
        """
        outer = getattr(self._open, "operation", None)
        if outer is not None:
            raise NestedTransaction(self.url, outer, operation)
        self._open.operation = operation
        try:
            with (
                translated_errors(operation, self.url),
                Session(self._writer, expire_on_commit=False, autoflush=True) as session,
                session.begin(),
            ):
                yield session
        finally:
            self._open.operation = None

    @contextmanager
    def reader(self, operation: str = "read") -> Iterator[Session]:
        """A read-only snapshot (rolled back at the end, never committed): every query in
        the block sees the database as of the first one.

        Raises:
            StoreError: a database error inside the block, translated.
        """
        with (
            translated_errors(operation, self.url),
            Session(self._reader, expire_on_commit=False) as session,
        ):
            try:
                yield session
            finally:
                session.rollback()

    def upgrade(self, revision: str = "head") -> None:
        """Bring this database's schema to `revision` (head by default).

        Raises:
            MigrationFailed: Alembic or the database refused a migration step.
            DatabaseUnavailable: the database cannot be reached.
        """
        upgrade_engine(self._engine, revision)

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None for an empty database).

        Raises:
            StoreError: the database cannot be read.
        """
        with translated_errors("schema revision", self.url), self._engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def is_at_head(self) -> bool:
        """Whether the schema is at the packaged head revision (health checks use this).

        Raises:
            StoreError: the database cannot be read.
        """
        return self.schema_revision() == head_revision()

    def close(self) -> None:
        """Close every pooled connection (the daemon calls this on shutdown)."""
        self._engine.dispose()


def open_store(url: str, *, echo: bool = False) -> Store:
    """A `Store` for a SQLite or Postgres URL (no connection is opened yet).

    Raises:
        InvalidDatabaseUrl: the URL does not parse or names an unsupported backend.
    """
    return Store(create_store_engine(url, echo=echo))


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision the packaged migrations define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships at least the initial revision
    return head


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Run the packaged migrations on an engine's database up to `revision`.

    Raises:
        MigrationFailed: Alembic or the database refused a migration step.
        DatabaseUnavailable: the database cannot be reached.
    """
    url = redact_url(engine.url)
    config = alembic_config()
    try:
        with engine.execution_options(**{_WRITE_OPTION: True}).begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two daemons starting together: the second waits, then finds head.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            before = MigrationContext.configure(connection).get_current_revision()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            after = MigrationContext.configure(connection).get_current_revision()
    except CommandError as exc:
        raise MigrationFailed(url, revision, str(exc)) from exc
    except SQLAlchemyError as exc:
        translated = translate_error(exc, "migration", url)
        if isinstance(translated, DatabaseUnavailable):
            raise translated from exc
        raise MigrationFailed(url, revision, translated.args[0]) from exc
    if before == after:
        _log.info("schema_verified", url=url, revision=after)
    else:
        _log.info("schema_upgraded", url=url, from_revision=before, to_revision=after)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (head by default); a no-op when there.

    Raises:
        InvalidDatabaseUrl: the URL does not parse or names an unsupported backend.
        MigrationFailed: Alembic or the database refused a migration step.
        DatabaseUnavailable: the database cannot be reached.
    """
    engine = create_store_engine(url)
    try:
        upgrade_engine(engine, revision)
    finally:
        engine.dispose()
