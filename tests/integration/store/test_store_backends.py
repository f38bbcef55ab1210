"""The store suite: one class, run on SQLite and on Postgres (the `store` fixture).

Round-trips of exact money and time, idempotent booking, reorg rollback, transaction
atomicity, migrations against the models, proposals' fingerprint uniqueness, execution
and nonce state across restarts, and error translation.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import col, select
from structlog.testing import capture_logs

from ledger.engine import Action, Jurisdiction, LotEvent, LotMethod, Policy, replay
from ledger.events import NATIVE_ASSET, ChainRef, EventKind, Label, LedgerEvent, SwapAudit
from ledger.ids import Address, BlockHash, BlockNumber, ChainId, LogIndex, TxHash
from ledger.store import (
    AssetRecord,
    BlockRecord,
    DerivedLedger,
    DisposalMatchRecord,
    DisposalRecord,
    DisposalTerm,
    ExecutionState,
    ExecutionUpdate,
    LotAdjustment,
    LotMovementRecord,
    LotRecord,
    MovementKind,
    NewExecution,
    PricePoint,
    ProposalRecord,
    ProposalStatus,
    SourceRef,
    Store,
    WalletRecord,
    add_events,
    advance_execution,
    count_blocks,
    count_events,
    create_execution,
    create_proposal,
    expire_proposals,
    find_fork_point,
    find_latest_price,
    find_open_proposal,
    get_asset,
    get_block,
    get_checkpoint,
    get_execution,
    get_next_nonce,
    get_price,
    get_proposal,
    latest_block,
    list_assets,
    list_executions,
    list_proposals,
    list_wallets,
    load_disposals,
    load_events,
    load_lot_movements,
    load_lots,
    open_store,
    put_blocks,
    put_prices,
    relabel_event,
    replace_derived,
    reserve_nonce,
    rollback_to_block,
    set_checkpoint,
    set_event_value,
    update_proposal_status,
    upgrade,
    upsert_assets,
    upsert_chain,
    upsert_wallets,
)
from ledger.store.columns import U256_MAX, decode_u256_text, encode_u256_text
from ledger.store.db import head_revision
from ledger.store.engine_output import derived_from_result, event_id, sources_for
from ledger.store.errors import (
    DatabaseUnavailable,
    EquivalentProposalOpen,
    IntegrityViolation,
    InvalidDatabaseUrl,
    InvalidTransition,
    NestedTransaction,
    NotFound,
    StoreError,
    TransactionConflict,
    UnstorableValue,
)
from ledger.store.rows import STORE_METADATA, LedgerEventRow

CHAIN = ChainId(31337)
OTHER_CHAIN = ChainId(1)
ALICE = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
BOB = Address("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
OUTSIDER = Address("0x90F79bf6EB2c4f870365E785982E1f101E93b906")
WETH = Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
USDC = Address("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")
POOL = Address("0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0")
T0 = datetime(2024, 1, 5, 12, 0, tzinfo=UTC)


def block_hash(n: int, fork: str = "a") -> BlockHash:
    return BlockHash("0x" + f"{fork}{n:063x}")


def tx_hash(n: int) -> TxHash:
    return TxHash("0x" + f"{n:064x}")


def ref(block: int, tx: int, log: int, chain: ChainId = CHAIN, fork: str = "a") -> ChainRef:
    return ChainRef(chain, BlockNumber(block), block_hash(block, fork), tx_hash(tx), LogIndex(log))


def receive(
    block: int,
    tx: int,
    log: int,
    amount: int,
    *,
    wallet: Address = ALICE,
    value: Decimal | None = Decimal("100"),
    chain: ChainId = CHAIN,
) -> LedgerEvent:
    return LedgerEvent(
        ref=ref(block, tx, log, chain),
        leg=0,
        timestamp=T0 + timedelta(minutes=block),
        kind=EventKind.RECEIVE,
        wallet=wallet,
        asset=USDC,
        amount_raw=amount,
        value_usd=value,
        counterparty=OUTSIDER,
        needs_review=True,
        price_missing=value is None,
    )


def swap_pair(block: int, tx: int) -> list[LedgerEvent]:
    audit = SwapAudit("uniswap_v2", POOL, WETH, USDC, 10**18, 2_500 * 10**6)
    out = LedgerEvent(
        ref=ref(block, tx, 3),
        leg=0,
        timestamp=T0 + timedelta(minutes=block),
        kind=EventKind.SWAP_OUT,
        wallet=ALICE,
        asset=WETH,
        amount_raw=10**18,
        value_usd=Decimal("2500.123456789012345678"),
        fee_usd=Decimal("1.25"),
        group=tx_hash(tx),
        swap=audit,
    )
    into = replace(
        out, leg=1, kind=EventKind.SWAP_IN, asset=USDC, amount_raw=2_500 * 10**6, fee_usd=Decimal(0)
    )
    return [out, into]


def gas(block: int, tx: int) -> LedgerEvent:
    return LedgerEvent(
        ref=ref(block, tx, -1),
        leg=0,
        timestamp=T0 + timedelta(minutes=block),
        kind=EventKind.GAS,
        wallet=ALICE,
        asset=NATIVE_ASSET,
        amount_raw=21_000 * 10**9,
        value_usd=Decimal("0.05"),
    )


def blocks(first: int, last: int, fork: str = "a") -> list[BlockRecord]:
    return [
        BlockRecord(
            CHAIN,
            BlockNumber(n),
            block_hash(n, fork),
            block_hash(n - 1, fork),
            T0 + timedelta(minutes=n),
        )
        for n in range(first, last + 1)
    ]


def source(block: int, tx: int, log: int) -> SourceRef:
    return SourceRef(
        f"{CHAIN}:{tx_hash(tx)}:{log}:0",
        BlockNumber(block),
        block_hash(block),
        tx_hash(tx),
        LogIndex(log),
    )


def lot(
    lot_id: str, block: int, amount: int, cost: str, *, wallet: Address | None = ALICE
) -> LotRecord:
    return LotRecord(
        lot_id=lot_id,
        wallet=wallet,
        asset=USDC,
        amount_raw=amount,
        cost_usd=Decimal(cost),
        remaining_raw=amount // 2,
        remaining_cost_usd=Decimal(cost) / 2,
        acquired_at=T0 + timedelta(minutes=block),
        holding_period_start=T0,
        source=source(block, block, 0),
    )


def disposal(disposal_id: str, block: int, lots: list[str]) -> DisposalRecord:
    matches = tuple(
        DisposalMatchRecord(
            lot_id=lot_id,
            rule="hifo",
            amount_raw=10 + i,
            cost_usd=Decimal("5.5"),
            proceeds_usd=Decimal("7.25"),
            gain_usd=Decimal("1.75"),
            term=DisposalTerm.SHORT,
            origin=f"ev-{lot_id}",
            acquired_at=T0 + timedelta(days=i),
            holding_period_start=T0,
        )
        for i, lot_id in enumerate(lots)
    )
    return DisposalRecord(
        disposal_id=disposal_id,
        wallet=ALICE,
        asset=USDC,
        amount_raw=21,
        disposed_at=T0 + timedelta(minutes=block),
        proceeds_usd=Decimal("14.5"),
        cost_usd=Decimal("11"),
        gain_usd=Decimal("3.5"),
        term=DisposalTerm.MIXED,
        disallowed_loss_usd=Decimal(0),
        reportable_gain_usd=Decimal("3.5"),
        source=source(block, block, 1),
        matches=matches,
        event_ids=(f"ev-{disposal_id}",),
    )


def proposal(
    pid: str,
    fingerprint: str,
    *,
    status: ProposalStatus = ProposalStatus.OPEN,
    expires_at: datetime | None = None,
) -> ProposalRecord:
    return ProposalRecord(
        id=pid,
        kind="harvest",
        status=status,
        fingerprint=fingerprint,
        chain_id=CHAIN,
        wallet=ALICE,
        reason="loss 812.40 USD beats cost 3.10 USD by margin",
        created_at=T0,
        updated_at=T0,
        expires_at=expires_at,
        expected_short_term_gain_usd=Decimal("-812.40"),
        expected_long_term_gain_usd=Decimal("0"),
        expected_exempt_gain_usd=Decimal("0"),
        expected_tax_effect_usd=Decimal("-300.588"),
        expected_cost_usd=Decimal("3.10"),
        trade_count=2,
        details={
            "trades": [{"sell": USDC, "amount_raw": 2**200, "min_out_raw": 1}],
            "lots": ["lot-1", "lot-2"],
            "tax_rate": Decimal("0.37"),
        },
    )


def trade(pid: str, index: int = 0) -> NewExecution:
    return NewExecution(
        proposal_id=pid,
        trade_index=index,
        chain_id=CHAIN,
        from_address=ALICE,
        token_in=USDC,
        token_out=WETH,
        amount_in_raw=2_500 * 10**6,
        min_amount_out_raw=99 * 10**16,
    )


class TestStore:
    """Every behaviour of the store, once per backend."""

    # -- exact values -------------------------------------------------------------------

    @pytest.mark.parametrize(
        "amount",
        [0, 1, U256_MAX, U256_MAX - 1, 10**30 + 7, -1, -U256_MAX, 2**64, 2**63 - 1],
    )
    def test_u256_round_trips(self, store: Store, amount: int) -> None:
        event = receive(1, 1, 0, amount)
        with store.transaction() as session:
            assert add_events(session, [event]) == 1
        with store.reader() as session:
            assert load_events(session, CHAIN)[0].amount_raw == amount

    @pytest.mark.parametrize(
        "value",
        [
            "0",
            "1E-30",
            "0.000000000000000001",
            "-0.01",
            "-123456789.987654321",
            "123456789012345678901234567890.123456789012345678",
            "1E+40",
            "2500",
        ],
    )
    def test_usd_decimal_round_trips(self, store: Store, value: str) -> None:
        event = receive(1, 1, 0, 5, value=Decimal(value))
        with store.transaction() as session:
            add_events(session, [event])
            put_prices(session, [PricePoint(CHAIN, USDC, BlockNumber(1), Decimal(value), "v2")])
        with store.reader() as session:
            stored = load_events(session, CHAIN)[0].value_usd
            price = get_price(session, CHAIN, USDC, BlockNumber(1))
        assert stored == Decimal(value)
        assert price is not None and price.price_usd == Decimal(value)

    def test_timestamps_come_back_aware_utc(self, store: Store) -> None:
        plus_five = timezone(timedelta(hours=5, minutes=30))
        moment = datetime(2024, 6, 30, 23, 59, 59, 123456, tzinfo=plus_five)
        event = receive(1, 1, 0, 5)
        event = replace(event, timestamp=moment)
        with store.transaction() as session:
            add_events(session, [event])
        with store.reader() as session:
            back = load_events(session, CHAIN)[0].timestamp
        assert back == moment
        assert back.tzinfo is not None and back.utcoffset() == timedelta(0)

    def test_u256_order_in_sql_is_numeric(self, store: Store) -> None:
        amounts = [5, -7, 0, U256_MAX, 10**20, -U256_MAX, 42, -1]
        with store.transaction() as session:
            add_events(session, [receive(1, i + 1, 0, a) for i, a in enumerate(amounts)])
        with store.reader() as session:
            ordered = session.exec(
                select(LedgerEventRow.amount_raw).order_by(col(LedgerEventRow.amount_raw))
            ).all()
            bigger = session.exec(
                select(LedgerEventRow.amount_raw).where(col(LedgerEventRow.amount_raw) > 41)
            ).all()
        assert list(ordered) == sorted(amounts)
        assert sorted(bigger) == [42, 10**20, U256_MAX]

    @pytest.mark.parametrize(
        ("event_change", "expected"),
        [
            ({"amount_raw": 2**256}, "U256"),
            ({"value_usd": 0.1}, "UsdDecimal"),
            ({"value_usd": Decimal("NaN")}, "UsdDecimal"),
            ({"timestamp": datetime(2024, 1, 1)}, "UtcTimestamp"),
        ],
    )
    def test_unstorable_values_are_refused_and_nothing_is_written(
        self, store: Store, event_change: dict[str, Any], expected: str
    ) -> None:
        good = receive(1, 1, 0, 5)
        bad = replace(good, ref=ref(2, 2, 0), **event_change)
        with pytest.raises(UnstorableValue) as caught, store.transaction() as session:
            add_events(session, [good])
            add_events(session, [bad])
        assert caught.value.column_type == expected
        with store.reader() as session:
            assert count_events(session, CHAIN) == 0

    def test_many_random_values_round_trip(self, store: Store) -> None:
        rng = random.Random(20241122)
        events = []
        for i in range(300):
            amount = rng.choice(
                [rng.randrange(2**256), rng.randrange(10**6), -rng.randrange(2**255)]
            )
            digits = rng.randrange(0, 10 ** rng.randrange(1, 60))
            value = Decimal(digits).scaleb(-rng.randrange(0, 40)) * rng.choice([1, -1])
            events.append(receive(1 + i // 10, i, i % 10, amount, value=value))
        with store.transaction() as session:
            assert add_events(session, events) == 300
        with store.reader() as session:
            loaded = load_events(session, CHAIN)
        key = {(e.ref.tx_hash, e.ref.log_index): e for e in events}
        assert all(key[(e.ref.tx_hash, e.ref.log_index)] == e for e in loaded)
        assert len(loaded) == 300

    # -- events -------------------------------------------------------------------------

    def test_events_round_trip_exactly_and_reinsert_is_idempotent(self, store: Store) -> None:
        events = [
            *swap_pair(10, 7),
            gas(10, 7),
            receive(9, 3, 0, 10**24, value=None),
            receive(11, 8, 2, 1, wallet=BOB),
        ]
        with store.transaction() as session:
            assert add_events(session, events) == 5
        with store.transaction() as session:
            assert add_events(session, events) == 0
            assert add_events(session, [*events, receive(12, 9, 0, 3)]) == 1
        with store.reader() as session:
            loaded = load_events(session, CHAIN)
        expected = [events[3], events[2], events[0], events[1], events[4], receive(12, 9, 0, 3)]
        assert loaded == expected
        assert loaded[2].swap == events[0].swap and loaded[2].fee_usd == Decimal("1.25")

    def test_duplicates_inside_one_batch_count_once(self, store: Store) -> None:
        event = receive(1, 1, 0, 5)
        with store.transaction() as session:
            assert add_events(session, [event, event, event]) == 1

    def test_large_batch_is_booked_in_chunks(self, store: Store) -> None:
        events = [receive(b, b * 10 + i, i, b * 1000 + i) for b in range(1, 41) for i in range(30)]
        with store.transaction() as session:
            assert add_events(session, events) == 1200
        with store.reader() as session:
            assert count_events(session, CHAIN) == 1200
            assert load_events(session, CHAIN, from_block=BlockNumber(40))[0].amount_raw == 40_000

    def test_load_events_filters(self, store: Store) -> None:
        with store.transaction() as session:
            add_events(
                session,
                [
                    *swap_pair(5, 1),
                    receive(6, 2, 0, 9, wallet=BOB),
                    receive(7, 3, 0, 9, chain=OTHER_CHAIN),
                ],
            )
        with store.reader() as session:
            assert [e.kind for e in load_events(session, CHAIN, asset=WETH)] == [EventKind.SWAP_OUT]
            assert [e.wallet for e in load_events(session, CHAIN, wallet=BOB)] == [BOB]
            assert len(load_events(session, CHAIN, to_block=BlockNumber(5))) == 2
            assert len(load_events(session, CHAIN, needs_review=True)) == 1
            assert len(load_events(session, OTHER_CHAIN)) == 1

    def test_relabel_marks_reviewed(self, store: Store) -> None:
        event = receive(1, 1, 0, 5)
        with store.transaction() as session:
            add_events(session, [event])
        with store.transaction() as session:
            relabelled = relabel_event(session, event.ref, 0, ALICE, Label.INCOME)
        assert relabelled.label is Label.INCOME and relabelled.needs_review is False
        with store.reader() as session:
            assert load_events(session, CHAIN)[0] == relabelled
        with pytest.raises(NotFound), store.transaction() as session:
            relabel_event(session, event.ref, 1, ALICE, Label.GIFT)

    def test_a_missing_price_is_filled_in_later(self, store: Store) -> None:
        event = receive(1, 1, 0, 5, value=None)
        with store.transaction() as session:
            add_events(session, [event])
            priced = set_event_value(session, event.ref, 0, ALICE, Decimal("4.99"))
        assert priced == replace(event, value_usd=Decimal("4.99"), price_missing=False)
        with store.reader() as session:
            assert load_events(session, CHAIN) == [priced]

    # -- blocks, checkpoints, rollback ----------------------------------------------------

    def test_blocks_and_fork_point(self, store: Store) -> None:
        with store.transaction() as session:
            put_blocks(session, blocks(1, 10))
        canonical = {BlockNumber(n): block_hash(n, "a" if n <= 6 else "b") for n in range(3, 11)}
        with store.reader() as session:
            assert find_fork_point(session, CHAIN, canonical) == 6
            assert find_fork_point(session, CHAIN, {BlockNumber(9): block_hash(9, "b")}) is None
            head = latest_block(session, CHAIN)
            assert head is not None and head.number == 10 and head.timestamp.tzinfo is not None
            assert get_block(session, CHAIN, BlockNumber(4)) == blocks(4, 4)[0]
        with store.transaction() as session:
            put_blocks(session, blocks(7, 10, "b"))
        with store.reader() as session:
            b7 = get_block(session, CHAIN, BlockNumber(7))
            assert b7 is not None and b7.hash == block_hash(7, "b")

    def test_checkpoint_commits_with_its_rows(self, store: Store) -> None:
        with store.transaction() as session:
            add_events(session, [receive(5, 1, 0, 5)])
            set_checkpoint(session, CHAIN, BlockNumber(5), block_hash(5))
        with store.reader() as session:
            cp = get_checkpoint(session, CHAIN)
            assert cp is not None and (cp.block_number, cp.block_hash) == (5, block_hash(5))
            assert get_checkpoint(session, CHAIN, "prices") is None

    def test_rollback_leaves_exactly_the_rows_at_or_below_the_block(self, store: Store) -> None:
        with store.transaction() as session:
            put_blocks(session, blocks(1, 6))
            add_events(session, [receive(n, n, 0, n) for n in range(1, 7)])
            add_events(session, [receive(n, n, 0, n, chain=OTHER_CHAIN) for n in range(1, 7)])
            put_prices(
                session,
                [PricePoint(CHAIN, USDC, BlockNumber(n), Decimal(n), "v2") for n in range(1, 7)],
            )
            replace_derived(
                session,
                CHAIN,
                DerivedLedger(
                    lots=(lot("l2", 2, 100, "10"), lot("l5", 5, 100, "10")),
                    movements=(
                        LotMovementRecord(
                            "t4",
                            MovementKind.TRANSFER,
                            "l2",
                            "ev-l2",
                            "l2b",
                            ALICE,
                            BOB,
                            USDC,
                            5,
                            Decimal("0.5"),
                            T0,
                            source(4, 4, 0),
                        ),
                    ),
                    disposals=(disposal("d3", 3, ["l2"]), disposal("d6", 6, ["l2", "l5"])),
                ),
            )
            set_checkpoint(session, CHAIN, BlockNumber(6), block_hash(6))
            set_checkpoint(session, CHAIN, BlockNumber(2), block_hash(2), "prices")
        with store.transaction() as session:
            summary = rollback_to_block(session, CHAIN, BlockNumber(3))
        assert (summary.events, summary.blocks, summary.prices) == (3, 3, 3)
        assert (summary.lots, summary.lot_movements, summary.disposals) == (1, 1, 1)
        assert summary.checkpoints_rewound == 1
        with store.reader() as session:
            assert [e.ref.block_number for e in load_events(session, CHAIN)] == [1, 2, 3]
            assert len(load_events(session, OTHER_CHAIN)) == 6
            assert count_blocks(session, CHAIN) == 3
            assert get_price(session, CHAIN, USDC, BlockNumber(4)) is None
            assert get_price(session, CHAIN, USDC, BlockNumber(3)) is not None
            assert [x.lot_id for x in load_lots(session, CHAIN)] == ["l2"]
            assert load_lot_movements(session, CHAIN) == []
            assert [d.disposal_id for d in load_disposals(session, CHAIN)] == ["d3"]
            cp = get_checkpoint(session, CHAIN)
            assert cp is not None and (cp.block_number, cp.block_hash) == (3, block_hash(3))
            prices_cp = get_checkpoint(session, CHAIN, "prices")
            assert prices_cp is not None and prices_cp.block_number == 2
            remaining = session.exec(text("SELECT count(*) FROM disposal_match")).one()  # type: ignore[call-overload]
            assert remaining[0] == 1

    # -- atomicity ------------------------------------------------------------------------

    def test_an_exception_inside_a_transaction_leaves_nothing(self, store: Store) -> None:
        class Boom(Exception):
            pass

        with pytest.raises(Boom), store.transaction() as session:
            add_events(session, [receive(1, 1, 0, 5)])
            put_blocks(session, blocks(1, 1))
            set_checkpoint(session, CHAIN, BlockNumber(1), block_hash(1))
            raise Boom
        with store.reader() as session:
            assert count_events(session, CHAIN) == 0
            assert count_blocks(session, CHAIN) == 0
            assert get_checkpoint(session, CHAIN) is None

    def test_a_nested_write_transaction_is_refused(self, store: Store) -> None:
        with store.transaction("book blocks") as session:
            add_events(session, [receive(1, 1, 0, 5)])
            with pytest.raises(NestedTransaction) as caught, store.transaction("inner"):
                pass
        assert (caught.value.outer, caught.value.inner) == ("book blocks", "inner")
        with store.transaction() as session:
            assert count_events(session, CHAIN) == 1

    def test_a_constraint_failure_is_a_store_error_and_rolls_back(self, store: Store) -> None:
        with pytest.raises(IntegrityViolation) as caught, store.transaction() as session:
            add_events(session, [receive(1, 1, 0, 5)])
            replace_derived(
                session,
                CHAIN,
                DerivedLedger(lots=(lot("same", 1, 10, "1"), lot("same", 1, 10, "1"))),
            )
        assert isinstance(caught.value, StoreError)
        assert "sqlalchemy" not in type(caught.value).__module__
        with store.reader() as session:
            assert count_events(session, CHAIN) == 0
            assert load_lots(session, CHAIN) == []

    def test_replace_derived_swaps_the_whole_set(self, store: Store) -> None:
        washed = replace(
            lot("b", 2, 1, "2"),
            adjustments=(LotAdjustment("wash_sale", "ev-d0", Decimal("12.3456789"), 41),),
        )
        pooled_disposal = replace(
            disposal("d2+d3", 4, ["s104:USDC"]), wallet=None, event_ids=("d2", "d3")
        )
        first = DerivedLedger(
            lots=(lot("a", 1, 10, "1"), washed, lot("s104:USDC", 3, 7, "9", wallet=None)),
            movements=(
                LotMovementRecord(
                    "m1",
                    MovementKind.REMOVAL,
                    "a",
                    "ev-a",
                    None,
                    ALICE,
                    None,
                    USDC,
                    3,
                    Decimal("0.3"),
                    T0,
                    source(2, 2, 0),
                ),
            ),
            disposals=(disposal("d1", 3, ["a", "b"]), pooled_disposal),
        )
        with store.transaction() as session:
            replace_derived(session, CHAIN, first)
            replace_derived(session, OTHER_CHAIN, DerivedLedger(lots=(lot("x", 1, 1, "1"),)))
        with store.reader() as session:
            assert tuple(load_lots(session, CHAIN)) == first.lots
            assert tuple(load_disposals(session, CHAIN)) == first.disposals
            assert tuple(load_lot_movements(session, CHAIN)) == first.movements
            assert [x.lot_id for x in load_lots(session, CHAIN, open_only=True)] == [
                "a",
                "s104:USDC",
            ]
        second = DerivedLedger(lots=(lot("c", 4, 8, "3.333333333333333333333"),))
        with store.transaction() as session:
            replace_derived(session, CHAIN, second)
        with store.reader() as session:
            assert tuple(load_lots(session, CHAIN)) == second.lots
            assert load_disposals(session, CHAIN) == []
            assert [x.lot_id for x in load_lots(session, OTHER_CHAIN)] == ["x"]
            assert load_disposals(session, CHAIN, since=T0, until=T0 + timedelta(days=1)) == []

    def test_engine_output_is_stored_and_traced_to_the_chain(self, store: Store) -> None:
        buy = receive(1, 1, 0, 10 * 10**6, value=Decimal("100"))
        sell = replace(
            receive(5, 5, 2, 4 * 10**6, value=Decimal("60")),
            kind=EventKind.SWAP_OUT,
            needs_review=False,
        )
        gift = replace(receive(6, 6, 0, 1 * 10**6, value=Decimal("15")), kind=EventKind.SEND)
        actions = {
            EventKind.RECEIVE: Action.ACQUIRE,
            EventKind.SWAP_OUT: Action.DISPOSE,
            EventKind.SEND: Action.WITHDRAW,
        }
        lot_events = [
            LotEvent(
                id=event_id(e),
                time=e.timestamp,
                action=actions[e.kind],
                asset=e.asset,
                amount_raw=e.amount_raw,
                wallet=e.wallet,
                value=e.value_usd,
            )
            for e in (buy, sell, gift)
        ]
        result = replay(lot_events, Policy(Jurisdiction.US, LotMethod.FIFO))
        derived = derived_from_result(result, sources_for([buy, sell, gift]))
        with store.transaction() as session:
            add_events(session, [buy, sell, gift])
            replace_derived(session, CHAIN, derived)
        with store.reader() as session:
            (held,) = load_lots(session, CHAIN)
            (sold,) = load_disposals(session, CHAIN)
            (gone,) = load_lot_movements(session, CHAIN)
        assert held.remaining_raw == 5 * 10**6 and held.cost_usd == Decimal("50")
        assert held.source.block_number == 1 and held.source.tx_hash == tx_hash(1)
        assert sold.gain_usd == Decimal("20") and sold.term is DisposalTerm.SHORT
        assert sold.source.log_index == 2 and sold.matches[0].rule == "fifo"
        assert gone.kind is MovementKind.REMOVAL and gone.cost_usd == Decimal("10")
        with store.transaction() as session:
            rollback_to_block(session, CHAIN, BlockNumber(5))
        with store.reader() as session:
            assert load_lot_movements(session, CHAIN) == []
            assert len(load_disposals(session, CHAIN)) == 1

    def test_long_engine_ids_fit_on_both_backends(self, store: Store) -> None:
        split = ">".join(f"{CHAIN}:{tx_hash(n)}:{n}:0:{ALICE}" for n in range(1, 6))
        derived = DerivedLedger(
            lots=(lot(split, 1, 10, "1"),),
            disposals=(disposal("+".join(f"sale-{n}" for n in range(40)), 2, [split]),),
        )
        with store.transaction() as session:
            replace_derived(session, CHAIN, derived)
        with store.reader() as session:
            assert tuple(load_lots(session, CHAIN)) == derived.lots
            assert tuple(load_disposals(session, CHAIN)) == derived.disposals

    def test_a_reader_sees_one_snapshot(self, store: Store) -> None:
        with store.transaction() as session:
            replace_derived(session, CHAIN, DerivedLedger(lots=(lot("old", 1, 10, "1"),)))
        with store.reader() as session:
            assert [x.lot_id for x in load_lots(session, CHAIN)] == ["old"]
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(self._replace_with_new, store).result()
            assert [x.lot_id for x in load_lots(session, CHAIN)] == ["old"]
        with store.reader() as session:
            assert [x.lot_id for x in load_lots(session, CHAIN)] == ["new"]

    @staticmethod
    def _replace_with_new(store: Store) -> None:
        with store.transaction() as session:
            replace_derived(session, CHAIN, DerivedLedger(lots=(lot("new", 1, 10, "1"),)))

    # -- catalog and prices ---------------------------------------------------------------

    def test_wallets_assets_chains(self, store: Store) -> None:
        with store.transaction() as session:
            upsert_chain(session, CHAIN, "anvil", "ETH")
            upsert_chain(session, CHAIN, "anvil-local", "ETH")
            upsert_wallets(session, [WalletRecord(ALICE, "main"), WalletRecord(BOB, "cold")])
            upsert_wallets(session, [WalletRecord(BOB, "cold storage")])
            upsert_assets(
                session, [AssetRecord(CHAIN, USDC, "USDC", 6), AssetRecord(CHAIN, WETH, "WETH", 18)]
            )
            upsert_assets(session, [AssetRecord(CHAIN, USDC, "USDC", 6, is_spam=True)])
        with store.reader() as session:
            assert list_wallets(session) == sorted(
                [WalletRecord(ALICE, "main"), WalletRecord(BOB, "cold storage")],
                key=lambda w: w.address,
            )
            usdc = get_asset(session, CHAIN, USDC)
            assert usdc is not None and usdc.is_spam and usdc.decimals == 6
            assert {a.symbol for a in list_assets(session, CHAIN)} == {"USDC", "WETH"}

    def test_price_cache_and_missing_marker(self, store: Store) -> None:
        with store.transaction() as session:
            put_prices(
                session,
                [
                    PricePoint(CHAIN, WETH, BlockNumber(10), Decimal("2500.5"), "v2"),
                    PricePoint(CHAIN, WETH, BlockNumber(12), None, "v2"),
                    PricePoint(CHAIN, WETH, BlockNumber(12), Decimal("2510"), "v3"),
                    PricePoint(CHAIN, WETH, BlockNumber(14), None, "v2"),
                ],
            )
        with store.reader() as session:
            miss = get_price(session, CHAIN, WETH, BlockNumber(14))
            assert miss is not None and miss.is_missing
            either = get_price(session, CHAIN, WETH, BlockNumber(12))
            assert either is not None and either.price_usd == Decimal("2510")
            latest = find_latest_price(session, CHAIN, WETH, BlockNumber(15))
            assert latest is not None and latest.block_number == 12
            old = find_latest_price(session, CHAIN, WETH, BlockNumber(11), source="v2")
            assert old is not None and old.price_usd == Decimal("2500.5")
            assert (
                find_latest_price(session, CHAIN, WETH, BlockNumber(11), not_before=BlockNumber(11))
                is None
            )
        with store.transaction() as session:
            put_prices(session, [PricePoint(CHAIN, WETH, BlockNumber(14), Decimal("1"), "v2")])
        with store.reader() as session:
            fixed = get_price(session, CHAIN, WETH, BlockNumber(14), "v2")
            assert fixed is not None and fixed.price_usd == Decimal(1)

    # -- proposals ------------------------------------------------------------------------

    def test_proposal_round_trip_and_fingerprint_uniqueness(self, store: Store) -> None:
        with store.transaction() as session:
            created = create_proposal(session, proposal("p1", "fp-usdc"))
        assert created.details["tax_rate"] == "0.37"
        trades = created.details["trades"]
        assert isinstance(trades, list) and isinstance(trades[0], dict)
        assert trades[0]["amount_raw"] == 2**200
        with pytest.raises(EquivalentProposalOpen) as caught, store.transaction() as session:
            create_proposal(session, proposal("p2", "fp-usdc"))
        assert caught.value.existing_id == "p1"
        with store.transaction() as session:
            create_proposal(session, proposal("p3", "fp-weth"))
            update_proposal_status(session, "p1", ProposalStatus.APPROVED)
        with pytest.raises(EquivalentProposalOpen), store.transaction() as session:
            create_proposal(session, proposal("p2", "fp-usdc"))
        with store.transaction() as session:
            update_proposal_status(session, "p1", ProposalStatus.REJECTED, note="user said no")
            again = create_proposal(session, proposal("p2", "fp-usdc"))
        with store.reader() as session:
            found = find_open_proposal(session, "fp-usdc")
            assert found == again
            p1 = get_proposal(session, "p1")
            assert p1.status is ProposalStatus.REJECTED and p1.status_note == "user said no"
            assert [p.id for p in list_proposals(session, statuses=[ProposalStatus.OPEN])] == [
                "p2",
                "p3",
            ]
            assert p1.expected_tax_effect_usd == Decimal("-300.588")

    def test_racing_equivalent_proposals_one_wins(self, store: Store) -> None:
        """Two workers propose the same trade at once: the database lets one through."""
        inside = threading.Event()

        def first() -> None:
            with store.transaction() as session:
                create_proposal(session, proposal("p-first", "fp-race"))
                inside.set()
                time.sleep(0.3)  # hold the transaction open while the second one tries

        def second() -> str:
            inside.wait(timeout=10)
            try:
                with store.transaction() as session:
                    create_proposal(session, proposal("p-second", "fp-race"))
            except EquivalentProposalOpen as exc:
                return exc.existing_id
            return "created"

        with ThreadPoolExecutor(max_workers=2) as pool:
            winner = pool.submit(first)
            loser = pool.submit(second)
            winner.result()
            assert loser.result() == "p-first"
        with store.reader() as session:
            assert [p.id for p in list_proposals(session)] == ["p-first"]

    def test_proposal_transitions(self, store: Store) -> None:
        with store.transaction() as session:
            create_proposal(session, proposal("p1", "fp"))
        with pytest.raises(InvalidTransition) as caught, store.transaction() as session:
            update_proposal_status(session, "p1", ProposalStatus.EXECUTED)
        assert (caught.value.current, caught.value.wanted) == ("open", "executed")
        with store.transaction() as session:
            for status in (
                ProposalStatus.APPROVED,
                ProposalStatus.EXECUTING,
                ProposalStatus.EXECUTED,
            ):
                update_proposal_status(session, "p1", status)
        with pytest.raises(InvalidTransition), store.transaction() as session:
            update_proposal_status(session, "p1", ProposalStatus.OPEN)
        with pytest.raises(NotFound), store.transaction() as session:
            update_proposal_status(session, "nope", ProposalStatus.APPROVED)

    def test_expire_proposals(self, store: Store) -> None:
        with store.transaction() as session:
            create_proposal(session, proposal("old", "a", expires_at=T0 + timedelta(hours=1)))
            create_proposal(session, proposal("new", "b", expires_at=T0 + timedelta(days=2)))
            create_proposal(session, replace(proposal("never", "c"), wallet=None))
        with store.transaction() as session:
            assert get_proposal(session, "never").wallet is None
            assert expire_proposals(session, T0 + timedelta(days=1)) == ["old"]
        with store.transaction() as session:
            assert get_proposal(session, "old").status is ProposalStatus.EXPIRED
            create_proposal(session, proposal("old2", "a"))

    def test_floats_in_proposal_details_are_refused(self, store: Store) -> None:
        bad = proposal("p1", "fp")
        floaty: dict[str, Any] = {"slippage": 0.5}
        bad = replace(bad, details=floaty)
        with pytest.raises(UnstorableValue), store.transaction() as session:
            create_proposal(session, bad)

    # -- executions and nonces ------------------------------------------------------------

    def test_execution_state_machine(self, store: Store) -> None:
        with store.transaction() as session:
            create_proposal(session, proposal("p1", "fp"))
            first = create_execution(session, trade("p1"))
        assert (first.state, first.attempt) == (ExecutionState.PENDING, 1)
        with pytest.raises(InvalidTransition), store.transaction() as session:
            advance_execution(session, first.id, ExecutionState.SENT)
        with pytest.raises(InvalidTransition), store.transaction() as session:
            create_execution(session, trade("p1"))
        with store.transaction() as session:
            advance_execution(
                session,
                first.id,
                ExecutionState.SIGNED,
                ExecutionUpdate(
                    nonce=7,
                    tx_hash=tx_hash(99),
                    raw_tx="0x02f8" + "ab" * 200,
                    max_fee_per_gas_wei=U256_MAX,
                    max_priority_fee_per_gas_wei=10**9,
                ),
            )
            advance_execution(session, first.id, ExecutionState.SENT)
            second = create_execution(session, trade("p1"))
            advance_execution(session, first.id, ExecutionState.REPLACED)
            advance_execution(
                session,
                second.id,
                ExecutionState.SIGNED,
                ExecutionUpdate(nonce=7, tx_hash=tx_hash(100)),
            )
            advance_execution(session, second.id, ExecutionState.SENT)
            done = advance_execution(
                session,
                second.id,
                ExecutionState.CONFIRMED,
                ExecutionUpdate(
                    gas_used=143_211,
                    amount_out_raw=10**18 + 1,
                    effective_gas_price_wei=3 * 10**9,
                    effective_price=Decimal("2499.999999999999999999"),
                    block_number=BlockNumber(77),
                ),
            )
        assert done.attempt == 2 and done.nonce == 7 and done.tx_hash == tx_hash(100)
        with store.reader() as session:
            replaced = get_execution(session, first.id)
            assert replaced.state is ExecutionState.REPLACED
            assert replaced.max_fee_per_gas_wei == U256_MAX
            assert get_execution(session, second.id) == done
            assert [e.state for e in list_executions(session, proposal_id="p1")] == [
                ExecutionState.REPLACED,
                ExecutionState.CONFIRMED,
            ]
            assert list_executions(session, states=(ExecutionState.SENT,)) == []
        with pytest.raises(InvalidTransition), store.transaction() as session:
            create_execution(session, trade("p1"))
        with pytest.raises(NotFound), store.transaction() as session:
            create_execution(session, trade("ghost"))

    def test_a_deadlock_is_a_retryable_conflict(self, store: Store) -> None:
        if store.backend == "sqlite":
            pytest.skip("SQLite write transactions are serialised: they cannot deadlock")
        both_locked = threading.Barrier(2, timeout=10)

        def lock_in_order(first: Address, second: Address) -> str:
            try:
                with store.transaction() as session:
                    reserve_nonce(session, CHAIN, first, 0)
                    both_locked.wait()
                    reserve_nonce(session, CHAIN, second, 0)
            except TransactionConflict:
                return "conflict"
            return "done"

        with store.transaction() as session:
            reserve_nonce(session, CHAIN, ALICE, 0)
            reserve_nonce(session, CHAIN, BOB, 0)
        with ThreadPoolExecutor(max_workers=2) as pool:
            one = pool.submit(lock_in_order, ALICE, BOB)
            two = pool.submit(lock_in_order, BOB, ALICE)
            outcomes = sorted([one.result(), two.result()])
        assert outcomes == ["conflict", "done"]
        with store.reader() as session:
            assert get_next_nonce(session, CHAIN, ALICE) == 2
            assert get_next_nonce(session, CHAIN, BOB) == 2

    def test_nonces_survive_a_restart(self, store: Store, reopen: Callable[[Store], Store]) -> None:
        with store.transaction() as session:
            assert get_next_nonce(session, CHAIN, ALICE) is None
            assert reserve_nonce(session, CHAIN, ALICE, 5) == 5
            assert reserve_nonce(session, CHAIN, ALICE, 5) == 6
            assert reserve_nonce(session, CHAIN, BOB, 0) == 0
        restarted = reopen(store)
        try:
            with restarted.transaction() as session:
                assert get_next_nonce(session, CHAIN, ALICE) == 7
                assert reserve_nonce(session, CHAIN, ALICE, 3) == 7
                assert reserve_nonce(session, CHAIN, ALICE, 20) == 20
        finally:
            if restarted is not store:
                restarted.engine.dispose()
        with store.reader() as session:
            assert get_next_nonce(session, CHAIN, ALICE) == 21

    def test_concurrent_writers_from_worker_threads(self, store: Store) -> None:
        """What the daemon does (asyncio.to_thread): writers in threads queue, never
        fail on a lock, and the nonce row hands out each nonce exactly once."""

        def work(worker: int) -> list[int]:
            taken = []
            for i in range(15):
                with store.transaction() as session:
                    add_events(session, [receive(i + 1, worker * 100 + i, 0, i)])
                    taken.append(reserve_nonce(session, CHAIN, ALICE, 0))
            return taken

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(work, range(4)))
        nonces = sorted(n for taken in results for n in taken)
        assert nonces == list(range(60))
        with store.reader() as session:
            assert count_events(session, CHAIN) == 60


class TestMigrations:
    """The packaged Alembic revisions build exactly the models, on both backends."""

    def test_upgrade_matches_models_and_is_idempotent(self, fresh_url: str) -> None:
        empty = open_store(fresh_url)
        try:
            assert empty.schema_revision() is None and not empty.is_at_head()
        finally:
            empty.close()
        with capture_logs() as logs:
            upgrade(fresh_url)
            upgrade(fresh_url)
        assert [(e["event"], e.get("to_revision", e.get("revision"))) for e in logs] == [
            ("schema_upgraded", "0001"),
            ("schema_verified", "0001"),
        ]
        assert logs[0]["from_revision"] is None
        store = open_store(fresh_url)
        try:
            assert store.schema_revision() == head_revision() == "0001"
            assert store.is_at_head()
            with store.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, STORE_METADATA) == []
                version = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                assert [r[0] for r in version] == ["0001"]
                columns = {c["name"]: c["type"] for c in inspect(connection).get_columns("lot")}
                if store.backend == "postgresql":
                    assert str(columns["amount_raw"]) == "NUMERIC(78, 0)"
                    assert str(columns["cost_usd"]) == "NUMERIC"
                    assert getattr(columns["acquired_at"], "timezone", None) is True
                else:
                    assert str(columns["amount_raw"]) == "TEXT"
                    assert str(columns["cost_usd"]) == "TEXT"
                if store.backend == "sqlite":
                    mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
                    assert mode == "wal"
                    assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        finally:
            store.close()


def test_every_tax_relevant_row_traces_to_the_chain() -> None:
    trace = {"block_number", "block_hash", "tx_hash", "log_index"}
    for name in ("ledger_event", "lot", "lot_movement", "disposal"):
        columns = set(STORE_METADATA.tables[name].c.keys())
        assert trace | {"chain_id"} <= columns, name
    assert {"chain_id", "block_number"} <= set(STORE_METADATA.tables["price"].c.keys())


def test_in_memory_sqlite_keeps_one_database() -> None:
    store = open_store("sqlite://")
    store.upgrade()
    try:
        with store.transaction() as session:
            add_events(session, [receive(1, 1, 0, 5)])
        with store.reader() as session:
            assert count_events(session, CHAIN) == 1
    finally:
        store.close()


class TestErrors:
    """Driver and URL problems come out as store errors that name the (redacted) URL."""

    def test_bad_url_names_it_without_the_password(self) -> None:
        with pytest.raises(InvalidDatabaseUrl) as caught:
            open_store("mysql://admin:hunter2@db.example/harvestd")
        assert "hunter2" not in str(caught.value)
        assert "db.example" in str(caught.value)
        with pytest.raises(InvalidDatabaseUrl):
            open_store("not a url at all")
        with pytest.raises(InvalidDatabaseUrl):
            open_store("postgresql+asyncpg://u:p@localhost/x")

    def test_unreachable_server_is_unavailable(self) -> None:
        with pytest.raises(DatabaseUnavailable) as caught:
            upgrade("postgresql://postgres:s3cret@127.0.0.1:1/nowhere")
        assert "s3cret" not in str(caught.value)
        assert "127.0.0.1:1" in str(caught.value)
        store = open_store("postgres://postgres:s3cret@127.0.0.1:1/nowhere")
        with pytest.raises(DatabaseUnavailable), store.reader() as session:
            count_events(session, CHAIN)

    def test_unwritable_sqlite_path_is_unavailable(self) -> None:
        with pytest.raises(DatabaseUnavailable) as caught:
            upgrade("sqlite:////proc/harvestd-nowhere/ledger.db")
        assert "/proc/harvestd-nowhere/ledger.db" in str(caught.value)

    def test_u256_text_encoding_orders_like_numbers(self) -> None:
        values = [-U256_MAX, -(10**40), -2, -1, 0, 1, 2, 10**40, U256_MAX]
        encoded = [encode_u256_text(v) for v in values]
        assert encoded == sorted(encoded)
        assert [decode_u256_text(e) for e in encoded] == values
