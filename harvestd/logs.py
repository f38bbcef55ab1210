"""harvestd's logging: structlog key-value events, redacted, as JSON lines or console text.

`configure_logging(level, format)` is called once by the CLI (never at import). After it:

- every structlog event *and* every stdlib `logging` record (web3, aiohttp, apscheduler,
  alembic, ...) goes through one handler on the root logger, one processor chain, one
  renderer: JSON lines off a TTY, the console renderer on one (`LogFormat.AUTO`);
- each line carries `timestamp` (ISO 8601, UTC, `Z`), `level`, `logger` and `event`
  (a `noun_verb` past-tense name), plus whatever `chain_id`, `wallet` and `proposal_id`
  are bound in the current context (`bound_log_context`);
- `Decimal` values render as exact strings (`"0.1"`), never through float;
- a `SecretRedactor` runs last before rendering and scrubs every value: registered secret
  strings, `SecretStr`s, URL credentials (user-info, API-key path segments, key-like query
  parameters), private-key-shaped hex (64 hex digits; kept only under keys that name a
  hash, such as `tx_hash` or `block_hash`), and 32-byte `bytes` outside hash keys. Keys
  named like secrets (`private_key`, `password`, ...) are replaced whole. Tracebacks are
  formatted to text first, so they are scrubbed too.

Tests assert events with `structlog.testing.capture_logs`, and render real lines by
passing `stream=`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final, TextIO

import structlog
from pydantic import SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

from harvestd.settings_problems import SECRET_KEY_NAMES
from harvestd.settings_secrets import REDACTED, redact_text, remove_secrets
from harvestd.settings_types import LogFormat, LogLevel

__all__ = [
    "SecretRedactor",
    "bound_log_context",
    "configure_logging",
    "get_logger",
]

MIN_SECRET_LENGTH: Final = 6
"""Shorter registered secrets are ignored: redacting them would shred ordinary text."""

_HANDLER_NAME: Final = "harvestd"
_TRUSTED_KEYS: Final = frozenset({"timestamp", "level", "logger", "log_level"})
"""Keys the logging itself fills in; nothing secret can reach them."""
_HASH_KEY_SUFFIXES: Final = ("hash", "hashes", "topic", "topics", "tx", "txs", "tx_id", "selector")
_LEVELS: Final[Mapping[LogLevel, int]] = {
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.INFO: logging.INFO,
    LogLevel.WARNING: logging.WARNING,
    LogLevel.ERROR: logging.ERROR,
}


def _is_hash_key(key: str | None) -> bool:
    return key is not None and key.lower().endswith(_HASH_KEY_SUFFIXES)


def _is_secret_key(key: str | None) -> bool:
    return key is not None and key.lower() in SECRET_KEY_NAMES


class SecretRedactor:
    """A structlog processor that removes secrets from every value of every event.

    Holds the secret strings registered with it (credentials from the settings, the signing
    key once read); shapes that look secret are removed whether registered or not.
    """

    def __init__(self, secrets: Iterable[str | SecretStr] = ()) -> None:
        self._secrets: frozenset[str] = frozenset()
        for secret in secrets:
            self.register(secret)

    def register(self, secret: str | SecretStr) -> None:
        """Remove `secret` from every later event (ignored when shorter than 6 characters)."""
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if len(value) >= MIN_SECRET_LENGTH:
            self._secrets = self._secrets | {value}

    def redact(self, value: object, key: str | None = None) -> object:
        """`value` (of the event key `key`) with every secret removed, recursively."""
        if _is_secret_key(key) and value is not None:
            return REDACTED
        if isinstance(value, str):
            return self._redact_str(value, key)
        if value is None or isinstance(value, bool | int | float | Decimal | Enum):
            return value
        if isinstance(value, SecretStr):
            return REDACTED
        if isinstance(value, bytes | bytearray):
            if len(value) == 32 and not _is_hash_key(key):
                return REDACTED
            return self._redact_str("0x" + bytes(value).hex(), key)
        if isinstance(value, Mapping):
            return {k: self.redact(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(item, key) for item in value]
        if isinstance(value, datetime | date):
            return value
        return self._redact_str(str(value), key)

    def _redact_str(self, text: str, key: str | None) -> str:
        if _is_hash_key(key):
            # A hash is public and needed for audit; only registered secrets go.
            return remove_secrets(text, self._secrets)
        return redact_text(text, self._secrets)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return {
            key: value if key in _TRUSTED_KEYS else self.redact(value, key)
            for key, value in event_dict.items()
        }


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


def _dumps(obj: Any, **kwargs: Any) -> str:
    kwargs["default"] = _json_default
    return json.dumps(obj, **kwargs)


def _pre_chain() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


_CHATTY_LIBRARIES: Final = ("alembic",)
_WIRE_LOGGERS: Final = ("web3.providers", "web3.manager", "web3._utils.http_session_manager")

def configure_logging(
    level: LogLevel | str = LogLevel.INFO,
    format: LogFormat | str = LogFormat.AUTO,
    *,
    stream: TextIO | None = None,
    redactor: SecretRedactor | None = None,
) -> SecretRedactor:
    """Route structlog and stdlib logging through one redacting renderer on `stream`.

    `stream` defaults to stderr (stdout stays free for command output). Calling it again
    replaces the previous configuration. Returns the redactor, so the caller can register
    secrets it learns later (e.g. the signing key).

    Raises:
        ValueError: `level` or `format` is not one of the known names.
    """
    log_level = LogLevel(level)
    log_format = LogFormat(format)
    out = sys.stderr if stream is None else stream
    if log_format is LogFormat.AUTO:
        log_format = LogFormat.CONSOLE if _is_tty(out) else LogFormat.JSON
    redactor = redactor if redactor is not None else SecretRedactor()
    renderer: Processor
    if log_format is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_is_tty(out), pad_event_to=28)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_pre_chain(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_LEVELS[log_level])
    # Libraries that narrate routine steps at INFO (alembic: one line per migration
    # context) would drown the events users review; their warnings still come through.
    for chatty in _CHATTY_LIBRARIES:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, _LEVELS[log_level]))
    # web3 logs every raw request and response with the full endpoint URL at DEBUG, and
    # providers echo API keys in their error bodies: those never reach our logs, at any
    # level (the adapters log what matters, redacted).
    for wire in _WIRE_LOGGERS:
        logging.getLogger(wire).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_pre_chain(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: tests swap processors with capture_logs, and a reconfiguration
        # must reach loggers created earlier.
        cache_logger_on_first_use=False,
    )
    return redactor


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named `name` (the module's `__name__` by convention)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def bound_log_context(
    *,
    chain_id: int | None = None,
    wallet: str | None = None,
    proposal_id: int | str | None = None,
) -> Iterator[None]:
    """Add `chain_id`, `wallet` and/or `proposal_id` to every event logged inside the block.

    Uses contextvars, so it is per asyncio task; values left as None are not bound.
    """
    values = {
        key: value
        for key, value in (("chain_id", chain_id), ("wallet", wallet), ("proposal_id", proposal_id))
        if value is not None
    }
    with structlog.contextvars.bound_contextvars(**values):
        yield
