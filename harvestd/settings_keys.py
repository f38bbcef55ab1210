"""Reading the signing key from the source `execution.key` names; never from the YAML.

`load_signing_key(source, environ)` returns the hex private key as a `SecretStr`:

- `EnvKeySource(env=VAR)`: the key is the content of environment variable VAR
  (64 hex digits, `0x` optional);
- `KeystoreKeySource(keystore=FILE, password_env=VAR)`: FILE is an encrypted JSON
  keystore (web3 secret storage v3), decrypted with the password in VAR; like ssh with a
  private key, a keystore that group or others may access is refused.

The caller registers the result with the log redactor (`SecretRedactor.register`) before
anything else can log it. Errors name the settings key and never contain the secret.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from eth_account import Account
from pydantic import SecretStr

from harvestd.errors import SigningKeyUnavailable
from harvestd.settings import EnvKeySource, KeySource, KeystoreKeySource

_KEY_RE: Final = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")


def load_signing_key(source: KeySource, environ: Mapping[str, str]) -> SecretStr:
    """The private key (0x-prefixed hex) that `source` points at.

    Raises:
        SigningKeyUnavailable: the variable is unset or not a 32-byte hex key, or the
            keystore is unreadable, malformed or the password is wrong.
    """
    if isinstance(source, EnvKeySource):
        return _key_from_env(source, environ)
    return _key_from_keystore(source, environ)


def _key_from_env(source: EnvKeySource, environ: Mapping[str, str]) -> SecretStr:
    value = environ.get(source.env, "").strip()
    if not value:
        raise SigningKeyUnavailable(
            "execution.key.env",
            f"missing, expected the environment variable {source.env} to be set",
        )
    if _KEY_RE.fullmatch(value) is None:
        raise SigningKeyUnavailable(
            "execution.key.env",
            f"the environment variable {source.env} to hold 64 hex digits (a private key)",
        )
    return SecretStr("0x" + value.removeprefix("0x").lower())


_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


def _refuse_shared_keystore(path: Path) -> None:
    """Like ssh with a private key: a keystore that group or others may read or write is
    refused, so a loose `chmod` is found before the key is ever used."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise SigningKeyUnavailable(
            "execution.key.keystore", f"a readable JSON keystore at {path} ({type(exc).__name__})"
        ) from exc
    if mode & _SHARED_BITS:
        raise SigningKeyUnavailable(
            "execution.key.keystore",
            f"the keystore {path} to be private to its owner (mode {mode:04o}; "
            f"run: chmod 600 {path})",
        )


def _key_from_keystore(source: KeystoreKeySource, environ: Mapping[str, str]) -> SecretStr:
    password = environ.get(source.password_env)
    if password is None:
        raise SigningKeyUnavailable(
            "execution.key.password_env",
            f"missing, expected the environment variable {source.password_env} to be set",
        )
    _refuse_shared_keystore(source.keystore)
    try:
        keyfile = json.loads(source.keystore.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SigningKeyUnavailable(
            "execution.key.keystore",
            f"a readable JSON keystore at {source.keystore} ({type(exc).__name__})",
        ) from exc
    try:
        key = Account.decrypt(keyfile, password)
    except (ValueError, KeyError, TypeError) as exc:  # eth-keyfile's errors derive from these
        raise SigningKeyUnavailable(
            "execution.key.keystore",
            f"a keystore that {source.password_env} decrypts (wrong password or damaged file)",
        ) from exc
    return SecretStr("0x" + bytes(key).hex())
