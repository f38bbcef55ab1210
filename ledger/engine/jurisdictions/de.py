"""`de`: Germany, private disposals (§23 EStG): FIFO per wallet, exempt after one year.

A disposal of a lot held more than one calendar year (sold after the anniversary of its
acquisition, not after 365 days) is tax free (`exempt`); otherwise it is taxable
(`short`). The BMF letter of 10 May 2022 prescribes FIFO per wallet, so fifo is the
only permitted method (specific `lots` on an event are still honoured where documented).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger.engine.errors import MethodNotAllowed
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

DEFAULT_RATES: Final = TaxRates(short=Decimal("0.45"), long=Decimal("0.45"), exempt=Decimal(0))


class DeRules:
    """FIFO; exempt after one year."""

    jurisdiction: Final = Jurisdiction.DE
    pools_wallets: Final = False
    pool_rule: Final[MatchRule | None] = None

    def method_for(self, policy: Policy) -> LotMethod:
        """Always fifo.

        Raises:
            MethodNotAllowed: any other method was asked for.
        """
        if policy.method not in (None, LotMethod.FIFO):
            raise MethodNotAllowed(self.jurisdiction, str(policy.method), (LotMethod.FIFO.value,))
        return LotMethod.FIFO

    def rates_for(self, policy: Policy) -> TaxRates:
        """The policy's rates or the top income-tax rate, 0 when exempt.

        Raises:
            Nothing.
        """
        return policy.rates or DEFAULT_RATES

    def terms_for(self, policy: Policy) -> TermScheme:
        """Taxable (`short`) up to one year, `exempt` after.

        Raises:
            Nothing.
        """
        return TermScheme(Term.SHORT, Term.EXEMPT, policy.long_term_after_days)

    def replay(self, events: Sequence[tuple[datetime, LotEvent]], policy: Policy) -> Replayed:
        """Replay per wallet, fifo.

        Raises:
            EngineError: an event the book refuses.
        """
        book = LotBook(self.method_for(policy), self.terms_for(policy), self.rates_for(policy))
        return replay_lots(book, events)
