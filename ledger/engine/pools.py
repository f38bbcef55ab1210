"""Pooled holdings (uk, ca): one average-cost pool per asset across all the owner's wallets.

Wallets still matter for one thing: nobody can dispose of, send, convert or transfer
more than that wallet holds, so `check_wallets` replays quantities wallet by wallet
before any matching. Transfers between own wallets change nothing in a pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from ledger.engine.errors import InsufficientLots, InvalidEvent
from ledger.engine.money import from_units, share, to_units
from ledger.engine.records import RemovalRecord, freeze_holding
from ledger.engine.values import Action, Adjustment, Holding, Lot, LotEvent


class Pool:
    """One asset's pool: quantity, total allowable cost, and since when it is non-empty."""

    __slots__ = ("adjustments", "cost", "qty", "since")

    def __init__(self) -> None:
        self.qty = 0
        self.cost = 0
        self.since: datetime | None = None
        self.adjustments: list[Adjustment] = []

    def add(self, qty: int, cost: int, time: datetime) -> None:
        """Add units and their cost.

        Raises:
            Nothing.
        """
        if not self.qty and qty:
            self.since = time
        self.qty += qty
        self.cost += cost

    def take(self, qty: int, event: LotEvent) -> int:
        """Remove units at average cost; returns the cost removed.

        Raises:
            InsufficientLots: the pool holds less than `qty`.
        """
        if qty > self.qty:
            raise InsufficientLots(event.wallet, event.asset, qty, self.qty, event.id)
        cost = share(self.cost, qty, self.qty)
        self.qty -= qty
        self.cost -= cost
        if not self.qty:  # a new pool starts with the next acquisition
            self.adjustments = []
        return cost


class Pools:
    """Every asset's pool, in order of first use."""

    def __init__(self) -> None:
        self.by_asset: dict[str, Pool] = {}

    def get(self, asset: str) -> Pool:
        """The asset's pool (created empty on first use).

        Raises:
            Nothing.
        """
        pool = self.by_asset.get(asset)
        if pool is None:
            pool = self.by_asset[asset] = Pool()
        return pool

    def move(self, event: LotEvent, removals: list[RemovalRecord], label: str) -> None:
        """Apply a non-taxable send or a conversion at average cost.

        Raises:
            InsufficientLots: the pool holds less than the event moves.
        """
        cost = self.get(event.asset).take(event.amount_raw, event)
        if event.action is Action.WITHDRAW:
            removals.append(
                RemovalRecord(
                    event.id,
                    event.time,
                    event.asset,
                    event.wallet,
                    event.amount_raw,
                    [(f"{label}:{event.asset}", None, event.amount_raw, cost)],
                )
            )
        elif event.action is Action.CONVERT:
            assert event.to_asset is not None  # checked by check_wallets
            to_amount = event.amount_raw if event.to_amount_raw is None else event.to_amount_raw
            self.get(event.to_asset).add(to_amount, cost, event.time)

    def holdings(self, label: str) -> list[Holding]:
        """One holding per non-empty pool, with the pool as its only lot.

        Raises:
            Nothing.
        """
        out: list[Holding] = []
        for asset, pool in self.by_asset.items():
            if not pool.qty:
                continue
            assert pool.since is not None
            lot = Lot(
                id=f"{label}:{asset}",
                origin=f"{label}:{asset}",
                asset=asset,
                wallet=None,
                amount_raw=pool.qty,
                cost=from_units(pool.cost),
                acquired_at=pool.since,
                holding_period_start=pool.since,
                adjustments=tuple(pool.adjustments),
            )
            out.append(freeze_holding(asset, None, [lot]))
        return out


def check_wallets(events: Iterable[tuple[datetime, LotEvent]]) -> None:
    """Replay quantities wallet by wallet; refuse any event that takes more than is there.

    Raises:
        InsufficientLots: a disposal, send, conversion or transfer of more than held.
        InvalidEvent: a missing value, to_wallet or to_asset; named lots.
    """
    held: dict[tuple[str, str], int] = {}
    for _, event in events:
        key = (event.wallet, event.asset)
        action = event.action
        if event.lots:
            raise InvalidEvent(
                event.id, "lots cannot be named here: each asset is one pool matched by statute"
            )
        if action is Action.ACQUIRE:
            if event.value is None:
                raise InvalidEvent(event.id, "an acquisition needs a value")
            if to_units(event.value) + to_units(event.fee) < 0:
                raise InvalidEvent(event.id, "an acquisition cannot cost less than zero")
            held[key] = held.get(key, 0) + event.amount_raw
            continue
        if action is Action.DISPOSE and event.value is None:
            raise InvalidEvent(event.id, "a disposal needs a value")
        if action is Action.TRANSFER and (
            event.to_wallet is None or event.to_wallet == event.wallet
        ):
            raise InvalidEvent(event.id, "a transfer needs a to_wallet other than its wallet")
        if action is Action.CONVERT:
            if event.to_asset is None or event.to_asset == event.asset:
                raise InvalidEvent(event.id, "a conversion needs a to_asset other than its asset")
            if event.to_amount_raw is not None and event.to_amount_raw <= 0:
                raise InvalidEvent(event.id, "to_amount must be positive")
        have = held.get(key, 0)
        if have < event.amount_raw:
            raise InsufficientLots(event.wallet, event.asset, event.amount_raw, have, event.id)
        held[key] = have - event.amount_raw
        if action is Action.TRANSFER:
            assert event.to_wallet is not None
            to_key = (event.to_wallet, event.asset)
            held[to_key] = held.get(to_key, 0) + event.amount_raw
        elif action is Action.CONVERT:
            assert event.to_asset is not None
            to_key = (event.wallet, event.to_asset)
            to_amount = event.amount_raw if event.to_amount_raw is None else event.to_amount_raw
            held[to_key] = held.get(to_key, 0) + to_amount


def proceeds_of(event: LotEvent) -> int:
    """A disposal's proceeds in value units: value less fee.

    Raises:
        AssertionError: no value (check_wallets refuses that first).
    """
    assert event.value is not None  # checked by check_wallets
    return to_units(event.value) - to_units(event.fee)


def cost_of(event: LotEvent) -> int:
    """An acquisition's cost in value units: value plus fee.

    Raises:
        AssertionError: no value (check_wallets refuses that first).
    """
    assert event.value is not None  # checked by check_wallets
    return to_units(event.value) + to_units(event.fee)


def split_proceeds(proceeds: int, amounts: Sequence[int]) -> list[int]:
    """Share `proceeds` among pieces in proportion to their amounts, exactly.

    Raises:
        Nothing.
    """
    left_amount = sum(amounts)
    out: list[int] = []
    for amount in amounts:
        part = share(proceeds, amount, left_amount)
        out.append(part)
        proceeds -= part
        left_amount -= amount
    return out
