"""One rule set per jurisdiction, each in its own module, all behind `RuleSet`."""

from __future__ import annotations

from ledger.engine.jurisdictions.base import Replayed, RuleSet
from ledger.engine.jurisdictions.ca import CaRules
from ledger.engine.jurisdictions.de import DeRules
from ledger.engine.jurisdictions.generic import GenericRules
from ledger.engine.jurisdictions.uk import UkRules
from ledger.engine.jurisdictions.us import UsRules
from ledger.engine.values import Jurisdiction

RULE_SETS: dict[Jurisdiction, RuleSet] = {
    Jurisdiction.US: UsRules(),
    Jurisdiction.UK: UkRules(),
    Jurisdiction.DE: DeRules(),
    Jurisdiction.CA: CaRules(),
    Jurisdiction.GENERIC: GenericRules(),
}


def rules_for(jurisdiction: Jurisdiction) -> RuleSet:
    """The rule set of a jurisdiction.

    Raises:
        KeyError: not a `Jurisdiction`.
    """
    return RULE_SETS[jurisdiction]


__all__ = ["RULE_SETS", "Replayed", "RuleSet", "rules_for"]
