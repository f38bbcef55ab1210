"""The executor: quoting and routing on AMMs, guards, simulation, approvals, signing,
nonces, sending, confirming, and dry-run.

Modules, in the order a trade meets them: `quoting`/`routing` (fresh quotes on every
route), `pricing` and `guards` (refusals), `planning` (`TradePlanner.plan`, dry-run's
end point), `transactions`/`signing`, `sending` (`TradeSender.prepare`: re-check, approvals,
simulation), `execution` (`TradeExecutor`: exactly-once signing, recording, broadcasting,
replacement and confirmation over the store; `resume` at start-up), `nonces`
(`StoreNonces`, restart-safe), `replacement` (fee bumps), `outcome` (receipt numbers),
`chain` (the only module that sees web3), `errors` (the tree).
"""
