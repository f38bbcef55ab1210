"""An RPC URL carrying credentials (user-info, an API key in the path and in the query)
never shows in an error or a log line from the adapters (`indexer.rpc.RpcClient`,
`executor.chain.ChainClient`): against a closed port, and against a real local HTTP
server that answers 401, 500, and a JSON-RPC error."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import structlog
from aiohttp import web

from executor.chain import ChainClient
from harvestd.logs import configure_logging
from harvestd.settings_types import LogFormat
from indexer.rpc import RetryPolicy, RpcClient
from ledger.errors import HarvestdError

USER, PASSWORD = "alice", "hunter2-pass"
PATH_KEY = "abcdef0123456789abcdef0123456789"
QUERY_KEY = "QWERTY123456zxcv"
SECRETS = (PASSWORD, PATH_KEY, QUERY_KEY, f"{USER}:")
MODE: web.AppKey[str] = web.AppKey("mode", str)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _url(port: int) -> str:
    return f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/v3/{PATH_KEY}?apikey={QUERY_KEY}"


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _error_text(error: BaseException) -> str:
    return f"{error}\n{error!r}\n{vars(error)!r}"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("debug", LogFormat.JSON, stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


async def _answer(request: web.Request) -> web.StreamResponse:
    mode = request.app[MODE]
    if mode == "401":
        # Providers echo the key they refuse.
        return web.Response(status=401, text=f"invalid project id {request.path_qs}")
    if mode == "500":
        return web.Response(status=500, text="upstream failed")
    body = await request.json()
    return web.json_response(
        {
            "jsonrpc": "2.0",
            "id": body.get("id") if isinstance(body, dict) else None,
            "error": {"code": -32001, "message": f"project {PATH_KEY} over its daily quota"},
        }
    )


@pytest_asyncio.fixture(params=["401", "500", "jsonrpc"])
async def provider(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    app = web.Application()
    app[MODE] = request.param
    app.router.add_route("*", "/{tail:.*}", _answer)
    runner = web.AppRunner(app, access_log=None)  # the fake provider's own log is not ours
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield port
    finally:
        await runner.cleanup()


RETRY = RetryPolicy(max_attempts=2, base_delay_seconds=0.01, max_delay_seconds=0.02)


async def _indexer_error(url: str) -> HarvestdError:
    async with RpcClient(url, retry=RETRY, timeout_seconds=5) as rpc:
        with pytest.raises(HarvestdError) as refused:
            await rpc.call("eth_blockNumber")
    return refused.value


async def _executor_error(url: str) -> HarvestdError:
    chain = ChainClient.from_url(url, timeout_seconds=5)
    try:
        with pytest.raises(HarvestdError) as refused:
            await chain.block_number()
    finally:
        await chain.close()
    return refused.value


@pytest.mark.asyncio
async def test_indexer_adapter_hides_credentials_of_a_closed_port(
    log_stream: io.StringIO,
) -> None:
    error = await _indexer_error(_url(_free_port()))
    assert "127.0.0.1" in str(error)
    assert _leaks(_error_text(error)) == []
    assert _leaks(log_stream.getvalue()) == []


@pytest.mark.asyncio
async def test_executor_adapter_hides_credentials_of_a_closed_port(
    log_stream: io.StringIO,
) -> None:
    error = await _executor_error(_url(_free_port()))
    assert _leaks(_error_text(error)) == []
    assert _leaks(log_stream.getvalue()) == []


@pytest.mark.asyncio
async def test_indexer_adapter_hides_credentials_a_provider_echoes(
    provider: int, log_stream: io.StringIO
) -> None:
    error = await _indexer_error(_url(provider))
    assert _leaks(_error_text(error)) == []
    assert _leaks(log_stream.getvalue()) == []


@pytest.mark.asyncio
async def test_executor_adapter_hides_credentials_a_provider_echoes(
    provider: int, log_stream: io.StringIO
) -> None:
    error = await _executor_error(_url(provider))
    assert _leaks(_error_text(error)) == []
    assert _leaks(log_stream.getvalue()) == []
