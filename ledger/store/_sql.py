"""Dialect-aware statement builders shared by the repository modules (private)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

_T = TypeVar("_T")

BATCH_SIZE = 500
"""Rows per multi-VALUES INSERT: keeps SQLite well under its bound-parameter limit."""


def now_utc() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def upsert_statement(session: Session, model: type[SQLModel]) -> Any:
    """An INSERT for `model` that supports `on_conflict_do_*` on the session's backend."""
    table = model.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def chunked(items: Sequence[_T], size: int = BATCH_SIZE) -> Iterator[Sequence[_T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
