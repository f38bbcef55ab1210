"""Secrets in errors and files: every error raised while handling a private key says
nothing of it (str and repr); a keystore readable by group or others is refused; an RPC
URL's credentials are gone from every redacted form; a key or a credential written into
the YAML is refused without being echoed back."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account
from eth_typing import HexStr

from harvestd.errors import ConfigInvalid, SigningKeyUnavailable
from harvestd.settings import EnvKeySource, KeystoreKeySource, validate_settings
from harvestd.settings_keys import load_signing_key
from harvestd.settings_secrets import redact_text
from indexer.rpc import redact_url as redact_rpc_url
from ledger.store.db import redact_url as redact_db_url

KEY_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
KEY = "0x" + KEY_HEX
PASSWORD = "correct horse battery staple"
RPC_URL = "https://alice:hunter2-pass@rpc.example.com/v3/abcdef0123456789abcdef0123456789?apikey=QWERTY123456"
URL_SECRETS = ("hunter2-pass", "abcdef0123456789abcdef0123456789", "QWERTY123456", "alice")


def _leaks(error: BaseException, secrets: tuple[str, ...]) -> list[str]:
    text = f"{error}\n{error!r}\n{error.args!r}\n{vars(error)!r}".lower()
    return [s for s in secrets if s.lower() in text]


@pytest.mark.parametrize(
    "value",
    [
        KEY + "zz",  # one typo away from the real key
        KEY_HEX[:-1],  # one digit short
        " " + KEY_HEX + "0",  # one digit long
        KEY_HEX.replace("4", "g", 1),  # not hex
        f"{KEY} {KEY}",  # pasted twice
    ],
)
def test_env_key_errors_never_contain_the_value(value: str) -> None:
    with pytest.raises(SigningKeyUnavailable) as refused:
        load_signing_key(EnvKeySource(env="HARVESTD_KEY"), {"HARVESTD_KEY": value})
    assert _leaks(refused.value, (KEY_HEX, KEY_HEX[1:-1], value.strip())) == []
    assert "HARVESTD_KEY" in str(refused.value)


def _keystore(tmp_path: Path, mode: int) -> KeystoreKeySource:
    path = tmp_path / "signer.json"
    path.write_text(json.dumps(Account.encrypt(HexStr(KEY), PASSWORD, iterations=2)))
    path.chmod(mode)
    return KeystoreKeySource(keystore=path, password_env="HARVESTD_KEY_PASSWORD")


def test_private_keystore_is_read(tmp_path: Path) -> None:
    source = _keystore(tmp_path, 0o600)
    key = load_signing_key(source, {"HARVESTD_KEY_PASSWORD": PASSWORD})
    assert key.get_secret_value() == KEY


def test_wrong_keystore_password_error_says_neither_password_nor_key(tmp_path: Path) -> None:
    source = _keystore(tmp_path, 0o600)
    with pytest.raises(SigningKeyUnavailable) as refused:
        load_signing_key(source, {"HARVESTD_KEY_PASSWORD": PASSWORD + "!"})
    assert _leaks(refused.value, (KEY_HEX, PASSWORD)) == []


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666], ids=oct)
def test_keystore_readable_by_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    """Like ssh with a private key file: a keystore others can read is refused, and the
    error names the file and the permission expected (and still not the key)."""
    source = _keystore(tmp_path, mode)
    assert stat.S_IMODE(source.keystore.stat().st_mode) == mode
    with pytest.raises(SigningKeyUnavailable) as refused:
        load_signing_key(source, {"HARVESTD_KEY_PASSWORD": PASSWORD})
    assert str(source.keystore) in str(refused.value)
    assert _leaks(refused.value, (KEY_HEX, PASSWORD)) == []


@pytest.mark.parametrize("redact", [redact_rpc_url, redact_text])
def test_rpc_url_credentials_are_redacted(redact: object) -> None:
    assert callable(redact)
    shown = str(redact(RPC_URL))
    assert "rpc.example.com" in shown
    assert [s for s in URL_SECRETS if s in shown] == []


def test_database_url_password_is_redacted() -> None:
    shown = redact_db_url("postgresql+psycopg://harvestd:s3cret-db-pass@db.internal:5432/ledger")
    assert "s3cret-db-pass" not in shown and "db.internal" in shown


def _yaml(extra_execution: str = "", rpc_url: str = "http://127.0.0.1:8545") -> str:
    return f"""
owner:
  jurisdiction: us
  method: hifo
  tax_rates: {{short_term: 0.35, long_term: 0.15}}
chains:
  - name: local
    chain_id: 31337
    rpc_url: {rpc_url}
    native_symbol: ETH
    numeraire: USDC
    wallets:
      - {{label: main, address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}}
    tokens:
      - {{symbol: USDC, address: "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853", decimals: 6}}
execution:
  auto_approve: false
{extra_execution}
"""


def test_a_key_written_in_the_yaml_is_refused_and_not_echoed(tmp_path: Path) -> None:
    text = _yaml(f'  private_key: "{KEY}"\n')
    with pytest.raises(ConfigInvalid) as refused:
        validate_settings(text, tmp_path / "harvestd.yaml", {})
    assert _leaks(refused.value, (KEY_HEX,)) == []


def test_rpc_credentials_written_in_the_yaml_are_refused_and_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid) as refused:
        validate_settings(_yaml(rpc_url=RPC_URL), tmp_path / "harvestd.yaml", {})
    assert _leaks(refused.value, URL_SECRETS) == []


def test_rpc_credentials_from_the_environment_stay_secret(tmp_path: Path) -> None:
    settings = validate_settings(
        _yaml(rpc_url="${RPC_URL}"), tmp_path / "harvestd.yaml", {"RPC_URL": RPC_URL}
    )
    chain = settings.chains[0]
    assert chain.rpc_url.get_secret_value() == RPC_URL
    shown = f"{settings!r}\n{settings}\n{chain.model_dump()!r}"
    assert [s for s in URL_SECRETS if s in shown] == []
