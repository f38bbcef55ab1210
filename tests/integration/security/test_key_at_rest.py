"""A run that used the signing key leaves no trace of it: the settings say `mode: live` and
name an environment variable; the key is loaded, registered with the log redactor, used
to sign and send a real swap on the world, and the ledger is backfilled into a SQLite
file before and after. Then the database file (and its -wal/-shm companions) are searched
byte for byte, and the rendered JSON log lines line by line, for every spelling of the key.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import structlog

from executor.chain import ChainClient
from executor.guards import GuardLimits
from executor.planning import ExecutorPolicy, TradePlanner, TradeRequest
from executor.pricing import ReferencePrices
from executor.quoting import RouteQuoter, UniswapDeployment
from executor.routes import Token
from executor.routing import TradeRouter
from executor.sending import TradeSender
from harvestd.commands.backfill import plan_for
from harvestd.logs import configure_logging
from harvestd.settings import load_settings
from harvestd.settings_keys import load_signing_key
from harvestd.settings_types import LogFormat
from harvestd.world.launch import World
from indexer.pipeline import ChainIndexer
from indexer.rpc import RpcClient
from ledger.store import open_store

REPO = Path(__file__).resolve().parents[3]
LOCAL_CONFIG = REPO / "config" / "local.yaml"


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


def _live_config(tmp_path: Path) -> Path:
    """config/local.yaml switched to `mode: live` (its key comes from HARVESTD_PRIVATE_KEY)."""
    text = LOCAL_CONFIG.read_text()
    at = text.index("\nexecution:\n")
    head, tail = text[:at], text[at:]
    assert "  mode: dry_run\n" in tail and "env: HARVESTD_PRIVATE_KEY" in tail
    path = tmp_path / "live.yaml"
    path.write_text(head + tail.replace("  mode: dry_run\n", "  mode: live\n", 1))
    return path


def _key_spellings(key_hex: str) -> list[bytes]:
    bare = key_hex.removeprefix("0x").lower()
    return [
        bare.encode(),
        bare.upper().encode(),
        bytes.fromhex(bare),
        bare.encode("utf-16-le"),
    ]


def _assert_not_in_files(folder: Path, db_path: Path, key_hex: str) -> None:
    files = [p for p in folder.iterdir() if p.name.startswith(db_path.name)]
    assert db_path in files and db_path.stat().st_size > 0
    for path in files:
        content = path.read_bytes()
        for spelling in _key_spellings(key_hex):
            assert spelling not in content, (path.name, spelling[:6])


@pytest.mark.asyncio
async def test_signing_key_is_in_neither_database_nor_logs(
    clean_world: World, tmp_path: Path, restore_logging: None
) -> None:
    manifest = clean_world.manifest
    key_hex = manifest.account("main").private_key
    db_path = tmp_path / "ledger.db"
    environ = {
        "HARVESTD_RPC_URL": clean_world.rpc_url,
        "HARVESTD_DATABASE_URL": f"sqlite:///{db_path}",
        "HARVESTD_PRIVATE_KEY": key_hex,
    }
    settings = load_settings(_live_config(tmp_path), environ)
    assert settings.execution.is_live and settings.execution.key is not None
    stream = io.StringIO()
    redactor = configure_logging("debug", LogFormat.JSON, stream=stream)
    key = load_signing_key(settings.execution.key, environ)
    redactor.register(key)

    store = open_store(settings.database.url.get_secret_value())
    store.upgrade()
    chain_settings = settings.chains[0]
    c = manifest.contracts
    deployment = UniswapDeployment(
        weth=c.weth,
        v2_factory=c.v2_factory,
        v2_router=c.v2_router,
        v3_factory=c.v3_factory,
        v3_quoter=c.quoter_v2,
        v3_router=c.swap_router,
    )
    weth, usdc = manifest.token("WETH").address, manifest.token("USDC").address
    prices = ReferencePrices(
        tokens={t.address: Token(t.address, t.symbol, t.decimals) for t in manifest.tokens},
        usd_per_token={t.address: Decimal(t.initial_price_usd) for t in manifest.tokens},
        native_usd=Decimal(3000),
    )
    limits = GuardLimits(
        max_slippage_bps=100,
        max_price_impact_bps=10_000,
        max_fee_per_gas_wei=100 * 10**9,
        priority_fee_wei=10**9,
        max_gas_share_bps=10_000,
        allowed_tokens=frozenset(t.address for t in manifest.tokens),
        allowed_routers=frozenset({deployment.v2_router, deployment.v3_router}),
        max_trade_usd=Decimal(1_000_000),
        max_daily_usd=Decimal(5_000_000),
    )
    try:
        async with RpcClient(clean_world.rpc_url) as rpc:
            await ChainIndexer(plan_for(settings, chain_settings), store, rpc).run()
            chain = ChainClient.from_url(clean_world.rpc_url, timeout_seconds=30)
            try:
                quoter = RouteQuoter(chain, deployment)
                router = TradeRouter(quoter, [weth, usdc])
                planner = TradePlanner(chain, router, ExecutorPolicy(limits), manifest.chain_id)
                request = TradeRequest(
                    manifest.account("main").address, weth, usdc, 10**17, native_in=True
                )
                planned = await planner.plan(request, prices)
                outcome = await TradeSender(chain, quoter, receipt_timeout_seconds=30).send(
                    planned, key, 10**9, 100 * 10**9
                )
                assert outcome.amount_out_raw > 0
            finally:
                await chain.close()
            indexer = ChainIndexer(plan_for(settings, chain_settings), store, rpc)
            await indexer.run()
            await indexer.derive(force=True)
    finally:
        store.close()

    _assert_not_in_files(tmp_path, db_path, key_hex)
    rendered = stream.getvalue()
    assert "trade_" in rendered and "blocks_indexed" in rendered
    for spelling in _key_spellings(key_hex)[:2]:
        assert spelling.decode() not in rendered.upper() and spelling.decode() not in rendered
