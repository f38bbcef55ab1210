"""Dialect-aware statement builders shared by the repository modules (private)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def now_utc() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def upsert_statement(session: Session, model: type[SQLModel]) -> Any:
    """An INSERT for `model` that supports `on_conflict_do_*` on the session's backend."""
    table = model.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
