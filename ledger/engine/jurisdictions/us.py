"""`us`: lots per wallet, a chosen method, short/long term, and the optional wash-sale rule.

Terms: long term when sold more than one year after the holding period began (a sale on
the anniversary is still short term), or more than `long_term_after_days` days.

Wash sale (IRC §1091, IRS Publication 550), when `Policy.wash_sale` is set: a loss on a
matched piece is disallowed to the extent substantially identical property (the same
asset, in any of the owner's wallets) is acquired within 30 days before or after the
sale (by UTC date). For each loss piece, in the order the disposal matched them:

- replacement candidates are lots acquired from 30 days before the sale up to the sale,
  still open, earliest first, then acquisitions in the 30 days after, as they come;
  lots that came from the same acquisition as any sold piece are not replacements (the
  sold lot is not its own replacement), and a lot that already absorbed one disallowed
  loss does not absorb another;
- pro rata: with `q` of the piece's `n` units replaced, `loss * q / n` is disallowed
  (value-unit rounding per `ledger.engine.money.share`, the last portion takes the rest);
- the disallowed amount is added to the cost of exactly the `q` replacement units (split
  off as their own lot, id `<lot>~<sale>` unless the whole lot absorbs), whose holding
  period start moves back by the sold piece's holding period (tacking).

Not modelled: replacements bought and sold again before the loss sale, options and
contracts to acquire, acquisitions by a spouse or an IRA.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger.engine.jurisdictions.base import Replayed
from ledger.engine.lots import LotBook, Take, replay_lots
from ledger.engine.money import from_units, share
from ledger.engine.records import DisposalRecord, OpenLot, PieceRecord
from ledger.engine.terms import TermScheme
from ledger.engine.values import (
    Adjustment,
    AdjustmentKind,
    Jurisdiction,
    LotEvent,
    LotMethod,
    MatchRule,
    Policy,
    TaxRates,
    Term,
)

WASH_WINDOW_DAYS: Final = 30
DEFAULT_RATES: Final = TaxRates(short=Decimal("0.37"), long=Decimal("0.20"))


class _PendingLoss:
    """The not yet replaced part of one loss piece."""

    __slots__ = ("deadline", "loss", "piece", "qty", "sale_day", "sale_id", "sale_time", "sold_hp")

    def __init__(self, piece: PieceRecord, sold_hp: datetime, record: DisposalRecord) -> None:
        self.piece = piece
        self.qty = piece.amount
        self.loss = piece.cost - piece.proceeds
        self.sold_hp = sold_hp
        self.sale_time = record.time
        self.sale_day = record.day
        self.sale_id = record.id
        self.deadline = record.day + WASH_WINDOW_DAYS


class WashSaleRule:
    """Disallows wash-sale losses and carries them into the replacement lots."""

    def __init__(self, terms: TermScheme) -> None:
        self._terms = terms
        self._pending: dict[str, deque[_PendingLoss]] = {}

    def _absorb(self, lot: OpenLot, pending: _PendingLoss) -> OpenLot:
        """Carry (part of) a pending loss into `lot`; returns the lot that now carries it."""
        qty = min(lot.amount, pending.qty)
        disallowed = share(pending.loss, qty, pending.qty)
        pending.loss -= disallowed
        pending.qty -= qty
        pending.piece.disallowed += disallowed
        held_for = pending.sale_time - pending.sold_hp
        hp_start = lot.hp_start - held_for
        adjustment = Adjustment(
            kind=AdjustmentKind.WASH_SALE,
            event_id=pending.sale_id,
            amount=from_units(disallowed),
            holding_days_added=pending.sale_day - pending.sold_hp.toordinal(),
        )
        if qty == lot.amount:
            lot_id, cost = lot.id, lot.cost
            lot.amount = lot.cost = 0  # superseded by the new object below
        else:
            lot_id, cost = f"{lot.id}~{pending.sale_id}", share(lot.cost, qty, lot.amount)
            lot.cost -= cost
            lot.amount -= qty
        return OpenLot(
            lot_id,
            lot.origin,
            lot.asset,
            lot.wallet,
            qty,
            cost + disallowed,
            lot.acquired,
            hp_start,
            self._terms.deadline(hp_start.toordinal()),
            (*lot.adjustments, adjustment),
            True,
        )

    def after_disposal(self, book: LotBook, record: DisposalRecord, taken: Sequence[Take]) -> None:
        """Find replacements bought up to 30 days before; leave the rest pending.

        Raises:
            Nothing.
        """
        losses = deque(
            _PendingLoss(piece, take[0].hp_start, record)
            for piece, take in zip(record.pieces, taken, strict=True)
            if piece.proceeds < piece.cost
        )
        if not losses:
            return
        sold = {take[0].origin for take in taken}
        first_day = record.day - WASH_WINDOW_DAYS
        candidates = sorted(
            (
                lot
                for lot in book.open_lots(record.asset)
                if not lot.replaced
                and lot.origin not in sold
                and first_day <= lot.acquired.toordinal() <= record.day
            ),
            key=lambda lot: (lot.acquired, lot.id),
        )
        for lot in candidates:
            while losses and lot.amount:
                book.push(self._absorb(lot, losses[0]))
                if not losses[0].qty:
                    losses.popleft()
            if not losses:
                return
        self._pending.setdefault(record.asset, deque()).extend(losses)

    def on_acquisition(self, book: LotBook, lot: OpenLot, day: int) -> list[OpenLot]:
        """Let a new lot replace pending losses of sales in the 30 days before it.

        Raises:
            Nothing.
        """
        queue = self._pending.get(lot.asset)
        if not queue:
            return [lot]
        out: list[OpenLot] = []
        while queue and lot.amount:
            pending = queue[0]
            if pending.deadline < day:
                queue.popleft()
                continue
            out.append(self._absorb(lot, pending))
            if not pending.qty:
                queue.popleft()
        if lot.amount:
            out.append(lot)
        return out


class UsRules:
    """United States: short/long term, optional wash sale."""

    jurisdiction: Final = Jurisdiction.US
    pools_wallets: Final = False
    pool_rule: Final[MatchRule | None] = None

    def method_for(self, policy: Policy) -> LotMethod:
        """Any method; fifo by default (the IRS default without adequate identification).

        Raises:
            Nothing.
        """
        return policy.method or LotMethod.FIFO

    def rates_for(self, policy: Policy) -> TaxRates:
        """The policy's rates or the top federal rates (37% short, 20% long).

        Raises:
            Nothing.
        """
        return policy.rates or DEFAULT_RATES

    def terms_for(self, policy: Policy) -> TermScheme:
        """Short up to one year (or the override), long after.

        Raises:
            Nothing.
        """
        return TermScheme(Term.SHORT, Term.LONG, policy.long_term_after_days)

    def replay(self, events: Sequence[tuple[datetime, LotEvent]], policy: Policy) -> Replayed:
        """Replay per wallet with the chosen method and, if asked, the wash-sale rule.

        Raises:
            EngineError: an event the book refuses.
        """
        terms = self.terms_for(policy)
        rule = WashSaleRule(terms) if policy.wash_sale else None
        book = LotBook(self.method_for(policy), terms, self.rates_for(policy), rule)
        return replay_lots(book, events)
