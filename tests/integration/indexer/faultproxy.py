"""A fault-injecting JSON-RPC proxy: forwards to a real node, breaks requests on a schedule.

The schedule is seeded (`random.Random(seed)`), so a failing run can be replayed. Faults:
HTTP 429 with Retry-After, HTTP 503, a dropped connection, a stalled answer (longer than
the client's timeout), a body that is not JSON, a JSON-RPC rate-limit error on one item of
a batch, and, like a real provider, "query returned more than 10000 results" for any
eth_getLogs / trace_filter wider than `max_range_blocks`. At most `max_faults` random faults
are injected (range refusals are a rule, not a fault, and always apply); the proxy stops
itself after `lifetime_seconds` whatever happens. With `stall_range_blocks`, wide ranges
time out instead, as on providers that give up on heavy queries.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

FAULTS = ("http_429", "http_503", "drop", "stall", "garbage", "item_rate_limit")
RANGED = ("eth_getLogs", "trace_filter")
RANGE_MESSAGES = (
    (-32005, "query returned more than 10000 results"),
    (-32600, "block range is too large"),
    (
        -32602,
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
    ),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FaultProxy:
    """Run with `async with FaultProxy(upstream, seed=...) as proxy:`; point clients at `proxy.url`."""

    upstream: str
    seed: int = 0
    fault_rate: float = 0.3
    max_faults: int = 40
    max_range_blocks: int | None = 8
    stall_range_blocks: int | None = None
    """Ranged queries wider than this stall (time out) instead of being refused."""
    stall_seconds: float = 1.5
    lifetime_seconds: float = 120.0
    counts: Counter[str] = field(default_factory=Counter)
    url: str = ""
    _rng: random.Random = field(init=False)
    _runner: web.AppRunner | None = field(default=None, init=False)
    _session: aiohttp.ClientSession | None = field(default=None, init=False)
    _watchdog: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        port = _free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/"
        self._session = aiohttp.ClientSession()
        self._watchdog = asyncio.create_task(self._stop_later())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _stop_later(self) -> None:
        await asyncio.sleep(self.lifetime_seconds)
        await self.stop(from_watchdog=True)

    async def stop(self, from_watchdog: bool = False) -> None:
        """Shut the server and the upstream session down (idempotent)."""
        if self._watchdog is not None and not from_watchdog:
            self._watchdog.cancel()
        self._watchdog = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _pick_fault(self) -> str | None:
        if sum(self.counts[f] for f in FAULTS) >= self.max_faults:
            return None
        if self._rng.random() >= self.fault_rate:
            return None
        return self._rng.choice(FAULTS)

    @staticmethod
    def _width(item: dict[str, Any]) -> tuple[int, int] | None:
        if item.get("method") not in RANGED:
            return None
        params = item.get("params") or [{}]
        return (
            int(params[0].get("fromBlock", "0x0"), 16),
            int(params[0].get("toBlock", "0x0"), 16),
        )

    def _refusal(self, item: dict[str, Any]) -> dict[str, Any] | None:
        span = self._width(item)
        if self.max_range_blocks is None or span is None:
            return None
        lo, hi = span
        if hi - lo + 1 <= self.max_range_blocks:
            return None
        self.counts["range_refused"] += 1
        code, message = RANGE_MESSAGES[(lo + hi) % len(RANGE_MESSAGES)]
        return {"jsonrpc": "2.0", "id": item.get("id"), "error": {"code": code, "message": message}}

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.json()
        fault = self._pick_fault()
        if fault is not None:
            self.counts[fault] += 1
        if fault == "http_429":
            return web.Response(status=429, headers={"Retry-After": "0"}, text="slow down")
        if fault == "http_503":
            return web.Response(status=503, text="unavailable")
        if fault == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if fault == "stall":
            await asyncio.sleep(self.stall_seconds)
        if fault == "garbage":
            return web.Response(status=200, text="<html>bad gateway</html>")
        items = body if isinstance(body, list) else [body]
        if self.stall_range_blocks is not None:
            spans = [w for w in map(self._width, items) if w is not None]
            if any(hi - lo + 1 > self.stall_range_blocks for lo, hi in spans):
                self.counts["range_stalled"] += 1
                await asyncio.sleep(self.stall_seconds)
        answers: dict[Any, dict[str, Any]] = {}
        passthrough = []
        for item in items:
            refused = self._refusal(item)
            if refused is not None:
                answers[item.get("id")] = refused
            else:
                passthrough.append(item)
        if fault == "item_rate_limit" and passthrough:
            victim = passthrough.pop(self._rng.randrange(len(passthrough)))
            answers[victim.get("id")] = {
                "jsonrpc": "2.0",
                "id": victim.get("id"),
                "error": {"code": -32005, "message": "rate limit exceeded, try again later"},
            }
        if passthrough:
            async with self._session.post(self.upstream, json=passthrough) as upstream:
                for answer in await upstream.json():
                    answers[answer.get("id")] = answer
        ordered = [answers[item.get("id")] for item in items]
        payload = ordered if isinstance(body, list) else ordered[0]
        return web.Response(text=json.dumps(payload), content_type="application/json")
