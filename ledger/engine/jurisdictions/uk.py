"""`uk`: HMRC share identification for cryptoassets (TCGA 1992 ss.104-106A; CRYPTO22200+).

Each asset is one pool across all of the owner's wallets. All acquisitions of an asset on
one UTC day are one acquisition, and all its disposals on one day are one disposal
(reported with their ids joined by `+`). A day's disposal is matched, in this order:

1. same day: with that day's acquisition, as far as possible (`same_day`);
2. thirty days: with acquisitions in the 30 days AFTER the disposal (bed and breakfast),
   earliest first; earlier disposals are matched first (`thirty_day`);
3. the Section 104 pool, at its average cost (`s104`).

Acquisitions left unmatched join the pool on their day. Fees are allowable costs: added
to an acquisition's cost, taken off a disposal's proceeds. Non-taxable sends and
conversions (wrap/unwrap) leave the pool at average cost; a conversion's cost joins the
other asset's pool directly (it is not an acquisition for the matching rules). There are
no terms (`term` is None). Values are exact: HMRC's worked examples round to whole pounds
at each step, this engine does not.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger.engine.jurisdictions.base import Replayed, StatutoryPoolRules
from ledger.engine.money import share
from ledger.engine.pools import Pools, check_wallets, cost_of, proceeds_of, split_proceeds
from ledger.engine.records import DisposalRecord, PieceRecord, RemovalRecord
from ledger.engine.values import (
    Action,
    Jurisdiction,
    LotEvent,
    MatchRule,
    Policy,
    TaxRates,
)

THIRTY_DAYS: Final = 30
POOL_LABEL: Final = "s104"
DEFAULT_RATES: Final = TaxRates(short=Decimal("0.24"), long=Decimal("0.24"))


class _Acquisitions:
    """One asset's acquisitions on one day, treated as a single acquisition."""

    __slots__ = ("cost", "ids", "in_pool", "qty")

    def __init__(self) -> None:
        self.qty = 0
        self.cost = 0
        self.ids: list[str] = []
        self.in_pool = False

    def take(self, qty: int) -> int:
        cost = share(self.cost, qty, self.qty)
        self.qty -= qty
        self.cost -= cost
        return cost


class _Disposals:
    """One asset's disposals on one day, treated as a single disposal."""

    __slots__ = ("asset", "day", "done", "ids", "left", "matches", "proceeds", "qty", "time")

    def __init__(self, asset: str, day: int, time: datetime) -> None:
        self.asset = asset
        self.day = day
        self.time = time
        self.qty = 0
        self.left = 0
        self.proceeds = 0
        self.ids: list[str] = []
        self.matches: list[tuple[MatchRule, str, int, int]] = []
        self.done = False


class UkRules(StatutoryPoolRules):
    """Same day, thirty days, Section 104 pool."""

    jurisdiction = Jurisdiction.UK
    pool_rule = MatchRule.S104
    default_rates = DEFAULT_RATES
    """The 24% higher CGT rate (from 30 October 2024), unless the policy gives rates."""

    def replay(self, events: Sequence[tuple[datetime, LotEvent]], policy: Policy) -> Replayed:
        """Match every day's disposals, then run the pool in time order.

        Raises:
            EngineError: an event the rules refuse.
        """
        self.method_for(policy)
        check_wallets(events)
        acquisitions: dict[tuple[str, int], _Acquisitions] = {}
        acquisition_days: dict[str, list[int]] = {}
        disposals: dict[tuple[str, int], _Disposals] = {}
        in_order: list[_Disposals] = []
        for moment, event in events:
            if event.action is Action.ACQUIRE:
                key = (event.asset, moment.toordinal())
                bucket = acquisitions.get(key)
                if bucket is None:
                    bucket = acquisitions[key] = _Acquisitions()
                    acquisition_days.setdefault(event.asset, []).append(key[1])
                bucket.qty += event.amount_raw
                bucket.cost += cost_of(event)
                bucket.ids.append(event.id)
            elif event.action is Action.DISPOSE:
                key = (event.asset, moment.toordinal())
                sold = disposals.get(key)
                if sold is None:
                    sold = disposals[key] = _Disposals(event.asset, key[1], moment)
                    in_order.append(sold)
                sold.qty += event.amount_raw
                sold.left += event.amount_raw
                sold.proceeds += proceeds_of(event)
                sold.ids.append(event.id)

        for sold in in_order:  # 1. same day
            bucket = acquisitions.get((sold.asset, sold.day))
            if bucket is not None and bucket.qty:
                qty = min(sold.left, bucket.qty)
                label = "+".join(bucket.ids)
                sold.matches.append((MatchRule.SAME_DAY, label, qty, bucket.take(qty)))
                sold.left -= qty
        for sold in in_order:  # 2. thirty days, earlier disposals first
            if not sold.left:
                continue
            days = acquisition_days.get(sold.asset, [])
            index = bisect_right(days, sold.day)
            while sold.left and index < len(days) and days[index] <= sold.day + THIRTY_DAYS:
                bucket = acquisitions[(sold.asset, days[index])]
                index += 1
                if not bucket.qty:
                    continue
                qty = min(sold.left, bucket.qty)
                label = "+".join(bucket.ids)
                sold.matches.append((MatchRule.THIRTY_DAY, label, qty, bucket.take(qty)))
                sold.left -= qty

        pools = Pools()  # 3. the pool, in time order
        removals: list[RemovalRecord] = []
        for moment, event in events:
            action = event.action
            if action is Action.ACQUIRE:
                bucket = acquisitions[(event.asset, moment.toordinal())]
                if not bucket.in_pool:
                    bucket.in_pool = True
                    if bucket.qty:
                        pools.get(event.asset).add(bucket.qty, bucket.cost, moment)
            elif action is Action.DISPOSE:
                sold = disposals[(event.asset, moment.toordinal())]
                if not sold.done:
                    sold.done = True
                    if sold.left:
                        cost = pools.get(event.asset).take(sold.left, event)
                        label = f"{POOL_LABEL}:{event.asset}"
                        sold.matches.append((MatchRule.S104, label, sold.left, cost))
            elif action is not Action.TRANSFER:
                pools.move(event, removals, POOL_LABEL)

        records: list[DisposalRecord] = []
        for sold in in_order:
            shares = split_proceeds(sold.proceeds, [qty for _, _, qty, _ in sold.matches])
            pieces = [
                PieceRecord(label, None, rule, qty, cost, proceeds, None, None, None)
                for (rule, label, qty, cost), proceeds in zip(sold.matches, shares, strict=True)
            ]
            records.append(
                DisposalRecord(
                    "+".join(sold.ids),
                    tuple(sold.ids),
                    sold.time,
                    sold.day,
                    sold.asset,
                    None,
                    sold.qty,
                    pieces,
                )
            )
        return Replayed(records, removals, pools.holdings(POOL_LABEL))
