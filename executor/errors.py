"""The executor's exceptions.

    HarvestdError (ledger.errors)
    └── ExecutorError             anything the executor raises on purpose
"""

from __future__ import annotations

from ledger.errors import HarvestdError


class ExecutorError(HarvestdError):
    """The executor refused or failed to carry out a trade."""
