"""harvestd, the product: CLI, settings, the scheduler wiring the indexer, strategy and
executor, logging, health and metrics, and the local Anvil world for the demo and tests."""

__version__ = "0.1.0"
