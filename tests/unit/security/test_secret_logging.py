"""A private key read from the environment, and credentials in an RPC URL, never reach a
rendered log line: real lines rendered through `harvestd.logs` (JSON and console), from
structlog and from stdlib `logging`, in values, nested values, positional arguments and
exception tracebacks."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from harvestd.logs import configure_logging, get_logger
from harvestd.settings import EnvKeySource
from harvestd.settings_keys import load_signing_key
from harvestd.settings_types import LogFormat

KEY_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
KEY = "0x" + KEY_HEX
RPC_URL = "https://alice:hunter2-pass@rpc.example.com/v3/abcdef0123456789abcdef0123456789"
URL_SECRETS = ("hunter2-pass", "abcdef0123456789abcdef0123456789", "alice:")


def forms_of_key() -> tuple[str, ...]:
    """Every way the key could be spelled in text."""
    return (KEY_HEX, KEY_HEX.upper(), KEY_HEX[:32], KEY_HEX[32:])


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


def _render(fmt: LogFormat) -> str:
    stream = io.StringIO()
    redactor = configure_logging("debug", fmt, stream=stream)
    key = load_signing_key(EnvKeySource(env="HARVESTD_TEST_KEY"), {"HARVESTD_TEST_KEY": KEY})
    redactor.register(key)
    log = get_logger("tests.security")
    secret = key.get_secret_value()
    log.info("key_loaded", signer_key=secret, nested={"deep": [secret, {"k": secret}]})
    log.info("rpc_connected", rpc_url=RPC_URL, note=f"calling {RPC_URL} with {secret}")
    log.info("signing_attempted", raw=bytes.fromhex(KEY_HEX), upper=KEY_HEX.upper())
    log.info("trade_sent", tx_hash="0x" + "ab" * 32, secret_obj=key)
    try:
        raise ValueError(f"node said no for key {secret} at {RPC_URL}")
    except ValueError:
        log.exception("request_failed")
    logging.getLogger("web3.providers").warning("request to %s with %s failed", RPC_URL, secret)
    try:
        raise RuntimeError(secret)
    except RuntimeError:
        logging.getLogger("aiohttp.client").exception("boom %s", RPC_URL)
    return stream.getvalue()


@pytest.mark.parametrize("fmt", [LogFormat.JSON, LogFormat.CONSOLE])
def test_signing_key_and_url_credentials_never_rendered(
    fmt: LogFormat, restore_logging: None
) -> None:
    text = _render(fmt)
    # Lines were written (the test would be vacuous otherwise), tracebacks included.
    for event in ("key_loaded", "rpc_connected", "request_failed", "trade_sent"):
        assert event in text
    assert "Traceback" in text and "rpc.example.com" in text
    lowered = text.lower()
    for form in forms_of_key():
        assert form.lower() not in lowered, form
    for part in URL_SECRETS:
        assert part not in text, part
    # A transaction hash is public and kept for audit.
    assert "ab" * 32 in text


def test_unregistered_key_shaped_values_are_redacted(restore_logging: None) -> None:
    """Even a key the redactor was never told about (64 hex digits outside hash keys)."""
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream=stream)
    get_logger("tests.security").info("config_loaded", value=KEY, text=f"key={KEY_HEX}.")
    assert KEY_HEX not in stream.getvalue().lower()


def test_key_spelled_with_an_upper_case_prefix_is_redacted(restore_logging: None) -> None:
    """`0X` + upper-case hex is the same key (`str.upper()` of it, some tools print it so);
    neither the registered secret (compared case-sensitively) nor the key-shaped pattern
    (`(?:0x)?` only) catches it today."""
    stream = io.StringIO()
    redactor = configure_logging("info", LogFormat.JSON, stream=stream)
    redactor.register(KEY)
    get_logger("tests.security").info("key_loaded", shown=KEY.upper())
    assert KEY_HEX not in stream.getvalue().lower()
