"""Lots kept wallet by wallet (us, de, generic): the book, lot selection, and the replay loop.

Each (wallet, asset) has a heap of open lots ordered the way the method takes them:

- fifo: earliest acquisition first; lifo: latest first;
- hifo: highest unit cost first, the unit cost being the lot's when it was opened
  (exact: compared as `cost * 2**512 // amount`, which keeps the order of any two
  distinct ratios of integers below 2**256); ties go to the earlier acquisition;
- spec: the named acquisitions, each in fifo order among its fragments;
- min_tax: losses first, then the gains costing least tax: lots sorted by
  `(unit proceeds - unit cost) * rate(term)` ascending, ties fifo.

Transfers, conversions and non-taxable sends take lots in the method's order (fifo for
spec without named lots, and for min_tax, which needs a price). A disposal draws only
on its own wallet. Jurisdiction-specific loss rules hook in through `LossRule`.

Two loops replay a book. With a loss rule (the wash sale) a booked disposal may still
change (a later purchase can disallow part of its loss), so the book keeps working
records and freezes them at the end. Without one, and with fifo, lifo or hifo, nothing
reaches back: `_replay_ordered` books acquisitions, disposals, transfers and sends in one
loop over plain integers and freezes each disposal as it is booked (the bulk of replays,
and the one the throughput benchmark measures). Both loops share the heaps, the keys and
the order of pushes, and give identical results.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from heapq import heapify, heappop, heappush
from typing import Protocol

from ledger.engine.errors import (
    InsufficientLots,
    InvalidEvent,
    SpecAmountMismatch,
    SpecLotExhausted,
    SpecLotMissing,
)
from ledger.engine.money import UNITS_CONTEXT, VALUE_PLACES, from_units, share, to_units
from ledger.engine.records import (
    DisposalRecord,
    OpenLot,
    PieceRecord,
    RemovalRecord,
    Replayed,
    build_disposal,
    build_piece,
    freeze_holding,
    to_ts,
    totals_of,
)
from ledger.engine.terms import TermScheme
from ledger.engine.values import (
    Action,
    Disposal,
    Holding,
    LotEvent,
    LotMethod,
    MatchedPiece,
    MatchRule,
    TaxRates,
    Term,
)

_HIFO_SHIFT = 512

# (lot, amount taken, cost taken, rule, whole lot taken?)
Take = tuple[OpenLot, int, int, MatchRule, bool]


class LossRule(Protocol):
    """A jurisdiction's loss-disallowance rule over a per-wallet book (e.g. the wash sale)."""

    def after_disposal(self, book: LotBook, record: DisposalRecord, taken: Sequence[Take]) -> None:
        """React to a booked disposal (the pieces may receive `disallowed`).

        Raises:
            Nothing.
        """

    def on_acquisition(self, book: LotBook, lot: OpenLot, day: int) -> list[OpenLot]:
        """React to a new lot before it is booked; returns the lots to book in its place.

        Raises:
            Nothing.
        """


