"""Keeping RPC credentials out of messages: the one place that knows where a URL hides them.

Hosted JSON-RPC endpoints carry their credentials in the user-info
(`https://user:pass@host`), in a path segment (`/v3/<api key>`) or in the query
(`?apikey=...`). Both adapters that talk to nodes (`indexer.rpc`, `executor.chain`) name
their endpoint only as `redact_url(url)` and pass every text a node or an HTTP library
gives back through `scrub_url_secrets(text, url)` before it enters an error or a log line
(providers echo the key in their error messages). Stdlib only.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED: Final = "***"
_MIN_SECRET_LENGTH: Final = 4


def redact_url(url: str) -> str:
    """Only the scheme, host and port of a URL, with `/…` where a path or query was.

    Raises:
        Nothing.
    """
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port: show none rather than fail
        port = ""
    tail = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{tail}"


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of a URL that may be credentials: user, password, path segments, query
    values (and the URL itself), longest first.

    Raises:
        Nothing.
    """
    parts = urlsplit(url)
    found: set[str] = {url}
    if parts.username:
        found.add(parts.username)
        found.add(unquote(parts.username))
    if parts.password:
        found.add(parts.password)
        found.add(unquote(parts.password))
    found.update(segment for segment in parts.path.split("/") if segment)
    found.update(value for _, value in parse_qsl(parts.query, keep_blank_values=False))
    if parts.query:
        found.add(parts.query)
    if parts.netloc and "@" in parts.netloc:
        found.add(parts.netloc.rsplit("@", 1)[0])
    return tuple(
        sorted((s for s in found if len(s) >= _MIN_SECRET_LENGTH), key=len, reverse=True)
    )


def scrub_url_secrets(text: str, url: str) -> str:
    """`text` with the URL and every credential-bearing part of it replaced by `***`.

    Raises:
        Nothing.
    """
    for secret in url_secrets(url):
        if secret in text:
            text = text.replace(secret, REDACTED if secret != url else redact_url(url))
    return text
