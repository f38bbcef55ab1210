"""The ledger: harvestd's exact cost-basis store and its pure lot engine.

`ledger.engine` is the stdlib-only lot engine (lots, matching, jurisdictions,
money); `ledger.store` holds the SQLModel rows, sessions and migrations. The
ledger imports nothing else of harvestd's.
"""
