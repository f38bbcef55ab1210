"""`ca`: Canada: adjusted cost base per asset (ITA s.47) and the superficial-loss rule.

Each asset is one pool across all of the owner's wallets; a disposal takes the pool's
average cost (its adjusted cost base, ACB). Fees are outlays: added to the ACB of an
acquisition, taken off a disposal's proceeds. There are no terms (`term` is None).

Superficial loss (ITA s.54, para. 40(2)(g)(i); CRA "Superficial loss"): a loss on a
disposal is denied when the owner acquires the same property in the period from 30 days
before to 30 days after the disposal (by UTC date) and still holds some at the end of
that period. The denied part is pro rata, as the CRA computes it:

    denied = loss * min(sold, acquired in the period, held at the end of the period) / sold

and it is added to the ACB of the pool (the substituted property); if the disposal
emptied the pool it is added when the pool is next acquired into. Acquisitions here are
purchases and receipts (conversions and transfers are not); "held" counts every wallet.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger.engine.jurisdictions.base import Replayed, StatutoryPoolRules
from ledger.engine.money import from_units, share
from ledger.engine.pools import Pools, check_wallets, cost_of, proceeds_of
from ledger.engine.records import DisposalRecord, PieceRecord, RemovalRecord
from ledger.engine.values import (
    Action,
    Adjustment,
    AdjustmentKind,
    Jurisdiction,
    LotEvent,
    MatchRule,
    Policy,
    TaxRates,
)

SUPERFICIAL_WINDOW_DAYS: Final = 30
POOL_LABEL: Final = "acb"
# Half of a gain is taxable; 0.5 x 53.53% (top combined Ontario rate).
DEFAULT_RATES: Final = TaxRates(short=Decimal("0.26765"), long=Decimal("0.26765"))


class _Timeline:
    """One asset's acquisitions by day and pooled holdings after each event, for look-ahead."""

    __slots__ = ("acquired", "acquired_days", "held", "held_days")

    def __init__(self) -> None:
        self.acquired_days: list[int] = []
        self.acquired: list[int] = [0]  # running totals; acquired[i+1] covers days[0..i]
        self.held_days: list[int] = []
        self.held: list[int] = []

    def acquired_between(self, first_day: int, last_day: int) -> int:
        low = bisect_right(self.acquired_days, first_day - 1)
        high = bisect_right(self.acquired_days, last_day)
        return self.acquired[high] - self.acquired[low]

    def held_at_end_of(self, day: int) -> int:
        index = bisect_right(self.held_days, day)
        return self.held[index - 1] if index else 0


def _timelines(events: Sequence[tuple[datetime, LotEvent]]) -> dict[str, _Timeline]:
    lines: dict[str, _Timeline] = {}
    held: dict[str, int] = {}

    def record(asset: str, day: int, delta: int) -> None:
        line = lines.get(asset)
        if line is None:
            line = lines[asset] = _Timeline()
        held[asset] = held.get(asset, 0) + delta
        line.held_days.append(day)
        line.held.append(held[asset])

    for moment, event in events:
        day = moment.toordinal()
        action = event.action
        if action is Action.ACQUIRE:
            record(event.asset, day, event.amount_raw)
            line = lines[event.asset]
            line.acquired_days.append(day)
            line.acquired.append(line.acquired[-1] + event.amount_raw)
        elif action in (Action.DISPOSE, Action.WITHDRAW):
            record(event.asset, day, -event.amount_raw)
        elif action is Action.CONVERT:
            assert event.to_asset is not None
            record(event.asset, day, -event.amount_raw)
            to_amount = event.amount_raw if event.to_amount_raw is None else event.to_amount_raw
            record(event.to_asset, day, to_amount)
    return lines


class CaRules(StatutoryPoolRules):
    """Adjusted cost base with the superficial-loss rule."""

    jurisdiction = Jurisdiction.CA
    pool_rule = MatchRule.ACB
    default_rates = DEFAULT_RATES
    """Half the top combined (Ontario) marginal rate, unless the policy gives rates."""

    def replay(self, events: Sequence[tuple[datetime, LotEvent]], policy: Policy) -> Replayed:
        """Run the ACB pools in time order, denying superficial losses.

        Raises:
            EngineError: an event the rules refuse.
        """
        self.method_for(policy)
        check_wallets(events)
        lines = _timelines(events)
        pools = Pools()
        pending: dict[str, int] = {}
        records: list[DisposalRecord] = []
        removals: list[RemovalRecord] = []
        for moment, event in events:
            action = event.action
            asset = event.asset
            if action is Action.ACQUIRE:
                pools.get(asset).add(
                    event.amount_raw, cost_of(event) + pending.pop(asset, 0), moment
                )
            elif action is Action.DISPOSE:
                day = moment.toordinal()
                pool = pools.get(asset)
                sold = event.amount_raw
                cost = pool.take(sold, event)
                proceeds = proceeds_of(event)
                piece = PieceRecord(
                    f"{POOL_LABEL}:{asset}",
                    None,
                    MatchRule.ACB,
                    sold,
                    cost,
                    proceeds,
                    None,
                    None,
                    None,
                )
                loss = cost - proceeds
                if loss > 0:
                    line = lines[asset]
                    replaced = min(
                        sold,
                        line.acquired_between(
                            day - SUPERFICIAL_WINDOW_DAYS, day + SUPERFICIAL_WINDOW_DAYS
                        ),
                        line.held_at_end_of(day + SUPERFICIAL_WINDOW_DAYS),
                    )
                    if replaced > 0:
                        denied = share(loss, replaced, sold)
                        piece.disallowed = denied
                        pool.adjustments.append(
                            Adjustment(
                                AdjustmentKind.SUPERFICIAL_LOSS, event.id, from_units(denied), 0
                            )
                        )
                        if pool.qty:
                            pool.cost += denied
                        else:
                            pending[asset] = pending.get(asset, 0) + denied
                records.append(
                    DisposalRecord(event.id, (event.id,), moment, day, asset, None, sold, [piece])
                )
            elif action is not Action.TRANSFER:
                pools.move(event, removals, POOL_LABEL)
        return Replayed(records, removals, pools.holdings(POOL_LABEL))
