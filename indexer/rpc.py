"""The JSON-RPC client the indexer reads the chain with (aiohttp, async).

One `RpcClient` per endpoint, built by `harvestd.wiring` and passed in. It batches calls
(JSON-RPC batch arrays, split at `max_batch_size`), bounds concurrency with a semaphore,
retries transient failures with exponential backoff and full jitter, honours HTTP 429 and
`Retry-After`, and applies a per-request timeout.

Every aiohttp and JSON problem is translated here into `indexer.errors`:

    transport error / HTTP 5xx / HTTP 429 ──(retries exhausted)──► RpcUnavailable
    request timeout                      ──(retries exhausted)──► RpcTimeout
    JSON-RPC error "too many results" / "block range too large" ─► RangeTooLarge (never retried)
    JSON-RPC rate-limit or transient server error ─(exhausted)──► RpcError
    any other JSON-RPC error                                    ─► RpcError (never retried)
    a body that is not JSON-RPC                                 ─► MalformedResponse

The URL may carry credentials (user-info, an API key in the path or query): it is logged
and put into messages only through `redact_url`.
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import json
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import aiohttp
import structlog

from indexer.concurrency import run_all
from indexer.errors import MalformedResponse, RangeTooLarge, RpcError, RpcTimeout, RpcUnavailable
from ledger.redaction import redact_url, scrub_url_secrets

log = structlog.get_logger(__name__)

_RANGE_TOO_LARGE: Final = re.compile(
    r"too many results|more than \d+ results|block range (?:is )?too (?:large|wide|big)"
    r"|range (?:is )?too large|exceed(?:s|ed)? (?:the )?max(?:imum)? (?:block )?range"
    r"|block range (?:limit|exceeded)|limited to a [\d,]+ (?:block )?range"
    r"|response size (?:exceeded|is larger)|log response size|too many logs|max results"
    r"|ranges over \d+ blocks",
    re.IGNORECASE,
)
_RATE_LIMITED: Final = re.compile(
    r"rate limit|too many requests|request rate|exceeded .*capacity|throughput|try again",
    re.IGNORECASE,
)
_TRANSIENT_CODES: Final = frozenset({-32000, -32005, -32603, 429})
"""JSON-RPC codes some providers use for overload; retried only with a rate-limit message
(-32603 and -32000 are also used for genuine failures, e.g. a revert)."""


def is_range_too_large(code: int, message: str) -> bool:
    """True when a JSON-RPC error means "ask for a smaller block range".

    Raises:
        Nothing.
    """
    return bool(_RANGE_TOO_LARGE.search(message)) or (code == -32005 and "result" in message)


def is_rate_limited(code: int, message: str) -> bool:
    """True when a JSON-RPC error means "slow down and retry".

    Raises:
        Nothing.
    """
    return code == 429 or (code in _TRANSIENT_CODES and bool(_RATE_LIMITED.search(message)))


@dataclass(frozen=True, slots=True)
class RpcCall:
    """One JSON-RPC call of a batch."""

    method: str
    params: tuple[Any, ...] | list[Any]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts."""

    max_attempts: int = 6
    base_delay_seconds: float = 0.2
    max_delay_seconds: float = 20.0

    def delay_seconds(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff for the given (1-based) failed attempt.

        Raises:
            Nothing.
        """
        cap = min(self.max_delay_seconds, self.base_delay_seconds * (2 ** (attempt - 1)))
        return rng.uniform(cap / 2, cap)


class _Retryable(Exception):
    """Internal: one attempt failed in a way worth retrying."""

    def __init__(self, final: Exception, retry_after_seconds: float | None = None) -> None:
        super().__init__(str(final))
        self.final = final
        self.retry_after_seconds = retry_after_seconds


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RpcClient:
    """An async JSON-RPC client over HTTP with batching, bounded concurrency and retries."""

    def __init__(
        self,
        url: str,
        *,
        max_concurrency: int = 8,
        timeout_seconds: float = 30.0,
        max_batch_size: int = 100,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._url = url
        self.redacted_url = redact_url(url)
        self._max_concurrency = max_concurrency
        self.timeout_seconds = timeout_seconds
        self.max_batch_size = max_batch_size
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self.requests_sent = 0
        """HTTP requests made (one per batch chunk and attempt): for benchmarks."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the HTTP session (idempotent).

        Raises:
            Nothing (no I/O until the first request).
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
                connector=aiohttp.TCPConnector(limit=self._max_concurrency),
            )
            self._semaphore = asyncio.Semaphore(self._max_concurrency)

    async def close(self) -> None:
        """Close the HTTP session.

        Raises:
            Nothing.
        """
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, *params: Any) -> Any:
        """Call one method and return its `result`.

        Raises:
            RangeTooLarge: the node refused the range as too large.
            RpcError: the node answered an error (after retries if it was transient).
            RpcTimeout: every attempt timed out.
            RpcUnavailable: the endpoint failed on every attempt.
            MalformedResponse: the answer is not JSON-RPC.
        """
        (result,) = await self.batch([RpcCall(method, list(params))])
        return result

    async def batch(
        self, calls: Sequence[RpcCall], *, timeout_attempts: int | None = None
    ) -> list[Any]:
        """Call several methods in JSON-RPC batches; results come back in the calls' order.

        Items that fail transiently are retried (alone with the other failed items), so one
        rate-limited item does not repeat the whole batch. `timeout_attempts` caps the
        attempts when they time out, for a ranged query whose caller would rather split
        the range than wait (other transient failures keep the policy's budget).

        Raises:
            RangeTooLarge: an item's range was refused as too large.
            RpcError: an item failed (after retries if it was transient).
            RpcTimeout: every attempt timed out.
            RpcUnavailable: the endpoint failed on every attempt.
            MalformedResponse: an answer is not JSON-RPC.
        """
        if not calls:
            return []
        chunks = [
            list(range(i, min(i + self.max_batch_size, len(calls))))
            for i in range(0, len(calls), self.max_batch_size)
        ]
        results: list[Any] = [None] * len(calls)
        timeouts = timeout_attempts or self.retry.max_attempts
        await run_all(self._run_chunk(calls, chunk, results, timeouts) for chunk in chunks)
        return results

    async def _run_chunk(
        self, calls: Sequence[RpcCall], indices: list[int], out: list[Any], timeout_attempts: int
    ) -> None:
        pending = indices
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                failures = await self._attempt(calls, pending, out)
            except _Retryable as exc:
                failures = dict.fromkeys(pending, exc.final)
                retry_after = exc.retry_after_seconds
            if not failures:
                return
            pending = sorted(failures)
            last = failures[pending[0]]
            out_of_time = isinstance(last, RpcTimeout) and attempt >= timeout_attempts
            if attempt >= self.retry.max_attempts or out_of_time:
                if isinstance(last, RpcTimeout):
                    raise RpcTimeout(last.method, self.timeout_seconds, attempt) from None
                if isinstance(last, RpcUnavailable):
                    raise RpcUnavailable(
                        last.method, self.redacted_url, last.status, last.reason, attempt
                    ) from None
                raise last
            delay = self.retry.delay_seconds(attempt, self._rng)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.retry.max_delay_seconds))
            log.info(
                "rpc_retried",
                method=calls[pending[0]].method,
                calls=len(pending),
                attempt=attempt,
                delay_seconds=round(delay, 3),
                reason=type(last).__name__,
                url=self.redacted_url,
            )
            await asyncio.sleep(delay)

    async def _attempt(
        self, calls: Sequence[RpcCall], indices: list[int], out: list[Any]
    ) -> dict[int, Exception]:
        """Send one batch request; fill `out`; return the items to retry with their error.

        Raises:
            _Retryable: the whole request failed transiently.
            RpcError: an item failed for good.
        """
        await self.open()
        assert self._session is not None and self._semaphore is not None
        ids = {next(self._ids): i for i in indices}
        body = [
            {
                "jsonrpc": "2.0",
                "id": rid,
                "method": calls[i].method,
                "params": list(calls[i].params),
            }
            for rid, i in ids.items()
        ]
        method = calls[indices[0]].method
        async with self._semaphore:
            self.requests_sent += 1
            try:
                async with self._session.post(
                    self._url, data=json.dumps(body), headers={"Content-Type": "application/json"}
                ) as response:
                    if response.status == 429 or response.status >= 500:
                        raise _Retryable(
                            RpcUnavailable(
                                method, self.redacted_url, response.status, response.reason or "", 1
                            ),
                            _parse_retry_after(response.headers.get("Retry-After")),
                        )
                    if response.status >= 400:
                        raise RpcUnavailable(
                            method, self.redacted_url, response.status, response.reason or "", 1
                        )
                    text = await response.text()
            except TimeoutError:
                raise _Retryable(RpcTimeout(method, self.timeout_seconds, 1)) from None
            except aiohttp.ClientError as exc:
                raise _Retryable(
                    RpcUnavailable(method, self.redacted_url, None, type(exc).__name__, 1)
                ) from None
        try:
            answer = json.loads(text)
        except ValueError:
            raise _Retryable(MalformedResponse(method, "body is not JSON")) from None
        if isinstance(answer, dict):
            # Some servers answer a whole failed batch with one error object.
            if "error" in answer and answer.get("id") is None:
                self._raise_item_error(method, answer["error"])
            answer = [answer]
        if not isinstance(answer, list):
            raise _Retryable(MalformedResponse(method, "expected a JSON-RPC batch array"))
        failures: dict[int, Exception] = {}
        seen: set[int] = set()
        for item in answer:
            if not isinstance(item, dict) or item.get("id") not in ids:
                raise _Retryable(MalformedResponse(method, f"unexpected batch item {item!r:.80}"))
            index = ids[item["id"]]
            seen.add(index)
            if "error" in item:
                try:
                    self._raise_item_error(calls[index].method, item["error"])
                except _Retryable as exc:
                    failures[index] = exc.final
                continue
            if "result" not in item:
                raise MalformedResponse(calls[index].method, "item has neither result nor error")
            out[index] = item["result"]
        for index in indices:
            if index not in seen:
                failures[index] = MalformedResponse(calls[index].method, "no answer in the batch")
        return failures

    def _raise_item_error(self, method: str, error: Any) -> None:
        if not isinstance(error, dict):
            raise MalformedResponse(method, f"error is not an object: {error!r:.80}")
        code = error.get("code")
        # Providers echo the request URL (and so its key) in some error messages.
        message = scrub_url_secrets(str(error.get("message", "")), self._url)
        if not isinstance(code, int):
            raise MalformedResponse(method, f"error code is not an int: {code!r}")
        if is_range_too_large(code, message):
            raise RangeTooLarge(method, code, message)
        if is_rate_limited(code, message):
            raise _Retryable(RpcError(method, code, message))
        raise RpcError(method, code, message)
