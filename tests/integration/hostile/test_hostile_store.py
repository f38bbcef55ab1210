"""Odd amounts and values through the store on SQLite and Postgres: 0, 1, 2**64,
2**256 - 1 raw units, values with 18 decimal places and huge values, and hostile token
addresses come back exactly as booked (and booking them twice stores them once)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from harvestd.world.deploy import MAX_UINT256
from ledger.events import ChainRef, EventKind, LedgerEvent
from ledger.ids import Address, BlockHash, BlockNumber, ChainId, LogIndex, TxHash
from ledger.store import Store, add_events, load_events, open_store, upsert_chain, upsert_wallets
from ledger.store.records import WalletRecord

CHAIN = ChainId(31337)
MAIN = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
SPAM = Address("0x536F14E49e1Bb927003E83aDEBF295F3682ff121")
FAKE = Address("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045")
AMOUNTS = (0, 1, 2**63 - 1, 2**63, 2**64, 10**30, MAX_UINT256 - 1, MAX_UINT256)
VALUES: tuple[Decimal | None, ...] = (
    None,
    Decimal(0),
    Decimal("0.000000000000000001"),
    Decimal("123456789012345678901234567890.123456789012345678"),
    Decimal("1E+40"),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        opened = open_store(url)
        with opened.engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    else:
        opened = open_store(f"sqlite:///{tmp_path / 'odd.db'}")
    opened.upgrade()
    try:
        yield opened
    finally:
        opened.close()


def _events() -> list[LedgerEvent]:
    events = []
    for i, amount in enumerate(AMOUNTS):
        for j, value in enumerate(VALUES):
            block = 100 + i
            events.append(
                LedgerEvent(
                    ref=ChainRef(
                        CHAIN,
                        BlockNumber(block),
                        BlockHash("0x" + f"{block:064x}"),
                        TxHash("0x" + f"{i:02x}{j:02x}".rjust(64, "e")),
                        LogIndex(j),
                    ),
                    leg=0,
                    timestamp=datetime(2025, 1, 1, 12, i, j, tzinfo=UTC),
                    kind=EventKind.RECEIVE,
                    wallet=MAIN,
                    asset=SPAM,
                    amount_raw=amount,
                    value_usd=value,
                    counterparty=FAKE,
                    needs_review=True,
                    price_missing=value is None,
                )
            )
    return events


def test_odd_amounts_and_values_round_trip_exactly(store: Store) -> None:
    events = _events()
    with store.transaction() as session:
        upsert_chain(session, CHAIN, "local", "ETH")
        upsert_wallets(session, [WalletRecord(MAIN, "main")])
        assert add_events(session, events) == len(events)
    with store.transaction() as session:
        assert add_events(session, [replace(e) for e in events]) == 0
    with store.reader() as session:
        loaded = load_events(session, CHAIN)
    assert len(loaded) == len(events)
    by_ref = {(e.ref.tx_hash, e.ref.log_index, e.leg): e for e in loaded}
    for booked in events:
        got = by_ref[(booked.ref.tx_hash, booked.ref.log_index, booked.leg)]
        assert got.amount_raw == booked.amount_raw and type(got.amount_raw) is int
        assert got.value_usd == booked.value_usd
        assert (got.needs_review, got.price_missing, got.counterparty) == (
            booked.needs_review,
            booked.price_missing,
            booked.counterparty,
        )
