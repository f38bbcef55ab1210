"""The engine's entry points: `replay` a list of events under a policy, and price a
hypothetical sale (`select_lots`, `estimate_sale`) for the strategy.

`replay` is a pure function: the same events (in any order) and policy give the same
result, and nothing is written anywhere. Replay order is (time, `seq`, acquisitions
before transfers/conversions before disposals/sends, id), so the order the events are
loaded in never matters.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final

from ledger.engine.errors import DuplicateEventId, InsufficientLots, InvalidEvent
from ledger.engine.jurisdictions import rules_for
from ledger.engine.money import exact_product, exact_sum, from_units, share, to_units
from ledger.engine.records import total_records
from ledger.engine.values import (
    Action,
    LedgerResult,
    Lot,
    LotEvent,
    LotMethod,
    MatchedPiece,
    MatchRule,
    Policy,
    SaleEstimate,
    TaxRates,
    Term,
)

_RANK: Final = {
    Action.ACQUIRE: 0,
    Action.TRANSFER: 1,
    Action.CONVERT: 1,
    Action.DISPOSE: 2,
    Action.WITHDRAW: 2,
}


def _checked(
    entry: tuple[datetime, int, int, str, LotEvent],
) -> tuple[datetime, int, int, str, LotEvent]:
    moment, seq, rank, event_id, event = entry
    if moment.tzinfo is None:
        raise InvalidEvent(event_id, "time must be timezone-aware (UTC)")
    if event.amount_raw <= 0:
        raise InvalidEvent(event_id, "amount must be positive")
    if not event_id:
        raise InvalidEvent(event_id, "the id must not be empty")
    return moment.astimezone(UTC), seq, rank, event_id, event


def order_events(events: Iterable[LotEvent]) -> list[tuple[datetime, LotEvent]]:
    """Check events and put them in replay order, each with its time in UTC.

    Raises:
        InvalidEvent: a naive time, a non-positive amount, an empty id.
        DuplicateEventId: two events share an id.
    """
    rank = _RANK
    keyed = [(event.time, event.seq, rank[event.action], event.id, event) for event in events]
    if not all(
        entry[0].tzinfo is UTC and entry[4].amount_raw > 0 and entry[3] for entry in keyed
    ):
        keyed = [_checked(entry) for entry in keyed]
    if len({entry[3] for entry in keyed}) != len(keyed):
        seen: set[str] = set()
        for entry in keyed:
            if entry[3] in seen:
                raise DuplicateEventId(entry[3])
            seen.add(entry[3])
    keyed.sort()  # ids are unique, so the events themselves are never compared
    return [(entry[0], entry[4]) for entry in keyed]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a replay runs.

    A replay makes millions of small objects and no reference cycles; left on, the
    collector rescans the growing heap again and again, which costs more than the replay
    itself (measured: about half the time on 1,000,000 events). Reference counting still
    frees everything; the collector is switched back on (if it was on) when the replay
    ends or raises.

    Switched back on, the collector's first young-generation pass would walk every object
    the replay made (they all still count as young): about a fifth of the replay's time
    again, to learn that they are alive. So, unless the caller keeps objects frozen with
    `gc.freeze` itself, they are handed straight to the oldest generation, where the
    survivors of two young passes would end up anyway: `gc.freeze()` then `gc.unfreeze()`
    moves the young generations there (two list splices, no walk). Nothing is exempted
    from collection; cycles among them are still found by the next full collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def replay(events: Iterable[LotEvent], policy: Policy) -> LedgerResult:
    """Replay events under the policy's jurisdiction and method.

    Raises:
        EngineError: an event the rules refuse (`InsufficientLots`, `SpecLotMissing`,
            `SpecLotExhausted`, `SpecAmountMismatch`, `InvalidEvent`, `DuplicateEventId`,
            `MethodNotAllowed`).
    """
    rules = rules_for(policy.jurisdiction)
    rules.method_for(policy)
    with _collector_paused():
        replayed = rules.replay(order_events(events), policy)
        if replayed.frozen is not None and replayed.totals is not None:
            disposals, totals = tuple(replayed.frozen), replayed.totals
        else:
            disposals = tuple([record.freeze() for record in replayed.disposals])
            totals = total_records(replayed.disposals)
        return LedgerResult(
            policy=policy,
            disposals=disposals,
            removals=tuple([record.freeze() for record in replayed.removals]),
            holdings=tuple(replayed.holdings),
            totals=totals,
        )


def _rate(rates: TaxRates, term: Term | None) -> Decimal:
    if term is Term.LONG:
        return rates.long
    if term is Term.EXEMPT:
        return rates.exempt
    return rates.short


def _term_of(lot: Lot, sold_at: datetime, policy: Policy) -> Term | None:
    terms = rules_for(policy.jurisdiction).terms_for(policy)
    if terms is None:
        return None
    start = terms.deadline(lot.holding_period_start.astimezone(UTC).toordinal())
    return terms.term(start, sold_at.astimezone(UTC).toordinal())


def select_lots(
    lots: Sequence[Lot],
    amount_raw: int,
    proceeds: Decimal,
    sold_at: datetime,
    policy: Policy,
) -> list[tuple[Lot, int]]:
    """The (lot, amount) pairs the policy's method would take to sell `amount_raw` of one
    asset from `lots` (one wallet's, or a pool) for `proceeds` at `sold_at`.

    spec has no order of its own and is treated as fifo; pooled jurisdictions take the pool.

    Raises:
        InsufficientLots: the lots hold less than `amount_raw`.
        MethodNotAllowed: the policy's method is not permitted by its jurisdiction.
    """
    method = rules_for(policy.jurisdiction).method_for(policy)
    rates = rules_for(policy.jurisdiction).rates_for(policy)
    unit_proceeds = Fraction(to_units(proceeds), amount_raw)

    def unit_cost(lot: Lot) -> Fraction:
        return Fraction(to_units(lot.cost), lot.amount_raw)

    ordered = sorted(lots, key=lambda lot: (lot.acquired_at, lot.id))
    if method is LotMethod.LIFO:
        ordered.reverse()
    elif method is LotMethod.HIFO:
        ordered.sort(key=unit_cost, reverse=True)
    elif method is LotMethod.MIN_TAX:
        ordered.sort(
            key=lambda lot: (
                (unit_proceeds - unit_cost(lot))
                * Fraction(_rate(rates, _term_of(lot, sold_at, policy)))
            )
        )
    held = sum(lot.amount_raw for lot in lots)
    if held < amount_raw:
        where = lots[0] if lots else None
        raise InsufficientLots(
            str(where.wallet) if where else "-",
            where.asset if where else "-",
            amount_raw,
            held,
            "estimate",
        )
    picks: list[tuple[Lot, int]] = []
    left = amount_raw
    for lot in ordered:
        if not left:
            break
        take = min(left, lot.amount_raw)
        picks.append((lot, take))
        left -= take
    return picks


def estimate_sale(
    picks: Sequence[tuple[Lot, int]], proceeds: Decimal, sold_at: datetime, policy: Policy
) -> SaleEstimate:
    """What selling `amount` of each lot for `proceeds` in total at `sold_at` would realise.

    Loss rules that depend on other trades (wash sale, 30-day, superficial loss) are not
    applied: the estimate is of this sale alone. `tax` uses the policy's rates.

    Raises:
        InvalidEvent: a pick of zero or of more than the lot holds.
    """
    rules = rules_for(policy.jurisdiction)
    method = rules.method_for(policy)
    rates = rules.rates_for(policy)
    rule = rules.pool_rule if method is None else MatchRule(method.value)
    assert rule is not None  # a rule set without a method pools
    total = sum(amount for _, amount in picks)
    left_proceeds, left_amount = to_units(proceeds), total
    pieces: list[MatchedPiece] = []
    by_term: dict[Term | None, int] = {}
    tax = Decimal(0)
    cost_sum = 0
    for lot, amount in picks:
        if amount <= 0 or amount > lot.amount_raw:
            raise InvalidEvent(lot.id, f"cannot sell {amount} of a lot holding {lot.amount_raw}")
        cost = share(to_units(lot.cost), amount, lot.amount_raw)
        piece_proceeds = share(left_proceeds, amount, left_amount)
        left_proceeds -= piece_proceeds
        left_amount -= amount
        term = _term_of(lot, sold_at, policy)
        gain = piece_proceeds - cost
        cost_sum += cost
        by_term[term] = by_term.get(term, 0) + gain
        tax = exact_sum((tax, exact_product(from_units(gain), _rate(rates, term))))
        pieces.append(
            MatchedPiece(
                lot=lot.id,
                origin=lot.origin,
                rule=rule,
                amount_raw=amount,
                cost=from_units(cost),
                proceeds=from_units(piece_proceeds),
                term=term,
                disallowed_loss=Decimal(0),
                acquired_at=lot.acquired_at,
                holding_period_start=lot.holding_period_start,
            )
        )
    proceeds_units = to_units(proceeds)
    return SaleEstimate(
        pieces=tuple(pieces),
        proceeds=from_units(proceeds_units),
        cost=from_units(cost_sum),
        gain=from_units(proceeds_units - cost_sum),
        short_term_gain=from_units(by_term.get(Term.SHORT, 0)),
        long_term_gain=from_units(by_term.get(Term.LONG, 0)),
        exempt_gain=from_units(by_term.get(Term.EXEMPT, 0)),
        tax=tax,
    )
