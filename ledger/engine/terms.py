"""Holding periods: when a lot turns from one term into the other.

A lot is in `after` (long term, or exempt in Germany) when it is sold on a UTC date
later than its *deadline*, and in `before` (short term) on or before it. By default the
deadline is the anniversary of the start of the holding period, so a sale on the
anniversary is still short term (IRS Pub 544/550: "more than one year"; EStG §23: "not
more than one year" is taxable). A 29 February start has its anniversary on 28 February.
With `long_term_after_days=N`, the deadline is N days after the start (held more than
N days).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ledger.engine.values import Term


def anniversary_day(day: int) -> int:
    """The ordinal of the first anniversary of the date with ordinal `day`.

    Raises:
        ValueError: an ordinal outside the calendar.
    """
    start = date.fromordinal(day)
    try:
        return start.replace(year=start.year + 1).toordinal()
    except ValueError:  # 29 February
        return date(start.year + 1, 2, 28).toordinal()


@dataclass(slots=True)
class TermScheme:
    """The two terms of a jurisdiction and how the deadline between them is set."""

    before: Term
    after: Term
    days: int | None = None
    _cache: dict[int, int] = field(default_factory=dict, repr=False)

    def deadline(self, start_day: int) -> int:
        """The last day (ordinal) on which a lot whose holding period began on `start_day`
        is still `before`.

        Raises:
            Nothing.
        """
        if self.days is not None:
            return start_day + self.days
        cached = self._cache.get(start_day)
        if cached is None:
            cached = self._cache[start_day] = anniversary_day(start_day)
        return cached

    def term(self, deadline: int, sale_day: int) -> Term:
        """The term of a lot with `deadline` sold on `sale_day`.

        Raises:
            Nothing.
        """
        return self.after if sale_day > deadline else self.before
