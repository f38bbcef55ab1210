"""Booking ledger events as lot-engine events: swap legs, gas, wraps, own transfers and
labelled receipts/sends, replayed through the real engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledger.booking import UnpairedTransfer, book_events, ledger_delta, replay_seq
from ledger.engine import Action, Jurisdiction, LotMethod, Policy, replay
from ledger.events import NATIVE_ASSET, ChainRef, EventKind, Label, LedgerEvent
from ledger.ids import Address, BlockHash, BlockNumber, ChainId, LogIndex, TxHash

MAIN = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
COLD = Address("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
USDC = Address("0xa513E6E4b8f2a923D98304ec87F64353C4D5C853")
WETH = Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
POLICY = Policy(Jurisdiction.US, LotMethod.FIFO)
ETH = 10**18


def ev(
    block: int,
    kind: EventKind,
    asset: Address,
    amount_raw: int,
    value: str | None,
    *,
    wallet: Address = MAIN,
    log_index: int = 0,
    leg: int = 0,
    fee: str = "0",
    label: Label = Label.UNREVIEWED,
    counterparty: Address | None = None,
    group: str | None = None,
) -> LedgerEvent:
    return LedgerEvent(
        ref=ChainRef(
            ChainId(31337),
            BlockNumber(block),
            BlockHash(f"0x{block:064x}"),
            TxHash(f"0x{block:064x}"),
            LogIndex(log_index),
        ),
        leg=leg,
        timestamp=datetime(2025, 1, 1, tzinfo=UTC).replace(
            day=1 + block % 28, month=1 + block // 28
        ),
        kind=kind,
        wallet=wallet,
        asset=asset,
        amount_raw=amount_raw,
        value_usd=None if value is None else Decimal(value),
        fee_usd=Decimal(fee),
        label=label,
        counterparty=counterparty,
        group=group,
    )


def received_eth() -> list[LedgerEvent]:
    return [ev(1, EventKind.RECEIVE, NATIVE_ASSET, 10 * ETH, "30000", log_index=-1)]


def test_swap_with_gas_books_fee_on_the_disposal_and_gas_as_eth_disposal() -> None:
    events = [
        *received_eth(),
        ev(2, EventKind.GAS, NATIVE_ASSET, ETH // 100, "30", log_index=-1),
        ev(2, EventKind.SWAP_OUT, NATIVE_ASSET, ETH, "3100", log_index=-1, leg=1, fee="30"),
        ev(2, EventKind.SWAP_IN, USDC, 3100 * 10**6, "3100", log_index=3),
    ]
    booking = book_events(events)
    assert [e.action for e in booking.events] == [
        Action.ACQUIRE,
        Action.DISPOSE,
        Action.DISPOSE,
        Action.ACQUIRE,
    ]
    result = replay(booking.events, POLICY)
    proceeds = sorted(d.proceeds for d in result.disposals)
    assert proceeds == [Decimal(30), Decimal(3070)]
    held = {(h.asset, h.wallet): (h.amount_raw, h.cost) for h in result.holdings}
    assert held[(USDC, MAIN)] == (3100 * 10**6, Decimal(3100))
    assert held[(NATIVE_ASSET, MAIN)][0] == 10 * ETH - ETH - ETH // 100


def test_wrap_and_unwrap_keep_basis_and_dates() -> None:
    events = [
        *received_eth(),
        ev(3, EventKind.WRAP, WETH, 4 * ETH, None, log_index=1),
        ev(4, EventKind.UNWRAP, WETH, ETH, None, log_index=1),
    ]
    result = replay(book_events(events).events, POLICY)
    assert result.disposals == ()
    held = {h.asset: h for h in result.holdings}
    assert held[WETH].amount_raw == 3 * ETH and held[WETH].cost == Decimal(9000)
    assert held[NATIVE_ASSET].amount_raw == 7 * ETH and held[NATIVE_ASSET].cost == Decimal(21000)
    assert {lot.acquired_at for h in result.holdings for lot in h.lots} == {events[0].timestamp}


def test_own_transfer_moves_lots_without_realising() -> None:
    events = [
        *received_eth(),
        ev(5, EventKind.TRANSFER_OUT, NATIVE_ASSET, 2 * ETH, None, log_index=-1, group="g"),
        ev(
            5,
            EventKind.TRANSFER_IN,
            NATIVE_ASSET,
            2 * ETH,
            None,
            wallet=COLD,
            log_index=-1,
            leg=1,
            group="g",
        ),
    ]
    result = replay(book_events(events).events, POLICY)
    assert result.disposals == ()
    cold = next(h for h in result.holdings if h.wallet == COLD)
    assert (cold.amount_raw, cold.cost) == (2 * ETH, Decimal(6000))


def test_unpaired_transfer_is_refused() -> None:
    events = [ev(5, EventKind.TRANSFER_OUT, NATIVE_ASSET, ETH, None, group="alone")]
    with pytest.raises(UnpairedTransfer):
        book_events(events)


@pytest.mark.parametrize(
    ("label", "taxable"),
    [
        (Label.UNREVIEWED, False),
        (Label.OWN_ACCOUNT, False),
        (Label.GIFT, False),
        (Label.SPEND, True),
        (Label.SALE, True),
    ],
)
def test_sends_by_label(label: Label, taxable: bool) -> None:
    events = [
        *received_eth(),
        ev(6, EventKind.SEND, NATIVE_ASSET, ETH, "3500", log_index=-1, label=label),
    ]
    result = replay(book_events(events).events, POLICY)
    if taxable:
        assert [(d.proceeds, d.cost) for d in result.disposals] == [(Decimal(3500), Decimal(3000))]
        assert result.removals == ()
    else:
        assert result.disposals == ()
        assert [(r.amount_raw, r.cost) for r in result.removals] == [(ETH, Decimal(3000))]


def test_missing_price_books_zero_and_is_reported() -> None:
    events = [ev(1, EventKind.RECEIVE, USDC, 10**6, None, log_index=2)]
    booking = book_events(events)
    assert booking.events[0].value == Decimal(0)
    assert len(booking.unpriced) == 1


def test_seq_follows_block_log_and_leg() -> None:
    a = ev(7, EventKind.GAS, NATIVE_ASSET, 1, "0", log_index=-1)
    b = replace(a, leg=1)
    c = ev(7, EventKind.SWAP_IN, USDC, 1, "0", log_index=0)
    d = ev(8, EventKind.GAS, NATIVE_ASSET, 1, "0", log_index=-1)
    assert replay_seq(a) < replay_seq(b) < replay_seq(c) < replay_seq(d)


def test_ledger_delta_of_a_wrap_moves_native_into_weth() -> None:
    wrap = ev(3, EventKind.WRAP, WETH, 5, None)
    assert ledger_delta(wrap) == ((NATIVE_ASSET, -5), (WETH, 5))
    assert ledger_delta(ev(3, EventKind.GAS, NATIVE_ASSET, 2, "0")) == ((NATIVE_ASSET, -2),)
