"""The signing key comes from an environment variable or a keystore, never from the YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from harvestd.errors import SigningKeyUnavailable
from harvestd.settings import EnvKeySource, KeystoreKeySource
from harvestd.settings_keys import load_signing_key

PRIVATE_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


def test_a_key_from_the_environment() -> None:
    key = load_signing_key(EnvKeySource(env="K"), {"K": PRIVATE_KEY[2:].upper()})
    assert key.get_secret_value() == PRIVATE_KEY
    assert PRIVATE_KEY[2:] not in repr(key)


def test_an_unset_or_malformed_variable_is_refused_without_echoing_it() -> None:
    with pytest.raises(SigningKeyUnavailable) as unset:
        load_signing_key(EnvKeySource(env="K"), {})
    assert unset.value.problems[0].key == "execution.key.env"
    with pytest.raises(SigningKeyUnavailable) as short:
        load_signing_key(EnvKeySource(env="K"), {"K": PRIVATE_KEY[:40]})
    assert PRIVATE_KEY[:40] not in str(short.value)


def test_a_key_from_a_keystore(tmp_path: Path) -> None:
    path = tmp_path / "main.json"
    keyfile = Account.encrypt(
        bytes.fromhex(PRIVATE_KEY[2:]), "pw-123456", kdf="pbkdf2", iterations=2
    )
    path.write_text(json.dumps(keyfile), encoding="utf-8")
    path.chmod(0o600)  # a keystore others can read is refused (tests/unit/security)
    source = KeystoreKeySource.model_validate(
        {"keystore": "main.json", "password_env": "PW"}, context={"base_dir": tmp_path}
    )
    assert source.keystore == path.resolve()
    assert load_signing_key(source, {"PW": "pw-123456"}).get_secret_value() == PRIVATE_KEY
    with pytest.raises(SigningKeyUnavailable) as wrong:
        load_signing_key(source, {"PW": "nope"})
    assert "wrong password" in str(wrong.value)
