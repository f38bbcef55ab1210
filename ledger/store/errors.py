"""The store's exceptions: every database problem the store reports, as harvestd errors.

    HarvestdError (ledger.errors)
    └── LedgerError (ledger.errors)
        └── StoreError                  the store refused a write or a read
            ├── InvalidDatabaseUrl      a URL SQLAlchemy cannot parse or has no driver for
            ├── DatabaseUnavailable     the server or file cannot be reached / opened / locked
            ├── MigrationFailed         Alembic could not bring the schema to head
            ├── UnstorableValue         a value a money/time column cannot hold exactly
            ├── IntegrityViolation      a constraint refused a write (unique, foreign key, ...)
            ├── TransactionConflict     a deadlock / serialization failure: retry the transaction
            ├── DatabaseFailure         any other driver error, with the operation that failed
            ├── NestedTransaction       a write transaction opened inside another in one thread
            ├── NotFound                a row looked up by its id does not exist
            ├── EquivalentProposalOpen  an open proposal with the same fingerprint exists
            └── InvalidTransition       a status/state change the state machine forbids

`ledger.store.db` translates SQLAlchemy and driver exceptions into these at the adapter:
nothing above the store ever sees a `sqlalchemy.exc` exception. URLs in messages are
always redacted (`ledger.store.db.redact_url`).
"""

from __future__ import annotations

from ledger.errors import LedgerError


class StoreError(LedgerError):
    """The store refused a write or a read."""


class InvalidDatabaseUrl(StoreError):
    """The database URL cannot be parsed or names a backend the store does not support."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"invalid database URL {url!r}: {reason}")


class DatabaseUnavailable(StoreError):
    """The database could not be reached, opened, or stayed locked past the timeout."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"database {url!r} is unavailable: {reason}")


class MigrationFailed(StoreError):
    """Alembic could not bring the schema to the wanted revision."""

    def __init__(self, url: str, revision: str, reason: str) -> None:
        self.url = url
        self.revision = revision
        self.reason = reason
        super().__init__(f"migrating {url!r} to {revision} failed: {reason}")


class UnstorableValue(StoreError):
    """A value that a column type cannot keep exactly (a float, NaN, an out-of-range int,
    a naive datetime)."""

    def __init__(self, column_type: str, value: object, expected: str) -> None:
        self.column_type = column_type
        self.value = value
        self.expected = expected
        super().__init__(f"{column_type} cannot store {value!r}: expected {expected}")


class IntegrityViolation(StoreError):
    """A database constraint refused a write."""

    def __init__(self, operation: str, detail: str) -> None:
        self.operation = operation
        self.detail = detail
        super().__init__(f"{operation} violated a constraint: {detail}")


class TransactionConflict(StoreError):
    """The database aborted the transaction to resolve a conflict (deadlock, serialization
    failure); nothing was written and running it again is safe."""

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"{operation} was aborted by a concurrent transaction: {reason}")


class DatabaseFailure(StoreError):
    """Any other database error, with what the store was doing."""

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"{operation} failed: {reason}")


class NestedTransaction(StoreError):
    """A write transaction was opened while the same thread already holds one (on SQLite
    it would wait on its own lock until the busy timeout)."""

    def __init__(self, url: str, outer: str, inner: str) -> None:
        self.url = url
        self.outer = outer
        self.inner = inner
        super().__init__(
            f"{inner} was opened inside {outer} on {url!r}: pass the outer session instead"
        )


class NotFound(StoreError):
    """A row looked up by its identity does not exist."""

    def __init__(self, entity: str, key: str) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"no {entity} {key}")


class EquivalentProposalOpen(StoreError):
    """A proposal with the same fingerprint is still open, approved or executing."""

    def __init__(self, fingerprint: str, existing_id: str) -> None:
        self.fingerprint = fingerprint
        self.existing_id = existing_id
        super().__init__(
            f"an equivalent proposal {existing_id} is already open (fingerprint {fingerprint})"
        )


class InvalidTransition(StoreError):
    """A proposal status or execution state change that its state machine forbids."""

    def __init__(self, entity: str, key: str, current: str, wanted: str) -> None:
        self.entity = entity
        self.key = key
        self.current = current
        self.wanted = wanted
        super().__init__(f"{entity} {key} cannot go from {current} to {wanted}")
