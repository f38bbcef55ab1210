"""Fixtures for the daemon's integration tests: real stores, a bare Anvil, settings files.

- `pg_url` (session): a uniquely named Postgres database (harvestd_t_<random>) on
  127.0.0.1:5432, dropped at the end of the session (WITH FORCE).
- `store_url` (function): a fresh SQLite file, or a fresh Postgres database.
- `anvil` (module): a bare Anvil node on a free loopback port, stopped afterwards.
- `write_config(...)`: writes a valid settings file for a store URL, RPC URL and port.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from harvestd.world.anvil import AnvilNode, AnvilOptions, pick_free_port, start_anvil

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL_TEMPLATE = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
UNREACHABLE_RPC = "http://127.0.0.1:9"


@contextmanager
def pg_database() -> Iterator[str]:
    """Create a uniquely named Postgres database, yield its URL, drop it afterwards."""
    name = f"harvestd_t_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield PG_URL_TEMPLATE.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh Postgres database for one test."""
    with pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh (unmigrated) store on each backend."""
    if request.param == "postgres":
        with pg_database() as url:
            yield url
        return
    yield f"sqlite:///{tmp_path / 'harvestd.db'}"


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    """A bare Anvil node (chain id 31337) on a free loopback port."""
    node = start_anvil(AnvilOptions())
    try:
        yield node
    finally:
        node.stop()


CONFIG_TEMPLATE = """\
database: {{url: "{database_url}"}}
owner: {{jurisdiction: generic, tax_rates: {{flat: 0.2}}}}
chains:
  - name: local
    chain_id: 31337
    rpc_url: {rpc_url}
    poll_interval_seconds: 1
    confirmations: 0
    numeraire: USDC
    wallets:
      - {{label: main, address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}}
    tokens:
      - {{symbol: USDC, address: "0x0000000000000000000000000000000000000101", decimals: 6}}
server:
  port: {port}
  health: {{max_lag_blocks: {max_lag_blocks}, max_staleness_seconds: {max_staleness_seconds}}}
jobs: {{expire_interval_seconds: 1, restart_backoff_seconds: 1, max_restart_backoff_seconds: 2}}
logging: {{format: json, level: info}}
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a settings file; returns its path."""

    def write(
        database_url: str,
        *,
        rpc_url: str = UNREACHABLE_RPC,
        port: int | None = None,
        max_lag_blocks: int = 20,
        max_staleness_seconds: int = 600,
        name: str = "harvestd.yaml",
    ) -> Path:
        path = tmp_path / name
        path.write_text(
            CONFIG_TEMPLATE.format(
                database_url=database_url,
                rpc_url=rpc_url,
                port=port if port is not None else pick_free_port(0),
                max_lag_blocks=max_lag_blocks,
                max_staleness_seconds=max_staleness_seconds,
            ),
            encoding="utf-8",
        )
        return path

    return write
