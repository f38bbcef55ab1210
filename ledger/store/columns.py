"""Exact column types: raw token amounts, USD decimals, UTC timestamps and JSON documents.

SQLite has no exact decimal and no integer wider than 64 bits, so money never rides on a
native SQLite number:

- `U256`: a raw token amount, any int in -(2**256-1) .. 2**256-1 (negative for deltas).
  Postgres: NUMERIC(78, 0). SQLite: TEXT in an order-preserving encoding, so that `=`,
  `<`, `>` and ORDER BY behave the same on both backends: a non-negative value is its
  78-digit zero-padded decimal; a negative value is "-" followed by the 78-digit
  zero-padded 10**78 + value. (SUM() is not meaningful on SQLite: add up in Python.)
- `UsdDecimal`: an exact `Decimal`. Postgres: NUMERIC (unconstrained). SQLite: TEXT, the
  Decimal's own string, read back with `Decimal(text)`. Not orderable in SQL on SQLite.
- `UtcTimestamp`: a timezone-aware datetime, stored as UTC (TIMESTAMP WITH TIME ZONE on
  Postgres, ISO text on SQLite) and always read back aware, in UTC.
- `JsonDocument`: JSON whose numbers must be ints; a `Decimal` is written as its string
  and comes back as that string. Floats are refused.

Each type refuses what it cannot keep exactly (a float, NaN, an int out of range, a naive
datetime) with `UnstorableValue`, which `ledger.store.db` lets through untranslated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Numeric, Text
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from ledger.store.errors import UnstorableValue

U256_MAX = 2**256 - 1
"""The largest raw amount an ERC-20 balance (a uint256) can hold."""

_PAD = 78
_SHIFT: int = 10**_PAD


def encode_u256_text(value: int) -> str:
    """Encode an int for SQLite's TEXT so that string order is numeric order.

    Raises:
        UnstorableValue: `value` is not an int or is outside ±(2**256-1).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnstorableValue("U256", value, "an int")
    if not -U256_MAX <= value <= U256_MAX:
        raise UnstorableValue("U256", value, "an int within ±(2**256-1)")
    if value >= 0:
        return f"{value:0{_PAD}d}"
    return "-" + f"{_SHIFT + value:0{_PAD}d}"


def decode_u256_text(text: str) -> int:
    """Decode what `encode_u256_text` wrote (plain decimal text is accepted too)."""
    if text.startswith("-") and len(text) == _PAD + 1:
        return int(text[1:]) - _SHIFT
    return int(text)


class U256(TypeDecorator[int]):
    """A raw token amount: NUMERIC(78,0) on Postgres, order-preserving TEXT on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0, asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        text = encode_u256_text(value)
        if dialect.name == "postgresql":
            return Decimal(value)
        return text

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return int(value)
        if isinstance(value, int):
            return value
        return decode_u256_text(str(value))

    def __repr__(self) -> str:
        return "U256()"


def _check_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise UnstorableValue("UsdDecimal", value, "a Decimal (never a float)")
    number = Decimal(value)
    if not number.is_finite():
        raise UnstorableValue("UsdDecimal", value, "a finite Decimal")
    return number


class UsdDecimal(TypeDecorator[Decimal]):
    """An exact Decimal: NUMERIC on Postgres, the Decimal's string on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = _check_decimal(value)
        if dialect.name == "postgresql":
            return number
        return str(number)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        return Decimal(str(value))

    def __repr__(self) -> str:
        return "UsdDecimal()"


class UtcTimestamp(TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC and read back aware in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise UnstorableValue("UtcTimestamp", value, "a datetime")
        if value.utcoffset() is None:
            raise UnstorableValue("UtcTimestamp", value, "a timezone-aware datetime")
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite's DATETIME text has no offset; everything stored is UTC.
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def __repr__(self) -> str:
        return "UtcTimestamp()"


JsonValue = None | bool | int | str | Decimal | Sequence["JsonValue"] | Mapping[str, "JsonValue"]
"""What a `JsonDocument` accepts; Decimals are written as strings, floats are refused."""


def to_json_safe(value: object) -> Any:
    """Turn a JsonValue into plain JSON (Decimal → str), refusing floats and other types.

    Raises:
        UnstorableValue: a float, a non-string key, or a type JSON cannot hold exactly.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(_check_decimal(value))
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnstorableValue("JsonDocument", key, "string keys")
            out[key] = to_json_safe(item)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json_safe(item) for item in value]
    raise UnstorableValue("JsonDocument", value, "None, bool, int, str, Decimal, list or dict")


class JsonDocument(TypeDecorator[Any]):
    """A JSON document with exact numbers: Decimals stored as strings, floats refused."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return to_json_safe(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return value

    def __repr__(self) -> str:
        return "JsonDocument()"
