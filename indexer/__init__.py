"""The indexer: reads the chain for the owner's wallets and turns it into ledger events.

One range of blocks goes through gather → decide → (apply, in wave 2):

    gather (async I/O)                          decide (pure, frozen values)
    ────────────────────────────────────────    ─────────────────────────────────────
    rpc.RpcClient        JSON-RPC, batching,     classify.classify_transaction
                         retries, 429, timeouts     TxBundle → LedgerEvents (unpriced)
    native.detect_trace_method  once per node   pricing.PriceBook / apply_prices
    gather.gather_range  logs + traces +            pool states → USD values
                         receipts + headers
    pricing.fetch_pool_prices  Sync/Swap logs
    pricing.fetch_pool_tokens / fetch_decimals

Modules: `rpc` (client, URL redaction), `records` (frozen chain records and their
parsing), `sweep` (eth_getLogs with adaptive ranges, receipts, headers), `native`
(native-coin movements: trace_filter, callTracer, balance bisection), `decoders/`
(one module per protocol), `classify`, `pricing`, `gather`, `concurrency`, `errors`.
Checkpoints, reorg rollback and the backfill loop (wave 2) compose these with
`ledger.store`.
"""
