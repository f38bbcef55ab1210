"""Shared steps of the scan acceptance tests: settings for the world, a backfilled store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harvestd.commands.backfill import backfill_chains
from harvestd.settings import Settings, load_settings
from ledger.store import Store, open_store

ROOT = Path(__file__).resolve().parents[3]
LOCAL_CONFIG = ROOT / "config" / "local.yaml"


WASH_SALE_ON = {"wash_sale: false": "wash_sale: true"}
"""config/local.yaml books without the US wash-sale rule; tests of the rule switch it on."""


def world_settings(
    tmp_path: Path, rpc_url: str, db_url: str, replace: dict[str, str] | None = None
) -> Settings:
    """config/local.yaml pointed at a node and a database, with text replacements."""
    text = LOCAL_CONFIG.read_text()
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "local.yaml"
    path.write_text(text)
    environ = {"HARVESTD_RPC_URL": rpc_url, "HARVESTD_DATABASE_URL": db_url}
    return load_settings(path, environ)


def backfilled_store(settings: Settings) -> Store:
    """The settings' store, upgraded and backfilled to the node's head."""
    store = open_store(settings.database.url.get_secret_value())
    store.upgrade()
    asyncio.run(backfill_chains(settings, store))
    return store
