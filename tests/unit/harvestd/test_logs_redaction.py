"""Logging: events as key-values, real rendered lines, and secrets scrubbed from all of them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest
import structlog
from pydantic import SecretStr
from structlog.testing import capture_logs

from harvestd.logs import SecretRedactor, bound_log_context, configure_logging, get_logger

PRIVATE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TX_HASH = "0x" + "ab" * 32
INFURA = "https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A JSON-lines stream the logging is configured onto; restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    out = io.StringIO()
    yield out
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_events_are_captured_as_key_values() -> None:
    log = get_logger(__name__)
    with capture_logs() as events, bound_log_context(chain_id=31337, proposal_id=7):
        log.info("proposal_created", value_usd=Decimal("12.50"), trades=2)
    assert events == [
        {
            "event": "proposal_created",
            "value_usd": Decimal("12.50"),
            "trades": 2,
            "log_level": "info",
        }
    ]


def test_json_lines_carry_utc_timestamp_context_and_exact_decimals(stream: io.StringIO) -> None:
    configure_logging("info", "json", stream=stream)
    log = get_logger("harvestd.test")
    with bound_log_context(chain_id=31337, wallet="0x70997970C51812dc3A010C7d01b50e0d17dc79C8"):
        log.info("blocks_indexed", from_block=1, to_block=9, value_usd=Decimal("0.1"))
    log.debug("not_written")
    [line] = _lines(stream)
    assert line["event"] == "blocks_indexed"
    assert line["chain_id"] == 31337
    assert line["wallet"] == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert line["value_usd"] == "0.1"
    assert line["level"] == "info"
    assert line["logger"] == "harvestd.test"
    timestamp = str(line["timestamp"])
    assert timestamp.endswith("Z") and "T" in timestamp


def test_the_redactor_scrubs_keys_urls_and_registered_secrets(stream: io.StringIO) -> None:
    redactor = configure_logging("info", "json", stream=stream)
    redactor.register(SecretStr("correct-horse-battery"))
    log = get_logger("harvestd.test")
    log.info(
        "trade_sent",
        tx_hash=TX_HASH,
        rpc_url="https://alice:pa55word@node.example:8545/rpc",
        endpoint=INFURA,
        query_url="https://api.example/v1?apikey=SECRETKEY123&chain=1",
        key_material=PRIVATE_KEY,
        note=f"signed with {PRIVATE_KEY[2:]} using correct-horse-battery",
        password="short",
        nested={"urls": [INFURA], "secret": SecretStr("x")},
        raw_key=bytes.fromhex(PRIVATE_KEY[2:]),
    )
    text = stream.getvalue()
    [line] = _lines(stream)
    for leaked in (
        PRIVATE_KEY[2:],
        "pa55word",
        "alice",
        "0123456789abcdef0123456789abcdef",
        "SECRETKEY123",
        "correct-horse-battery",
        "short",
    ):
        assert leaked not in text
    assert line["tx_hash"] == TX_HASH  # a hash stays readable for audit
    assert line["rpc_url"] == "https://***@node.example:8545/rpc"
    assert line["endpoint"] == "https://mainnet.infura.io/v3/***"
    assert line["query_url"] == "https://api.example/v1?apikey=***&chain=1"
    assert line["key_material"] == "***"
    assert line["note"] == "signed with *** using ***"
    assert line["password"] == "***"
    assert line["nested"] == {"urls": ["https://mainnet.infura.io/v3/***"], "secret": "***"}
    assert line["raw_key"] == "***"


def test_stdlib_logging_and_tracebacks_are_routed_and_scrubbed(stream: io.StringIO) -> None:
    configure_logging("info", "json", stream=stream)
    logging.getLogger("web3.providers").warning("request to %s failed", INFURA)
    log = get_logger("harvestd.test")
    try:
        raise RuntimeError(f"could not sign with {PRIVATE_KEY}")
    except RuntimeError:
        log.exception("trade_failed")
    first, second = _lines(stream)
    assert first["event"] == "request to https://mainnet.infura.io/v3/*** failed"
    assert first["logger"] == "web3.providers" and first["level"] == "warning"
    assert second["event"] == "trade_failed"
    assert "RuntimeError: could not sign with ***" in str(second["exception"])
    assert PRIVATE_KEY[2:] not in stream.getvalue()


def test_console_format_renders_and_redacts(stream: io.StringIO) -> None:
    configure_logging("debug", "console", stream=stream)
    get_logger("harvestd.test").debug("rpc_connected", url=INFURA)
    text = stream.getvalue()
    assert "rpc_connected" in text
    assert "infura.io/v3/***" in text
    assert "0123456789abcdef0123456789abcdef" not in text


def test_auto_format_is_json_off_a_tty(stream: io.StringIO) -> None:
    configure_logging("info", "auto", stream=stream)
    get_logger("harvestd.test").info("daemon_started")
    assert _lines(stream)[0]["event"] == "daemon_started"


def test_short_registered_secrets_are_ignored() -> None:
    redactor = SecretRedactor(["abc"])
    assert redactor.redact("abc def") == "abc def"
