"""The one Protocol every jurisdiction's rule set implements, and what a replay returns.

A rule set owns everything its jurisdiction decides: whether lots are kept per wallet or
pooled, which lot methods are permitted, the holding-period terms, the default tax rates
and any loss-disallowance rule. `ledger.engine.replay` only validates and orders events
and hands them to the rule set; no jurisdiction flag appears in any matching loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ledger.engine.records import Replayed

__all__ = ["Replayed", "RuleSet", "StatutoryPoolRules"]
from ledger.engine.errors import MethodNotAllowed
from ledger.engine.terms import TermScheme
from ledger.engine.values import (
    Jurisdiction,
    LotEvent,
    LotMethod,
    MatchRule,
    Policy,
    TaxRates,
)


class RuleSet(Protocol):
    """A jurisdiction's rules."""

    @property
    def jurisdiction(self) -> Jurisdiction:
        """Which jurisdiction this is.

        Raises:
            Nothing.
        """
        ...

    @property
    def pools_wallets(self) -> bool:
        """True when each asset is one pool across all wallets (uk, ca).

        Raises:
            Nothing.
        """
        ...

    @property
    def pool_rule(self) -> MatchRule | None:
        """The rule pooled matches are reported under (s104, acb); None where lots are kept.

        Raises:
            Nothing.
        """
        ...

    def method_for(self, policy: Policy) -> LotMethod | None:
        """The lot method to use (None where the jurisdiction matches by its own rules).

        Raises:
            MethodNotAllowed: the policy asks for a method the jurisdiction forbids.
        """
        ...

    def rates_for(self, policy: Policy) -> TaxRates:
        """The policy's rates, or this jurisdiction's defaults.

        Raises:
            Nothing.
        """
        ...

    def terms_for(self, policy: Policy) -> TermScheme | None:
        """The holding-period terms (None where there are none).

        Raises:
            Nothing.
        """
        ...

    def replay(self, events: Sequence[tuple[datetime, LotEvent]], policy: Policy) -> Replayed:
        """Replay events (in replay order, each with its UTC timestamp in microseconds).

        Raises:
            EngineError: an event the rules refuse.
        """
        ...


class StatutoryPoolRules:
    """What the pooling rule sets (uk, ca) share: the law fixes how disposals match, so no
    lot method may be chosen, and gains have no holding-period terms. A subclass names its
    `jurisdiction`, `pool_rule` and `default_rates`, and owns its `replay`."""

    jurisdiction: Jurisdiction
    pool_rule: MatchRule
    default_rates: TaxRates
    pools_wallets = True

    def method_for(self, policy: Policy) -> None:
        """The statutory matching rules; no method may be chosen.

        Raises:
            MethodNotAllowed: a method was given.
        """
        if policy.method is not None:
            raise MethodNotAllowed(self.jurisdiction, str(policy.method), ())

    def rates_for(self, policy: Policy) -> TaxRates:
        """The policy's rates, or the jurisdiction's default.

        Raises:
            Nothing.
        """
        return policy.rates or self.default_rates

    def terms_for(self, policy: Policy) -> None:
        """No terms.

        Raises:
            Nothing.
        """
        return None
