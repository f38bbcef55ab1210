"""The root of harvestd's exception tree and the ledger's branch of it.

    HarvestdError                 root of every error harvestd raises on purpose
    ├── LedgerError               ledger (this module and ledger.engine / ledger.store)
    │   ├── BasisFileError        a basis file that cannot be read (ledger.basisfile)
    │   ├── EngineError           the lot engine refused an event (ledger.engine.errors)
    │   └── StoreError            the store refused a write or read (ledger.store.errors)
    ├── IndexerError              indexer.errors
    ├── StrategyError             strategy.errors
    ├── ExecutorError             executor.errors
    └── ConfigError               harvestd.errors

Each leaf carries the fields that describe the problem and builds its own message.
"""

from __future__ import annotations


class HarvestdError(Exception):
    """Root of every error harvestd raises deliberately."""


class LedgerError(HarvestdError):
    """Something in the ledger (engine, store, basis file) went wrong."""
