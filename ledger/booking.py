"""Booking: the indexer's `LedgerEvent`s as the lot engine's `LotEvent`s (pure, no I/O).

DESIGN.md's rules, one ledger event at a time:

    SWAP_OUT                      DISPOSE  value = value_usd, fee = fee_usd (the swap's gas)
    SWAP_IN                       ACQUIRE  cost = value_usd + fee_usd
    GAS                           DISPOSE  of the native coin at its market value
    WRAP   (asset = WETH)         CONVERT  native coin -> WETH, same wallet, basis kept
    UNWRAP (asset = WETH)         CONVERT  WETH -> native coin, same wallet, basis kept
    TRANSFER_OUT                  TRANSFER to the other own wallet (lots keep cost and dates);
    TRANSFER_IN                   (nothing: its TRANSFER_OUT moved the lots)
    RECEIVE unreviewed / income /
            gift / purchase /
            own_account           ACQUIRE at market value
    SEND    unreviewed / gift /
            own_account / purchase WITHDRAW (lots leave, nothing realised)
    SEND    spend / sale          DISPOSE at market value (taxable)

Ids are `ledger.store.event_id(event)` (`chain:tx:log:leg:wallet`), so the engine's
output maps back to chain positions with `ledger.store.sources_for`. Asset keys are the
token addresses (the native coin is `NATIVE_ASSET`); one replay covers one chain, so an
address names one asset. Amounts stay raw integers of the token's smallest unit; the
engine never needs decimals. Replay order inside one block time follows the chain:
`seq` is built from block number, log index and leg (transaction-level events, log
index -1, sort before the block's logs; the store keeps no transaction index).

A value the indexer could not price (`value_usd` None, `price_missing`) is booked at
zero (an acquisition then has no basis, a disposal no proceeds) and its id is returned
in `Booking.unpriced` so the caller flags it; re-pricing the event and booking again
fixes the derived lots. Nothing is guessed.

Errors:

    LedgerError (ledger.errors)
    └── BookingError              a ledger event that cannot become an engine event
        └── UnpairedTransfer      a TRANSFER_OUT whose receiving own wallet is unknown
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from ledger.engine import Action, LotEvent
from ledger.errors import LedgerError
from ledger.events import NATIVE_ASSET, EventKind, Label, LedgerEvent
from ledger.store.engine_output import event_id

_BLOCK_SHIFT: Final = 40
_LOG_SHIFT: Final = 16

_TAXABLE_SEND: Final = frozenset({Label.SPEND, Label.SALE})


class BookingError(LedgerError):
    """A ledger event cannot be turned into a lot-engine event."""


class UnpairedTransfer(BookingError):
    """A transfer between own wallets whose receiving side is unknown."""

    def __init__(self, event_id: str, group: str | None) -> None:
        self.event_id = event_id
        self.group = group
        super().__init__(
            f"event {event_id}: transfer_out without a counterparty or a transfer_in "
            f"in its group {group!r}"
        )


@dataclass(frozen=True, slots=True)
class Booking:
    """The engine events of a list of ledger events, and the ids booked without a price."""

    events: tuple[LotEvent, ...]
    unpriced: tuple[str, ...]


def replay_seq(event: LedgerEvent) -> int:
    """The engine's tiebreak inside one instant: block number, then log index, then leg.

    Raises:
        Nothing.
    """
    ref = event.ref
    return (
        (int(ref.block_number) << _BLOCK_SHIFT)
        + ((int(ref.log_index) + 1) << _LOG_SHIFT)
        + event.leg
    )


def asset_key(asset: str) -> str:
    """The engine's asset key for a chain asset address (the address itself).

    Raises:
        Nothing.
    """
    return asset


def ledger_delta(event: LedgerEvent) -> tuple[tuple[str, int], ...]:
    """The signed raw-amount changes an event makes to its wallet, per asset address.

    A wrap moves `amount_raw` from the native coin to WETH (`event.asset`), an unwrap
    back; every other kind changes `event.asset` alone.

    Raises:
        Nothing.
    """
    amount = event.amount_raw
    kind = event.kind
    if kind is EventKind.WRAP:
        return ((NATIVE_ASSET, -amount), (event.asset, amount))
    if kind is EventKind.UNWRAP:
        return ((event.asset, -amount), (NATIVE_ASSET, amount))
    if kind in (EventKind.SWAP_IN, EventKind.RECEIVE, EventKind.TRANSFER_IN):
        return ((event.asset, amount),)
    return ((event.asset, -amount),)


def _value(event: LedgerEvent, unpriced: list[str], key: str) -> Decimal:
    if event.value_usd is None:
        unpriced.append(key)
        return Decimal(0)
    return event.value_usd


def book_events(events: Iterable[LedgerEvent]) -> Booking:
    """Convert one chain's ledger events into engine events, by DESIGN.md's rules.

    Raises:
        UnpairedTransfer: a TRANSFER_OUT names no counterparty and has no TRANSFER_IN in
            its group.
    """
    ledger_events = list(events)
    receivers: dict[str, str] = {
        e.group: e.wallet
        for e in ledger_events
        if e.kind is EventKind.TRANSFER_IN and e.group is not None
    }
    out: list[LotEvent] = []
    unpriced: list[str] = []
    for event in ledger_events:
        kind = event.kind
        if event.amount_raw <= 0 or kind is EventKind.TRANSFER_IN:
            continue
        key = event_id(event)

        def lot_event(
            action: Action,
            asset: str,
            *,
            priced: bool = False,
            to_wallet: str | None = None,
            to_asset: str | None = None,
            event: LedgerEvent = event,
            key: str = key,
        ) -> LotEvent:
            return LotEvent(
                id=key,
                time=event.timestamp,
                action=action,
                asset=asset_key(asset),
                amount_raw=event.amount_raw,
                wallet=event.wallet,
                value=_value(event, unpriced, key) if priced else None,
                fee=event.fee_usd if priced else Decimal(0),
                to_wallet=to_wallet,
                to_asset=None if to_asset is None else asset_key(to_asset),
                seq=replay_seq(event),
            )

        if kind in (EventKind.SWAP_OUT, EventKind.GAS):
            out.append(lot_event(Action.DISPOSE, event.asset, priced=True))
        elif kind in (EventKind.SWAP_IN, EventKind.RECEIVE):
            out.append(lot_event(Action.ACQUIRE, event.asset, priced=True))
        elif kind is EventKind.SEND:
            if event.label in _TAXABLE_SEND:
                out.append(lot_event(Action.DISPOSE, event.asset, priced=True))
            else:
                out.append(lot_event(Action.WITHDRAW, event.asset))
        elif kind is EventKind.TRANSFER_OUT:
            target = event.counterparty or (
                receivers.get(event.group) if event.group is not None else None
            )
            if target is None:
                raise UnpairedTransfer(key, event.group)
            out.append(lot_event(Action.TRANSFER, event.asset, to_wallet=target))
        elif kind is EventKind.WRAP:
            out.append(lot_event(Action.CONVERT, NATIVE_ASSET, to_asset=event.asset))
        elif kind is EventKind.UNWRAP:
            out.append(lot_event(Action.CONVERT, event.asset, to_asset=NATIVE_ASSET))
    return Booking(tuple(out), tuple(unpriced))
