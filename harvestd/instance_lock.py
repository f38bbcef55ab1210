"""One daemon per store: a lock taken before migrating, held for the daemon's lifetime.

- SQLite file `X.db`: an OS file lock on `X.db.lock` (filelock), beside the database; the
  holder writes its pid to `X.db.daemon.pid` so a second daemon can name it. The OS drops
  the lock when the holder dies, so a crashed daemon never leaves a stale lock.
- Postgres: `pg_try_advisory_lock` on a dedicated psycopg connection (autocommit, TCP
  keepalives) held open until release; advisory locks are per database, and the server
  drops it when the connection closes. The connection's `application_name` carries the
  holder's pid, so a second daemon finds it in `pg_stat_activity`.
- In-memory SQLite: private to the process; nothing to lock.

Errors:

    HarvestdError (ledger.errors)
    └── InstanceLockError
        ├── InstanceAlreadyRunning    another daemon holds the store (names it and the pid)
        └── InstanceLockUnavailable   the lock itself could not be taken (I/O, connection)
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Final, Protocol

import psycopg
from filelock import FileLock, Timeout
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from harvestd.logs import get_logger
from ledger.errors import HarvestdError

__all__ = [
    "DAEMON_LOCK_KEY",
    "InstanceAlreadyRunning",
    "InstanceLock",
    "InstanceLockError",
    "InstanceLockUnavailable",
    "acquire_instance_lock",
]

log = get_logger(__name__)

DAEMON_LOCK_KEY: Final[int] = 0x6861727664616D6E
"""The Postgres advisory lock key ("harvdamn"); distinct from the store's migration lock."""

_APPLICATION_PREFIX: Final = "harvestd daemon pid="
_APPLICATION_RE: Final = re.compile(re.escape(_APPLICATION_PREFIX) + r"(\d+)")


class InstanceLockError(HarvestdError):
    """The single-instance lock could not be taken."""


class InstanceAlreadyRunning(InstanceLockError):
    """Another daemon already runs on this store."""

    def __init__(self, store: str, holder_pid: int | None) -> None:
        self.store = store
        self.holder_pid = holder_pid
        holder = f"pid {holder_pid}" if holder_pid is not None else "pid unknown"
        super().__init__(
            f"another harvestd daemon is already running on the store {store} ({holder}); "
            "stop it first, or point this one at another database"
        )


class InstanceLockUnavailable(InstanceLockError):
    """The lock could not be taken for a reason other than another daemon holding it."""

    def __init__(self, store: str, reason: str) -> None:
        self.store = store
        self.reason = reason
        super().__init__(f"cannot take the single-instance lock on the store {store}: {reason}")


class InstanceLock(Protocol):
    """A held single-instance lock."""

    store: str
    """The store it guards (URL with the password redacted)."""

    def release(self) -> None:
        """Release the lock (idempotent)."""


class _NoLock:
    """In-memory SQLite: private to this process, nothing to lock."""

    def __init__(self, store: str) -> None:
        self.store = store

    def release(self) -> None:
        """Nothing to release."""


class _SqliteLock:
    def __init__(self, store: str, database: Path) -> None:
        self.store = store
        self.lock_path = database.with_name(database.name + ".lock")
        self.pid_path = database.with_name(database.name + ".daemon.pid")
        # Not thread-local: taken in a worker thread, released from the event loop thread.
        self._lock = FileLock(self.lock_path, timeout=0, thread_local=False, is_singleton=False)

    def acquire(self) -> None:
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire(timeout=0)
        except Timeout as exc:
            raise InstanceAlreadyRunning(self.store, self._read_holder_pid()) from exc
        except OSError as exc:
            raise InstanceLockUnavailable(self.store, str(exc)) from exc
        try:
            self.pid_path.write_text(f"{os.getpid()}\n", encoding="utf-8")
        except OSError as exc:
            self._lock.release()
            raise InstanceLockUnavailable(self.store, str(exc)) from exc

    def _read_holder_pid(self) -> int | None:
        try:
            text = self.pid_path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                self.pid_path.unlink()
            self._lock.release()


class _PostgresLock:
    def __init__(self, store: str, conninfo: str) -> None:
        self.store = store
        self._conninfo = conninfo
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def acquire(self) -> None:
        try:
            connection = psycopg.connect(
                self._conninfo,
                autocommit=True,
                application_name=f"{_APPLICATION_PREFIX}{os.getpid()}",
                connect_timeout=10,
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
            )
        except psycopg.Error as exc:
            raise InstanceLockUnavailable(self.store, _first_line(exc)) from exc
        try:
            row = connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (DAEMON_LOCK_KEY,)
            ).fetchone()
            if row is not None and row[0] is True:
                self._connection = connection
                return
            holder = self._find_holder_pid(connection)
        except psycopg.Error as exc:
            connection.close()
            raise InstanceLockUnavailable(self.store, _first_line(exc)) from exc
        connection.close()
        raise InstanceAlreadyRunning(self.store, holder)

    def _find_holder_pid(self, connection: psycopg.Connection[tuple[object, ...]]) -> int | None:
        row = connection.execute(
            """
            SELECT a.application_name
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid::text::bigint = %s AND l.objid::text::bigint = %s
            """,
            (DAEMON_LOCK_KEY >> 32, DAEMON_LOCK_KEY & 0xFFFFFFFF),
        ).fetchone()
        if row is None:
            return None
        match = _APPLICATION_RE.fullmatch(str(row[0]))
        return int(match.group(1)) if match else None

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.execute("SELECT pg_advisory_unlock(%s)", (DAEMON_LOCK_KEY,))
            self._connection.close()
            self._connection = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def acquire_instance_lock(database_url: str) -> InstanceLock:
    """Take the single-instance lock of the store at `database_url`; hold it until release.

    Raises:
        InstanceAlreadyRunning: another daemon holds the lock (its pid named when known).
        InstanceLockUnavailable: the URL is unusable, or the lock file or database
            cannot be reached.
    """
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError) as exc:
        raise InstanceLockUnavailable("(unparsable URL)", "not a database URL") from exc
    store = url.render_as_string(hide_password=True)
    backend = url.drivername.partition("+")[0]
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            return _NoLock(store)
        sqlite_lock = _SqliteLock(store, Path(database).expanduser().resolve())
        sqlite_lock.acquire()
        log.info("instance_lock_acquired", store=store, lock_file=str(sqlite_lock.lock_path))
        return sqlite_lock
    if backend in ("postgresql", "postgres"):
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        pg_lock = _PostgresLock(store, conninfo)
        pg_lock.acquire()
        log.info("instance_lock_acquired", store=store, advisory_key=DAEMON_LOCK_KEY)
        return pg_lock
    raise InstanceLockUnavailable(store, f"backend {backend!r} is not supported")
