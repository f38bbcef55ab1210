"""The indexer: JSON-RPC reading, log/receipt/block fetching, decoders, classification
of transactions into ledger events, historical pricing, checkpoints and reorg rollback."""
