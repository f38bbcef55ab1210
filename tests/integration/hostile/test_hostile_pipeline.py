"""Hostile tokens through the whole indexer (`ChainIndexer.run`, the backfill) into a real
store, then `verify`: amounts stay exact in the store (2**256 - 1 included), spam is
booked for review and unpriced, the lots derive, and the silent rebase is reported as a
difference by `verify_balances` (a report, not an exception). Run on SQLite and Postgres.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from harvestd.commands.backfill import plan_for
from harvestd.settings import Settings, load_settings
from harvestd.world.artifacts import load_artifact
from harvestd.world.deploy import MAX_UINT256, call_data
from harvestd.world.hostile import REBASE_INDEX, SPAM_AMOUNT_RAW, HostileHistory, deploy_hostile
from harvestd.world.launch import World
from indexer.pipeline import ChainIndexer
from indexer.rpc import RpcClient
from indexer.verify import VerifyReport, verify_balances
from ledger.events import EventKind
from ledger.ids import Address, ChainId
from ledger.store import Store, load_events, open_store

REPO = Path(__file__).resolve().parents[3]
LOCAL_CONFIG = REPO / "config" / "local.yaml"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL on each backend (Postgres: this session's own database)."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        store = open_store(url)
        try:
            with store.engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
        finally:
            store.close()
        yield url
        return
    yield f"sqlite:///{tmp_path / 'hostile.db'}"


async def _backfill(world: World, store_url: str) -> tuple[Settings, Store]:
    settings = load_settings(
        LOCAL_CONFIG,
        {"HARVESTD_RPC_URL": world.rpc_url, "HARVESTD_DATABASE_URL": store_url},
    )
    store = open_store(store_url)
    store.upgrade()
    async with RpcClient(world.rpc_url) as rpc:
        outcome = await ChainIndexer(plan_for(settings, settings.chains[0]), store, rpc).run()
    assert outcome.caught_up
    return settings, store


async def _verify(
    world: World, settings: Settings, store: Store, extra: list[Address]
) -> VerifyReport:
    chain = settings.chains[0]
    async with RpcClient(world.rpc_url) as rpc:
        return await verify_balances(
            store,
            rpc,
            ChainId(chain.chain_id),
            chain.wallet_addresses(),
            [*(t.address for t in chain.tokens), *extra],
        )


@pytest.mark.asyncio
async def test_backfill_books_hostile_tokens_exactly(
    hostile_world: tuple[World, HostileHistory], store_url: str
) -> None:
    world, history = hostile_world
    tokens = history.tokens
    main = world.manifest.account("main").address
    with capture_logs() as logs:
        settings, store = await _backfill(world, store_url)
    try:
        with store.reader() as session:
            stored = load_events(
                session, ChainId(settings.chains[0].chain_id), from_block=history.first_block
            )
    finally:
        store.close()
    # Exact amounts survive the store: 2**256 - 1 in and out, fee-on-transfer net amounts.
    by_kind_asset = {(e.kind, e.wallet, e.asset): e for e in stored}
    assert by_kind_asset[(EventKind.RECEIVE, main, tokens.garbage_metadata)].amount_raw == (
        MAX_UINT256
    )
    assert by_kind_asset[(EventKind.TRANSFER_OUT, main, tokens.garbage_metadata)].amount_raw == (
        MAX_UINT256
    )
    fee_in = history.movement("fee_receive").amount_received_raw
    assert by_kind_asset[(EventKind.RECEIVE, main, tokens.fee_on_transfer)].amount_raw == fee_in
    spam = [e for e in stored if e.asset == tokens.spam]
    assert [e.amount_raw for e in spam] == [SPAM_AMOUNT_RAW, SPAM_AMOUNT_RAW]
    assert all(e.needs_review and e.price_missing and e.value_usd is None for e in spam)
    flagged = {
        Address(a) for entry in logs if entry["event"] == "prices_missing" for a in entry["assets"]
    }
    assert set(tokens.all) <= flagged
    assert any(entry["event"] == "log_undecodable" for entry in logs)


@pytest.mark.asyncio
async def test_verify_reports_a_silent_rebase_as_a_difference(
    clean_world: World, tmp_path: Path
) -> None:
    """Without spam in the ledger: fee-on-transfer and metadata-less tokens agree with
    balanceOf, the rebase is one difference of exactly the rebased amount."""
    chain, manifest = clean_world.chain(), clean_world.manifest
    tokens = deploy_hostile(chain, manifest)
    main, outsider = manifest.account("main").address, manifest.account("outsider").address
    fee = chain.contract(load_artifact("FeeOnTransferToken"), tokens.fee_on_transfer)
    reb = chain.contract(load_artifact("RebasingToken"), tokens.rebasing)
    bad = chain.contract(load_artifact("BadMetadataToken"), tokens.bad_metadata)
    for to, calldata in (
        (tokens.fee_on_transfer, call_data(fee, "mint", outsider, 10**21)),
        (tokens.fee_on_transfer, call_data(fee, "transfer", main, 10**20)),
        (tokens.rebasing, call_data(reb, "mint", main, 500 * 10**18)),
        (tokens.rebasing, call_data(reb, "rebase", REBASE_INDEX)),
        (tokens.bad_metadata, call_data(bad, "mint", main, 42)),
    ):
        chain.transact("verify scenario", outsider, to, calldata)
    settings, store = await _backfill(clean_world, f"sqlite:///{tmp_path / 'verify.db'}")
    try:
        # Every hostile token but the spam contract (which has no balanceOf; see below).
        report = await _verify(
            clean_world, settings, store, [t for t in tokens.all if t != tokens.spam]
        )
    finally:
        store.close()
    differences = {(c.wallet, c.asset): c.difference_raw for c in report.differences}
    assert differences == {(main, tokens.rebasing): 50 * 10**18}
    checked = {(c.wallet, c.asset): c.chain_raw for c in report.checks}
    assert checked[(main, tokens.fee_on_transfer)] == 99 * 10**18
    assert checked[(main, tokens.bad_metadata)] == 42


@pytest.mark.asyncio
async def test_verify_reports_rather_than_fails_on_a_spam_contract(
    hostile_world: tuple[World, HostileHistory], tmp_path: Path
) -> None:
    """The spam contract has no balanceOf (its eth_call reverts). verify must still report
    every other balance (and the rebase difference); one hostile contract in the ledger
    must not make the whole check fail as if the node had no state."""
    world, history = hostile_world
    tokens = history.tokens
    main = world.manifest.account("main").address
    settings, store = await _backfill(world, f"sqlite:///{tmp_path / 'spam.db'}")
    try:
        report = await _verify(world, settings, store, list(tokens.all))
    finally:
        store.close()
    differences = {(c.wallet, c.asset): c.difference_raw for c in report.differences}
    assert differences.get((main, tokens.rebasing)) == 50 * 10**18
    for token in (tokens.fee_on_transfer, tokens.bad_metadata, tokens.garbage_metadata):
        assert not any(asset == token for _, asset in differences), token
