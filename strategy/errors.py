"""The strategy's exceptions.

    HarvestdError (ledger.errors)
    └── StrategyError             anything the strategy raises on purpose
"""

from __future__ import annotations

from ledger.errors import HarvestdError


class StrategyError(HarvestdError):
    """The strategy could not value, scan or propose."""
