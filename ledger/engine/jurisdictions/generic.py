"""`generic`: one flat rate, the chosen lot method, lots kept per wallet.

Terms are still reported (short up to one year, long after, or `long_term_after_days`)
so that a flat-rate user can see them; the default rates are equal, so they do not
change what `min_tax` picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger.engine.jurisdictions.base import Replayed
from ledger.engine.lots import LotBook, replay_lots
from ledger.engine.terms import TermScheme
from ledger.engine.values import (
    Jurisdiction,
    LotEvent,
    LotMethod,
    MatchRule,
    Policy,
    TaxRates,
    Term,
)

FLAT_RATE: Final = Decimal("0.20")


class GenericRules:
    """Flat rate with a chosen method."""

    jurisdiction: Final = Jurisdiction.GENERIC
    pools_wallets: Final = False
    pool_rule: Final[MatchRule | None] = None

    def method_for(self, policy: Policy) -> LotMethod:
        """Any method; fifo by default.

        Raises:
            Nothing.
        """
        return policy.method or LotMethod.FIFO

    def rates_for(self, policy: Policy) -> TaxRates:
        """The policy's rates or a flat 20%.

        Raises:
            Nothing.
        """
        return policy.rates or TaxRates(short=FLAT_RATE, long=FLAT_RATE)

    def terms_for(self, policy: Policy) -> TermScheme:
        """Short up to one year (or the override), long after.

        Raises:
            Nothing.
        """
        return TermScheme(Term.SHORT, Term.LONG, policy.long_term_after_days)

    def replay(self, events: Sequence[tuple[datetime, LotEvent]], policy: Policy) -> Replayed:
        """Replay per wallet with the chosen method.

        Raises:
            EngineError: an event the book refuses.
        """
        book = LotBook(self.method_for(policy), self.terms_for(policy), self.rates_for(policy))
        return replay_lots(book, events)
