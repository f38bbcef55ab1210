"""Fixtures for the hostile-token tests: the session world with `harvestd.world.hostile`
deployed and played on it (reverted after each test), and a Postgres database of our own.

`hostile_world` yields (world, history): the hostile contracts exist and every step of
`play_hostile_history` has been mined, after the world's own history.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from harvestd.world.hostile import HostileHistory, deploy_hostile, play_hostile_history
from harvestd.world.launch import World

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL_TEMPLATE = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture
def hostile_world(clean_world: World) -> tuple[World, HostileHistory]:
    """The world after the hostile tokens have touched the owner's wallets."""
    chain = clean_world.chain()
    tokens = deploy_hostile(chain, clean_world.manifest)
    return clean_world, play_hostile_history(chain, clean_world.manifest, tokens)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A uniquely named, empty Postgres database for this session, dropped at the end."""
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
