"""The product layer's exceptions.

    HarvestdError (ledger.errors)
    └── ConfigError               the YAML settings are invalid (names key, line, value)
"""

from __future__ import annotations

from ledger.errors import HarvestdError


class ConfigError(HarvestdError):
    """The configuration file is missing, unreadable or invalid."""
