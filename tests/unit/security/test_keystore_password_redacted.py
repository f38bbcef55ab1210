"""The keystore's password is as secret as the key it opens: once settings name a keystore,
every command's logging redacts the password's value (read from its environment
variable), in JSON lines as in free text."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from eth_account import Account

from harvestd.commands.config import secrets_to_redact
from harvestd.logs import SecretRedactor, configure_logging, get_logger
from harvestd.settings import load_settings
from harvestd.settings_types import LogFormat

LOCAL = Path(__file__).resolve().parents[3] / "config" / "local.yaml"
PASSWORD = "tr0ub4dor-and-3"
KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


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


def _settings_with_keystore(tmp_path: Path) -> Path:
    keystore = tmp_path / "signer.json"
    keystore.write_text(json.dumps(Account.encrypt(KEY, PASSWORD, iterations=2)))
    keystore.chmod(0o600)
    text = LOCAL.read_text().replace(
        "  key:\n    env: HARVESTD_PRIVATE_KEY",
        "  key:\n    keystore: signer.json\n    password_env: HARVESTD_KEYSTORE_PASSWORD",
    )
    assert "password_env" in text
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_the_keystore_password_is_among_the_secrets(tmp_path: Path) -> None:
    settings = load_settings(_settings_with_keystore(tmp_path), environ={})
    assert PASSWORD in secrets_to_redact(settings, {"HARVESTD_KEYSTORE_PASSWORD": PASSWORD})
    assert PASSWORD not in secrets_to_redact(settings, {})


def test_a_logged_password_is_redacted(tmp_path: Path, restore_logging: None) -> None:
    settings = load_settings(_settings_with_keystore(tmp_path), environ={})
    stream = io.StringIO()
    redactor = SecretRedactor(
        secrets_to_redact(settings, {"HARVESTD_KEYSTORE_PASSWORD": PASSWORD})
    )
    configure_logging("info", LogFormat.JSON, stream=stream, redactor=redactor)
    log = get_logger("tests.security")
    log.info("keystore_opened", detail=f"unlocked with {PASSWORD}", password_hint=PASSWORD)
    logging.getLogger("thirdparty").warning("retrying with password %s", PASSWORD)
    rendered = stream.getvalue()
    assert "keystore_opened" in rendered and "retrying with password" in rendered
    assert PASSWORD not in rendered
