"""Exact money arithmetic for the lot engine: values as integer units, and fair splits.

Inside the engine every value (cost, proceeds, fee, gain) is an `int` count of
10**-18 of the reporting currency ("value units"); the public values convert to and
from `Decimal` at the edges. Integers are exact and several times faster than `Decimal`.

Rounding rules (fixed, documented, the same everywhere):

- A `Decimal` with more than 18 decimal places is rounded half-to-even to 18 places
  on the way in (`to_units`). Nothing else is ever rounded on the way in or out.
- When a lot (or a pool, or a proceeds total) of `whole` units carrying `total` value
  is split and `part` units are taken, the taken part gets
  `round_half_even(total * part / whole)` value units (`share`) and the rest keeps
  `total - that`, so the sum of the pieces is always exactly the original value.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Final

VALUE_PLACES: Final = 18
"""Decimal places of the reporting currency the engine keeps exactly."""

VALUE_SCALE: Final = 10**VALUE_PLACES
"""Value units per one unit of the reporting currency."""

_ZERO: Final = Decimal(0)
_CONTEXT: Final = Context(prec=120, rounding=ROUND_HALF_EVEN, Emax=10**6, Emin=-(10**6))

UNITS_CONTEXT: Final = _CONTEXT
"""The exact context `from_units` scales in: `Decimal(units).scaleb(-VALUE_PLACES,
UNITS_CONTEXT)` is `from_units(units)` for non-zero `units`, written out in hot loops."""


def to_units(value: Decimal) -> int:
    """Convert a currency amount to value units, rounding half-to-even past 18 places.

    Raises:
        ValueError: the value is not a finite number (NaN or infinity).
    """
    try:
        numerator, denominator = value.as_integer_ratio()
    except (ValueError, OverflowError):
        raise ValueError(f"not a finite value: {value}") from None
    if denominator == 1:
        return numerator * VALUE_SCALE
    quotient, remainder = divmod(numerator * VALUE_SCALE, denominator)
    if remainder:
        twice = remainder * 2
        if twice > denominator or (twice == denominator and quotient & 1):
            quotient += 1
    return quotient


def from_units(units: int) -> Decimal:
    """Convert value units back to an exact `Decimal` of the reporting currency, always at
    the engine's fixed scale of 18 places (`Decimal("8004.000000000000000000")`), zero as
    `Decimal(0)`; `format_decimal` renders either without trailing zeros.

    Raises:
        Nothing.
    """
    if not units:
        return _ZERO
    return Decimal(units).scaleb(-VALUE_PLACES, _CONTEXT)


def share(total: int, part: int, whole: int) -> int:
    """The value units carried by `part` of `whole` quantity that carries `total`.

    Rounded half-to-even; `share(t, w, w) == t` exactly. `whole` must be positive.

    Raises:
        ZeroDivisionError: `whole` is zero.
    """
    if part == whole:
        return total
    quotient, remainder = divmod(total * part, whole)
    twice = remainder * 2
    if twice > whole or (twice == whole and quotient & 1):
        quotient += 1
    return quotient


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Add `Decimal`s exactly (the default context would round past 28 digits).

    Raises:
        Nothing.
    """
    total = Decimal(0)
    add = _CONTEXT.add
    for value in values:
        total = add(total, value)
    return total


def exact_difference(left: Decimal, right: Decimal) -> Decimal:
    """`left - right`, exactly (up to 120 significant digits).

    Raises:
        Nothing.
    """
    return _CONTEXT.subtract(left, right)


def exact_product(left: Decimal, right: Decimal) -> Decimal:
    """Multiply two `Decimal`s exactly (up to 120 significant digits).

    Raises:
        Nothing.
    """
    return _CONTEXT.multiply(left, right)


def format_decimal(value: Decimal) -> str:
    """Render a `Decimal` exactly, in plain notation, without trailing zeros ("8004", "0.5").

    Raises:
        Nothing.
    """
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def amount_to_decimal(amount_raw: int, decimals: int) -> Decimal:
    """An asset amount in raw units as an exact `Decimal` of whole tokens.

    Raises:
        Nothing.
    """
    return Decimal(amount_raw).scaleb(-decimals, _CONTEXT)
