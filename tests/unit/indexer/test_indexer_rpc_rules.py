"""The RPC client's pure rules: URL redaction, providers' range errors, backoff, Retry-After."""

from __future__ import annotations

import random

import pytest

from indexer.rpc import (
    RetryPolicy,
    _parse_retry_after,
    is_range_too_large,
    is_rate_limited,
    redact_url,
)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pw@eth.example.com/v3/abc123", "https://eth.example.com/…"),
        ("https://eth-mainnet.g.alchemy.com/v2/KEY", "https://eth-mainnet.g.alchemy.com/…"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://rpc.example.org/?apikey=K", "https://rpc.example.org/…"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (-32005, "query returned more than 10000 results"),
        (
            -32602,
            "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size",
        ),
        (-32000, "block range is too large"),
        (-32600, "eth_getLogs is limited to a 10,000 range"),
        (-32000, "exceed maximum block range: 50000"),
        (-32005, "Too many results, please narrow the range"),
        (-32000, "ranges over 10000 blocks are not supported"),
    ],
)
def test_providers_range_errors_are_recognised(code: int, message: str) -> None:
    assert is_range_too_large(code, message)


def test_other_errors_are_not_range_errors() -> None:
    assert not is_range_too_large(-32000, "execution reverted")
    assert not is_range_too_large(-32601, "Method not found")
    assert is_rate_limited(-32005, "daily request rate exceeded")
    assert is_rate_limited(429, "anything")
    assert not is_rate_limited(-32000, "execution reverted")


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_seconds=0.5, max_delay_seconds=4.0)
    rng = random.Random(1)
    delays = [policy.delay_seconds(n, rng) for n in range(1, 8)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(d <= 4.0 for d in delays)
    assert delays[-1] >= 2.0


def test_retry_after() -> None:
    assert _parse_retry_after("7") == 7.0
    assert _parse_retry_after(None) is None
    assert _parse_retry_after("not a date") is None
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_a_head_or_order_problem_is_not_a_range_error() -> None:
    assert not is_range_too_large(-32000, "block range extends beyond current head block")
    assert not is_range_too_large(-32602, "invalid block range params")


def test_adaptive_span_halves_then_grows_under_the_refused_ceiling() -> None:
    from indexer.sweep import AdaptiveSpan

    span = AdaptiveSpan(span=1000, grow_after=2, probe_after=4)
    span.shrink(1000)
    assert span.span == 500 and span.ceiling == 999
    for _ in range(2):
        span.succeed()
    assert span.span == 999  # grew, but not past what was refused
    for _ in range(4):
        span.succeed()
    assert span.span == 999 and span.ceiling == 1998  # probes higher only after a while
