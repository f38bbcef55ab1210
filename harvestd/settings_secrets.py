"""What a secret looks like, and how to show text with its secrets removed.

Shared by the settings loader (which refuses secrets written inline in the YAML and never
echoes one in an error) and the log redaction processor (which scrubs them from every
event). Three shapes are recognised:

- a private key: 64 hex digits, with or without `0x`;
- credentials in a URL: user-info (`https://user:pass@host`), an API-key-like path
  segment (`https://eth-mainnet.g.alchemy.com/v2/<key>`, `https://mainnet.infura.io/v3/<key>`),
  or a query parameter named like a key (`?apikey=...`, `?token=...`);
- any value registered explicitly as a secret (see `harvestd.logs.SecretRedactor`).

All functions here are pure and never raise.
"""

from __future__ import annotations

import functools
import re
from typing import Final
from urllib.parse import parse_qsl, urlsplit

REDACTED: Final = "***"

PRIVATE_KEY_RE: Final = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
"""A private-key-shaped run of hex (also the shape of a 32-byte hash)."""

URL_RE: Final = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")

_KEY_SEGMENT_RE: Final = re.compile(r"^[A-Za-z0-9_-]{20,}$")
_SECRET_QUERY_NAMES: Final = frozenset(
    {
        "key",
        "apikey",
        "api_key",
        "api-key",
        "token",
        "access_token",
        "auth",
        "secret",
        "password",
        "pass",
        "x-api-key",
    }
)


def is_key_like_segment(segment: str) -> bool:
    """Whether a URL path segment looks like an API key rather than a word or a name.

    At least 20 characters of letters, digits, `_` or `-`, and random-looking: hex with
    letters and digits (Infura, QuickNode, Ankr), mixed-case letters with digits (Alchemy),
    or at least four digits among letters. `harvestd_data_2024` or `mainnet-archive` is not.
    """
    if _KEY_SEGMENT_RE.match(segment) is None:
        return False
    digits = sum(ch.isdigit() for ch in segment)
    letters = [ch for ch in segment if ch.isalpha()]
    if not digits or not letters:
        return False
    is_hex = all(ch in "0123456789abcdefABCDEF" for ch in segment)
    mixed_case = any(ch.isupper() for ch in letters) and any(ch.islower() for ch in letters)
    return is_hex or mixed_case or digits >= 4


def url_credentials(url: str) -> tuple[str, ...]:
    """The credential parts of `url` (user-info, key-like path segments, secret query values)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found: list[str] = []
    if parts.username or parts.password:
        found.append(parts.netloc.rsplit("@", 1)[0])
    found.extend(seg for seg in parts.path.split("/") if is_key_like_segment(seg))
    found.extend(
        value
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name.lower() in _SECRET_QUERY_NAMES and value
    )
    return tuple(found)


def has_url_credentials(url: str) -> bool:
    """Whether `url` carries any credentials (see `url_credentials`)."""
    return bool(url_credentials(url))


@functools.lru_cache(maxsize=1024)
def redact_url(url: str) -> str:
    """`url` with user-info, key-like path segments and secret query values replaced by ***.

    Cached: the same few RPC URLs appear in many log events.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    path = "/".join(REDACTED if is_key_like_segment(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(_redact_query_item(item) for item in parts.query.split("&") if parts.query)
    out = f"{parts.scheme}://{netloc}{path}"
    if query:
        out = f"{out}?{query}"
    if parts.fragment:
        out = f"{out}#{parts.fragment}"
    return out


def _redact_query_item(item: str) -> str:
    name, sep, value = item.partition("=")
    if sep and value and name.lower() in _SECRET_QUERY_NAMES:
        return f"{name}={REDACTED}"
    return item


@functools.lru_cache(maxsize=32)
def secrets_pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for a set of registered secrets (longest first).

    Case-insensitive because a hex key is the same key in upper case (`0X…` + `A-F`, as
    some tools print it); for other secrets a case variant is as good as a leak.
    """
    if not secrets:
        return None
    ordered = sorted(secrets, key=len, reverse=True)
    return re.compile("|".join(re.escape(secret) for secret in ordered), re.IGNORECASE)


def remove_secrets(text: str, secrets: frozenset[str]) -> str:
    """`text` with every registered secret (in any letter case) replaced by the marker."""
    pattern = secrets_pattern(secrets)
    return text if pattern is None else pattern.sub(REDACTED, text)


def redact_text(text: str, secrets: frozenset[str] = frozenset()) -> str:
    """`text` with registered secrets, URL credentials and private-key-shaped hex removed."""
    text = remove_secrets(text, secrets)
    if "://" in text:
        text = URL_RE.sub(lambda m: redact_url(m.group(0)), text)
    if len(text) < 64:
        return text
    return PRIVATE_KEY_RE.sub(REDACTED, text)
