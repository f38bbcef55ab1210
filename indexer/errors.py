"""The indexer's exceptions.

    HarvestdError (ledger.errors)
    └── IndexerError              anything the indexer raises on purpose
"""

from __future__ import annotations

from ledger.errors import HarvestdError


class IndexerError(HarvestdError):
    """The indexer could not read, decode or book something."""
