"""The value types and enums the settings models are built from.

Exactness: no field accepts a Python `float`. Decimal fields come in two kinds:

- `Usd` and `Gwei` (money): an integer or a quoted decimal string (`"0.10"`). An unquoted
  YAML number with a fraction (`0.10`) is refused with a message asking for quotes, so a
  file means the same to every YAML reader, including ones that would read a binary float.
- `Ratio` (rates, weights, bands): also accepts an unquoted YAML number; the loader has
  already turned its exact source text into a `Decimal` (`harvestd.settings_yaml.YamlNumber`),
  so `0.1` stays exactly one tenth and weights sum exactly.

Addresses must be EIP-55 checksummed; an all-lowercase address carries no checksum and is
refused too. Validators raise `PydanticCustomError` whose message says what is expected;
`harvestd.settings_problems` turns them into `ConfigProblem`s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final

from eth_utils.address import is_checksum_address
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from harvestd.settings_yaml import YamlNumber
from ledger.ids import Address


class Jurisdiction(StrEnum):
    """The tax rule set the owner falls under."""

    US = "us"
    UK = "uk"
    DE = "de"
    CA = "ca"
    GENERIC = "generic"


class LotMethod(StrEnum):
    """How disposals pick lots, where the jurisdiction leaves a choice."""

    FIFO = "fifo"
    LIFO = "lifo"
    HIFO = "hifo"
    SPEC = "spec"
    MIN_TAX = "min_tax"


class Reentry(StrEnum):
    """Where the proceeds of a harvested lot go back in."""

    SAME = "same"
    SUBSTITUTE = "substitute"
    AUTO = "auto"


class RebalanceMode(StrEnum):
    """How far a rebalance trades: all the way to target, or only back to the band's edge."""

    TARGET = "target"
    BAND_EDGE = "band_edge"


class ExecutionMode(StrEnum):
    """Dry-run proposes and simulates only; live signs and sends."""

    DRY_RUN = "dry_run"
    LIVE = "live"


class LogLevel(StrEnum):
    """Lowest level of log event that is written."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(StrEnum):
    """Log line format; `auto` is console on a TTY and JSON lines otherwise."""

    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


class PricingKind(StrEnum):
    """Where a token's price is read from."""

    UNISWAP_V2 = "uniswap_v2"
    UNISWAP_V3 = "uniswap_v3"
    CHAINLINK = "chainlink"


@dataclass(frozen=True, slots=True)
class MonthDay:
    """A day of the year without a year (`04-06`), e.g. the start of a tax year."""

    month: int
    day: int

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_SYMBOL_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,31}")
_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ENV_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MONTH_DAY_RE: Final = re.compile(r"(\d{2})-(\d{2})")
_DAYS_IN_MONTH: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _refuse_float(value: object) -> None:
    if isinstance(value, float):
        raise PydanticCustomError(
            "float_refused", "an exact decimal (an integer or a quoted string), never a float"
        )


def _money_input(value: object) -> object:
    _refuse_float(value)
    if isinstance(value, YamlNumber):
        raise PydanticCustomError(
            "money_unquoted",
            'a quoted decimal string such as "{text}" or an integer: money is never read '
            "from an unquoted YAML number",
            {"text": str(value)},
        )
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", "a decimal number")
    return value


def _ratio_input(value: object) -> object:
    _refuse_float(value)
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", "a decimal number")
    if isinstance(value, YamlNumber):
        return Decimal(value)
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise PydanticCustomError("decimal_finite", "a finite decimal number")
    return Decimal(value)


def _checksum_address(value: object) -> Address:
    if not isinstance(value, str) or _ADDRESS_RE.fullmatch(value) is None:
        raise PydanticCustomError(
            "address_format", "a 0x-prefixed address of 40 hex digits (quote it in YAML)"
        )
    digits = value[2:]
    if digits.isdigit() or digits in (digits.lower(), digits.upper()):
        if not any(ch.isalpha() for ch in digits):
            return Address(value)  # no letters: nothing to checksum
        raise PydanticCustomError(
            "address_no_checksum",
            "an EIP-55 checksummed address (mixed case); an all-lowercase or all-uppercase "
            "address carries no checksum",
        )
    if not is_checksum_address(value):
        raise PydanticCustomError(
            "address_checksum",
            "an address whose EIP-55 checksum is valid; this one fails it (a typo?)",
        )
    return Address(value)


def _symbol(value: object) -> str:
    if not isinstance(value, str) or _SYMBOL_RE.fullmatch(value) is None:
        raise PydanticCustomError(
            "symbol_format", "a token symbol (1-32 letters, digits or . _ + -)"
        )
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or _NAME_RE.fullmatch(value) is None:
        raise PydanticCustomError("name_format", "a name of 1-64 letters, digits, _ or -")
    return value


def _env_name(value: object) -> str:
    if not isinstance(value, str) or _ENV_NAME_RE.fullmatch(value) is None:
        raise PydanticCustomError(
            "env_name_format",
            "the name of an environment variable (letters, digits, _), not its value",
        )
    return value


def _month_day(value: object) -> MonthDay:
    if isinstance(value, MonthDay):
        return value
    match = _MONTH_DAY_RE.fullmatch(value) if isinstance(value, str) else None
    if match is not None:
        month, day = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]:
            return MonthDay(month, day)
    raise PydanticCustomError("month_day", 'a month and day written "MM-DD", e.g. "04-06"')


Usd = Annotated[Decimal, BeforeValidator(_money_input), AfterValidator(_finite)]
"""US dollars, exact; an integer or a quoted decimal string."""

Gwei = Annotated[Decimal, BeforeValidator(_money_input), AfterValidator(_finite)]
"""A gas price in gwei, exact; an integer or a quoted decimal string."""

Ratio = Annotated[Decimal, BeforeValidator(_ratio_input), AfterValidator(_finite)]
"""A dimensionless exact decimal (0.25 = 25%); unquoted YAML numbers are read exactly."""

EvmAddress = Annotated[Address, PlainValidator(_checksum_address)]
"""An EIP-55 checksummed 20-byte address."""

Symbol = Annotated[str, PlainValidator(_symbol)]
"""A token symbol as configured (`USDC`, `wstETH`)."""

Name = Annotated[str, PlainValidator(_name)]
"""A short identifier: a chain name, a wallet label."""

EnvVarName = Annotated[str, PlainValidator(_env_name)]
"""The name of an environment variable."""

MonthDayField = Annotated[MonthDay, PlainValidator(_month_day), PlainSerializer(str)]
"""A `MonthDay` written `"MM-DD"`."""