class LotBook:
    """Every open lot, by (wallet, asset), plus what has been realised so far."""

    def __init__(
        self,
        method: LotMethod,
        terms: TermScheme,
        rates: TaxRates,
        loss_rule: LossRule | None = None,
    ) -> None:
        self.method = method
        self.terms = terms
        self.rates = rates
        self.loss_rule = loss_rule
        self.heaps: dict[tuple[str, str], list[tuple[object, object, int, OpenLot]]] = {}
        self.held: dict[tuple[str, str], int] = {}
        self.wallets_of: dict[str, list[str]] = {}
        self.disposals: list[DisposalRecord] = []
        self.removals: list[RemovalRecord] = []
        self.seq = 0
        move_method = (
            method if method in (LotMethod.FIFO, LotMethod.LIFO, LotMethod.HIFO) else LotMethod.FIFO
        )
        self._move_rule = MatchRule(move_method.value)
        self.is_ordered = method in (LotMethod.FIFO, LotMethod.LIFO, LotMethod.HIFO)
        self.rule = MatchRule(method.value)

    # -- booking ---------------------------------------------------------------------

    def push(self, lot: OpenLot) -> None:
        """Book an open lot into its wallet's heap.

        Raises:
            Nothing.
        """
        key = (lot.wallet, lot.asset)
        heap = self.heaps.get(key)
        if heap is None:
            heap = self.heaps[key] = []
            self.held.setdefault(key, 0)
            self.wallets_of.setdefault(lot.asset, []).append(lot.wallet)
        self.seq += 1
        method = self.method
        if method is LotMethod.HIFO:
            heappush(
                heap, (-((lot.cost << _HIFO_SHIFT) // lot.amount), lot.acquired, self.seq, lot)
            )
        elif method is LotMethod.LIFO:
            heappush(heap, (-to_ts(lot.acquired), 0, -self.seq, lot))
        else:
            heappush(heap, (lot.acquired, 0, self.seq, lot))

    def open_lots(self, asset: str) -> list[OpenLot]:
        """Every live lot of `asset` in every wallet (unordered).

        Raises:
            Nothing.
        """
        out: list[OpenLot] = []
        for wallet in self.wallets_of.get(asset, ()):
            out.extend(entry[3] for entry in self.heaps[(wallet, asset)] if entry[3].amount)
        return out

    def _check_held(self, event: LotEvent, wallet: str, asset: str, amount: int) -> None:
        key = (wallet, asset)
        held = self.held.get(key, 0)
        if held < amount:
            raise InsufficientLots(wallet, asset, amount, held, event.id)
        self.held[key] = held - amount

    # -- taking lots -----------------------------------------------------------------

    def _take_ordered(self, key: tuple[str, str], amount: int, rule: MatchRule) -> list[Take]:
        heap = self.heaps[key]
        out: list[Take] = []
        while amount:
            lot = heap[0][3]
            available = lot.amount
            if not available:  # superseded by a wash-sale fragment
                heappop(heap)
                continue
            if available <= amount:
                heappop(heap)
                out.append((lot, available, lot.cost, rule, True))
                amount -= available
            else:
                part = share(lot.cost, amount, available)
                lot.cost -= part
                lot.amount = available - amount
                out.append((lot, amount, part, rule, False))
                amount = 0
        return out

    def _take_picks(
        self, key: tuple[str, str], picks: Sequence[tuple[OpenLot, int]], rule: MatchRule
    ) -> list[Take]:
        out: list[Take] = []
        gone: set[int] = set()
        for lot, amount in picks:
            if amount == lot.amount:
                out.append((lot, amount, lot.cost, rule, True))
                gone.add(id(lot))
            else:
                part = share(lot.cost, amount, lot.amount)
                lot.cost -= part
                lot.amount -= amount
                out.append((lot, amount, part, rule, False))
        if gone:
            heap = [entry for entry in self.heaps[key] if id(entry[3]) not in gone]
            heapify(heap)
            self.heaps[key] = heap
        return out

    def _take_spec(self, event: LotEvent, key: tuple[str, str]) -> list[Take]:
        named = sum(spec.amount_raw for spec in event.lots)
        if named != event.amount_raw:
            raise SpecAmountMismatch(event.id, named, event.amount_raw)
        live = sorted(
            (entry for entry in self.heaps.get(key, ()) if entry[3].amount),
            key=lambda entry: (entry[3].acquired, entry[3].id),
        )
        used: dict[int, int] = {}
        for spec in event.lots:
            if spec.amount_raw <= 0:
                raise InvalidEvent(event.id, f"lot {spec.lot!r}: amount must be positive")
            fragments = [entry[3] for entry in live if entry[3].origin == spec.lot]
            if not fragments:
                raise SpecLotMissing(event.id, spec.lot, key[0], key[1])
            left = sum(lot.amount - used.get(id(lot), 0) for lot in fragments)
            if left < spec.amount_raw:
                raise SpecLotExhausted(event.id, spec.lot, spec.amount_raw, left)
            wanted = spec.amount_raw
            for lot in fragments:
                free = lot.amount - used.get(id(lot), 0)
                if free <= 0:
                    continue
                take = min(free, wanted)
                used[id(lot)] = used.get(id(lot), 0) + take
                wanted -= take
                if not wanted:
                    break
        picks = [(entry[3], used[id(entry[3])]) for entry in live if id(entry[3]) in used]
        return self._take_picks(key, picks, MatchRule.SPEC)

    def _take_min_tax(
        self, key: tuple[str, str], amount: int, proceeds: int, sale_day: int
    ) -> list[Take]:
        terms, rates = self.terms, self.rates
        unit_proceeds = Fraction(proceeds, amount)

        def tax_per_unit(lot: OpenLot) -> tuple[Fraction, datetime, str]:
            term = terms.term(lot.deadline, sale_day)
            if term is Term.SHORT:
                rate = rates.short
            elif term is Term.LONG:
                rate = rates.long
            else:
                rate = rates.exempt
            gain = unit_proceeds - Fraction(lot.cost, lot.amount)
            return gain * Fraction(rate), lot.acquired, lot.id

        live = sorted((entry[3] for entry in self.heaps[key] if entry[3].amount), key=tax_per_unit)
        picks: list[tuple[OpenLot, int]] = []
        for lot in live:
            take = min(lot.amount, amount)
            picks.append((lot, take))
            amount -= take
            if not amount:
                break
        return self._take_picks(key, picks, MatchRule.MIN_TAX)

    def take(
        self, event: LotEvent, amount: int, for_sale: bool, proceeds: int = 0, day: int = 0
    ) -> list[Take]:
        """Take `amount` of the event's asset from its wallet, in the method's order.

        Raises:
            InsufficientLots: the wallet holds less than `amount`.
            SpecLotMissing, SpecLotExhausted, SpecAmountMismatch: bad named lots.
        """
        key = (event.wallet, event.asset)
        self._check_held(event, event.wallet, event.asset, amount)
        if event.lots:
            return self._take_spec(event, key)
        if for_sale:
            if self.method is LotMethod.MIN_TAX:
                return self._take_min_tax(key, amount, proceeds, day)
            if self.method is LotMethod.SPEC:
                return self._take_ordered(key, amount, MatchRule.FIFO)
            return self._take_ordered(key, amount, self.rule)
        return self._take_ordered(key, amount, self._move_rule)

    # -- the event kinds -------------------------------------------------------------

    def acquire(self, event: LotEvent, moment: datetime) -> None:
        """Open a lot costing value + fee (`moment` is the event's time in UTC).

        Raises:
            InvalidEvent: no value, or a negative cost.
        """
        value, fee = event.value, event.fee
        if value is None:
            raise InvalidEvent(event.id, "an acquisition needs a value")
        cost = to_units(value) + to_units(fee) if fee else to_units(value)
        if cost < 0:
            raise InvalidEvent(event.id, "an acquisition cannot cost less than zero")
        day = moment.toordinal()
        lot = OpenLot(
            event.id,
            event.id,
            event.asset,
            event.wallet,
            event.amount_raw,
            cost,
            moment,
            moment,
            self.terms.deadline(day),
        )
        if self.loss_rule is not None:
            for fragment in self.loss_rule.on_acquisition(self, lot, day):
                self.push(fragment)
        else:
            self.push(lot)
        self.held[(event.wallet, event.asset)] += event.amount_raw

    def _pieces(
        self, taken: Sequence[Take], amount: int, proceeds: int, day: int
    ) -> list[PieceRecord]:
        before, after = self.terms.before, self.terms.after
        pieces: list[PieceRecord] = []
        left_proceeds, left_amount = proceeds, amount
        for lot, taken_amount, cost, rule, _ in taken:
            piece_proceeds = share(left_proceeds, taken_amount, left_amount)
            left_proceeds -= piece_proceeds
            left_amount -= taken_amount
            pieces.append(
                PieceRecord(
                    lot.id,
                    lot.origin,
                    rule,
                    taken_amount,
                    cost,
                    piece_proceeds,
                    after if day > lot.deadline else before,
                    lot.acquired,
                    lot.hp_start,
                )
            )
        return pieces

    def _dispose_ordered(
        self, event: LotEvent, amount: int, proceeds: int, day: int, taken: list[Take] | None
    ) -> list[PieceRecord]:
        """fifo/lifo/hifo without named lots: `take` and `_pieces` in one pass (the hot path)."""
        key = (event.wallet, event.asset)
        held = self.held.get(key, 0)
        if held < amount:
            raise InsufficientLots(event.wallet, event.asset, amount, held, event.id)
        self.held[key] = held - amount
        heap = self.heaps[key]
        rule, before, after = self.rule, self.terms.before, self.terms.after
        pieces: list[PieceRecord] = []
        left_amount, left_proceeds = amount, proceeds
        while left_amount:
            lot = heap[0][3]
            available = lot.amount
            if not available:  # superseded by a wash-sale fragment
                heappop(heap)
                continue
            whole = available <= left_amount
            if whole:
                heappop(heap)
                take, cost = available, lot.cost
            else:
                take = left_amount
                cost = share(lot.cost, take, available)
                lot.cost -= cost
                lot.amount = available - take
            if take == left_amount:
                piece_proceeds = left_proceeds
            else:
                piece_proceeds = share(left_proceeds, take, left_amount)
            left_proceeds -= piece_proceeds
            left_amount -= take
            pieces.append(
                PieceRecord(
                    lot.id,
                    lot.origin,
                    rule,
                    take,
                    cost,
                    piece_proceeds,
                    after if day > lot.deadline else before,
                    lot.acquired,
                    lot.hp_start,
                )
            )
            if taken is not None:
                taken.append((lot, take, cost, rule, whole))
        return pieces

    def dispose(self, event: LotEvent, moment: datetime) -> None:
        """Realise value - fee against the lots the method takes.

        Raises:
            InvalidEvent: no value. InsufficientLots: more than the wallet holds.
            SpecLotMissing, SpecLotExhausted, SpecAmountMismatch: bad named lots.
        """
        value, fee = event.value, event.fee
        if value is None:
            raise InvalidEvent(event.id, "a disposal needs a value")
        amount = event.amount_raw
        proceeds = to_units(value) - to_units(fee) if fee else to_units(value)
        day = moment.toordinal()
        loss_rule = self.loss_rule
        if self.is_ordered and not event.lots:
            taken: list[Take] | None = [] if loss_rule is not None else None
            pieces = self._dispose_ordered(event, amount, proceeds, day, taken)
        else:
            taken = self.take(event, amount, True, proceeds, day)
            pieces = self._pieces(taken, amount, proceeds, day)
        record = DisposalRecord(
            event.id, (event.id,), moment, day, event.asset, event.wallet, amount, pieces
        )
        self.disposals.append(record)
        if loss_rule is not None:
            assert taken is not None
            loss_rule.after_disposal(self, record, taken)

    def withdraw(self, event: LotEvent) -> None:
        """Remove lots without realising anything.

        Raises:
            InsufficientLots: more than the wallet holds; or a bad named lot.
        """
        taken = self.take(event, event.amount_raw, False)
        self.removals.append(
            RemovalRecord(
                event.id,
                event.time,
                event.asset,
                event.wallet,
                event.amount_raw,
                [(lot.id, lot.origin, amount, cost) for lot, amount, cost, _, _ in taken],
            )
        )

    def transfer(self, event: LotEvent) -> None:
        """Move lots to another own wallet, keeping cost and dates.

        Raises:
            InvalidEvent: no other to_wallet. InsufficientLots: more than the wallet holds.
        """
        to_wallet = event.to_wallet
        if to_wallet is None or to_wallet == event.wallet:
            raise InvalidEvent(event.id, "a transfer needs a to_wallet other than its wallet")
        taken = self.take(event, event.amount_raw, False)
        for lot, amount, cost, _, whole in taken:
            if whole:
                lot.wallet = to_wallet
                self.push(lot)
            else:
                self.push(
                    OpenLot(
                        f"{lot.id}>{event.id}",
                        lot.origin,
                        lot.asset,
                        to_wallet,
                        amount,
                        cost,
                        lot.acquired,
                        lot.hp_start,
                        lot.deadline,
                        lot.adjustments,
                        lot.replaced,
                    )
                )
        self.held[(to_wallet, event.asset)] += event.amount_raw

    def convert(self, event: LotEvent) -> None:
        """Move lots 1:1 (pro rata if the amounts differ) to another asset, same wallet.

        Raises:
            InvalidEvent: no other to_asset, or a bad to_amount.
            InsufficientLots: more than the wallet holds.
        """
        to_asset = event.to_asset
        if to_asset is None or to_asset == event.asset:
            raise InvalidEvent(event.id, "a conversion needs a to_asset other than its asset")
        to_amount = event.amount_raw if event.to_amount_raw is None else event.to_amount_raw
        if to_amount <= 0:
            raise InvalidEvent(event.id, "to_amount must be positive")
        taken = self.take(event, event.amount_raw, False)
        left_from, left_to, carry = event.amount_raw, to_amount, 0
        made: list[OpenLot] = []
        for lot, amount, cost, _, _ in taken:
            mapped = share(left_to, amount, left_from)
            left_from -= amount
            left_to -= mapped
            if not mapped:  # too small to map: its cost rides on a neighbour
                carry += cost
                continue
            made.append(
                OpenLot(
                    f"{lot.id}>{event.id}",
                    lot.origin,
                    to_asset,
                    event.wallet,
                    mapped,
                    cost + carry,
                    lot.acquired,
                    lot.hp_start,
                    lot.deadline,
                    lot.adjustments,
                    lot.replaced,
                )
            )
            carry = 0
        made[-1].cost += carry
        for lot in made:
            self.push(lot)
        self.held[(event.wallet, to_asset)] = self.held.get((event.wallet, to_asset), 0) + to_amount

    # -- results ---------------------------------------------------------------------

    def holdings(self) -> list[Holding]:
        """What is held, per (wallet, asset) in order of first booking, lots in fifo order.

        Raises:
            Nothing.
        """
        out: list[Holding] = []
        for (wallet, asset), heap in self.heaps.items():
            live = sorted(
                (entry[3] for entry in heap if entry[3].amount),
                key=lambda lot: (lot.acquired, lot.id),
            )
            if live:
                out.append(freeze_holding(asset, wallet, [lot.freeze() for lot in live]))
        return out


def replay_lots(book: LotBook, events: Sequence[tuple[datetime, LotEvent]]) -> Replayed:
    """Replay events (already in replay order, each with its UTC time) into `book`.

    Without a loss rule and with an ordered method (fifo, lifo, hifo), nothing can reach
    back into a booked disposal, so the book takes the fast path (`_replay_ordered`),
    which emits frozen disposals as it goes.

    Raises:
        EngineError: an event the book refuses (see `ledger.engine.errors`).
    """
    if book.loss_rule is None and book.is_ordered:
        return _replay_ordered(book, events)
    acquire, dispose = book.acquire, book.dispose
    for moment, event in events:
        action = event.action
        if action is Action.ACQUIRE:
            acquire(event, moment)
        elif action is Action.DISPOSE:
            dispose(event, moment)
        elif action is Action.TRANSFER:
            book.transfer(event)
        elif action is Action.WITHDRAW:
            book.withdraw(event)
        else:
            book.convert(event)
    return Replayed(book.disposals, book.removals, book.holdings())


def _replay_ordered(book: LotBook, events: Sequence[tuple[datetime, LotEvent]]) -> Replayed:
    """The hot path: fifo/lifo/hifo per wallet, no loss rule.

    The same bookkeeping as `LotBook.acquire`, `dispose` and `transfer` (same heaps, same
    keys, same order of pushes, so the rarer events still go through the book's methods
    in between), written out in one loop over plain integers: no per-event method calls,
    no working record per piece, each disposal frozen once, right away, and its gains
    added to the totals by term as it is booked.
    """
    heaps, held, wallets_of = book.heaps, book.held, book.wallets_of
    hifo = book.method is LotMethod.HIFO
    lifo = book.method is LotMethod.LIFO
    terms = book.terms
    before, after = terms.before, terms.after
    deadline_of = terms.deadline
    deadlines: dict[int, int] = {}
    exact, places = UNITS_CONTEXT, -VALUE_PLACES
    rule = book.rule
    acquire, dispose, transfer = Action.ACQUIRE, Action.DISPOSE, Action.TRANSFER
    withdraw = Action.WITHDRAW
    removals = book.removals
    zero = from_units(0)
    mixed = Term.MIXED
    fees: dict[Decimal, int] = {}
    frozen: list[Disposal] = []
    gains: dict[Term | None, int] = {before: 0, after: 0}
    seq = book.seq
    for moment, event in events:
        action = event.action
        if action is acquire:
            value, fee = event.value, event.fee
            if value is None:
                raise InvalidEvent(event.id, "an acquisition needs a value")
            cost = to_units(value)
            if fee:
                fee_units = fees.get(fee)
                if fee_units is None:
                    fee_units = fees[fee] = to_units(fee)
                cost += fee_units
            if cost < 0:
                raise InvalidEvent(event.id, "an acquisition cannot cost less than zero")
            wallet, asset, amount, event_id = event.wallet, event.asset, event.amount_raw, event.id
            key = (wallet, asset)
            heap = heaps.get(key)
            if heap is None:
                heap = heaps[key] = []
                held[key] = 0
                wallets_of.setdefault(asset, []).append(wallet)
            day = moment.toordinal()
            deadline = deadlines.get(day)
            if deadline is None:
                deadline = deadlines[day] = deadline_of(day)
            lot = OpenLot(
                event_id, event_id, asset, wallet, amount, cost, moment, moment, deadline
            )
            seq += 1
            if hifo:
                heappush(heap, (-((cost << _HIFO_SHIFT) // amount), moment, seq, lot))
            elif lifo:
                heappush(heap, (-to_ts(moment), 0, -seq, lot))
            else:
                heappush(heap, (moment, 0, seq, lot))
            held[key] += amount
        elif action is dispose and not event.lots:
            value, fee = event.value, event.fee
            if value is None:
                raise InvalidEvent(event.id, "a disposal needs a value")
            proceeds = to_units(value)
            if fee:
                fee_units = fees.get(fee)
                if fee_units is None:
                    fee_units = fees[fee] = to_units(fee)
                proceeds -= fee_units
            wallet, asset, amount = event.wallet, event.asset, event.amount_raw
            key = (wallet, asset)
            have = held.get(key, 0)
            if have < amount:
                raise InsufficientLots(wallet, asset, amount, have, event.id)
            held[key] = have - amount
            heap = heaps[key]
            day = moment.toordinal()
            pieces: list[MatchedPiece] = []
            left_amount, left_proceeds, cost_sum = amount, proceeds, 0
            term: Term | None = None
            while left_amount:
                lot = heap[0][3]
                available = lot.amount
                if not available:  # emptied by a specific identification
                    heappop(heap)
                    continue
                if available <= left_amount:
                    heappop(heap)
                    take, cost = available, lot.cost
                else:
                    take = left_amount
                    cost = share(lot.cost, take, available)
                    lot.cost -= cost
                    lot.amount = available - take
                if take == left_amount:
                    piece_proceeds = left_proceeds
                else:  # share(left_proceeds, take, left_amount), written out
                    piece_proceeds, remainder = divmod(left_proceeds * take, left_amount)
                    twice = remainder * 2
                    if twice > left_amount or (twice == left_amount and piece_proceeds & 1):
                        piece_proceeds += 1
                left_proceeds -= piece_proceeds
                left_amount -= take
                cost_sum += cost
                piece_term = after if day > lot.deadline else before
                gains[piece_term] += piece_proceeds - cost
                term = piece_term if term is None or term is piece_term else mixed
                pieces.append(
                    build_piece(
                        lot.id,
                        lot.origin,
                        rule,
                        take,
                        Decimal(cost).scaleb(places, exact) if cost else zero,
                        Decimal(piece_proceeds).scaleb(places, exact) if piece_proceeds else zero,
                        piece_term,
                        zero,
                        lot.acquired,
                        lot.hp_start,
                    )
                )
            if len(pieces) == 1:
                only = pieces[0]
                disposal_proceeds, disposal_cost = only.proceeds, only.cost
            else:
                disposal_proceeds = Decimal(proceeds).scaleb(places, exact) if proceeds else zero
                disposal_cost = Decimal(cost_sum).scaleb(places, exact) if cost_sum else zero
            frozen.append(
                build_disposal(
                    event.id,
                    (event.id,),
                    moment,
                    asset,
                    wallet,
                    amount,
                    disposal_proceeds,
                    disposal_cost,
                    term,
                    zero,
                    tuple(pieces),
                )
            )
        elif action is transfer and not event.lots:
            wallet, asset, amount, to_wallet = (
                event.wallet,
                event.asset,
                event.amount_raw,
                event.to_wallet,
            )
            if to_wallet is None or to_wallet == wallet:
                raise InvalidEvent(event.id, "a transfer needs a to_wallet other than its wallet")
            key = (wallet, asset)
            have = held.get(key, 0)
            if have < amount:
                raise InsufficientLots(wallet, asset, amount, have, event.id)
            held[key] = have - amount
            heap = heaps[key]
            to_key = (to_wallet, asset)
            to_heap = heaps.get(to_key)
            if to_heap is None:
                to_heap = heaps[to_key] = []
                held[to_key] = 0
                wallets_of.setdefault(asset, []).append(to_wallet)
            left_amount = amount
            while left_amount:
                lot = heap[0][3]
                available = lot.amount
                if not available:  # emptied by a specific identification
                    heappop(heap)
                    continue
                if available <= left_amount:
                    heappop(heap)
                    lot.wallet = to_wallet
                    moved = lot
                    left_amount -= available
                else:
                    cost = share(lot.cost, left_amount, available)
                    lot.cost -= cost
                    lot.amount = available - left_amount
                    moved = OpenLot(
                        f"{lot.id}>{event.id}",
                        lot.origin,
                        asset,
                        to_wallet,
                        left_amount,
                        cost,
                        lot.acquired,
                        lot.hp_start,
                        lot.deadline,
                        lot.adjustments,
                        lot.replaced,
                    )
                    left_amount = 0
                seq += 1
                if hifo:
                    heappush(
                        to_heap,
                        (
                            -((moved.cost << _HIFO_SHIFT) // moved.amount),
                            moved.acquired,
                            seq,
                            moved,
                        ),
                    )
                elif lifo:
                    heappush(to_heap, (-to_ts(moved.acquired), 0, -seq, moved))
                else:
                    heappush(to_heap, (moved.acquired, 0, seq, moved))
            held[to_key] += amount
        elif action is withdraw and not event.lots:
            wallet, asset, amount = event.wallet, event.asset, event.amount_raw
            key = (wallet, asset)
            have = held.get(key, 0)
            if have < amount:
                raise InsufficientLots(wallet, asset, amount, have, event.id)
            held[key] = have - amount
            heap = heaps[key]
            removed: list[tuple[str, str | None, int, int]] = []
            left_amount = amount
            while left_amount:
                lot = heap[0][3]
                available = lot.amount
                if not available:  # emptied by a specific identification
                    heappop(heap)
                    continue
                if available <= left_amount:
                    heappop(heap)
                    removed.append((lot.id, lot.origin, available, lot.cost))
                    left_amount -= available
                else:
                    cost = share(lot.cost, left_amount, available)
                    lot.cost -= cost
                    lot.amount = available - left_amount
                    removed.append((lot.id, lot.origin, left_amount, cost))
                    left_amount = 0
            removals.append(RemovalRecord(event.id, event.time, asset, wallet, amount, removed))
        else:
            book.seq = seq
            if action is dispose:
                book.dispose(event, moment)
                record = book.disposals.pop()
                for piece in record.pieces:
                    gains[piece.term] = gains.get(piece.term, 0) + piece.proceeds - piece.cost
                frozen.append(record.freeze())
            elif action is transfer:
                book.transfer(event)
            else:
                book.convert(event)
            seq = book.seq
    book.seq = seq
    return Replayed((), book.removals, book.holdings(), frozen, totals_of(gains, 0))
