"""The executor: quoting and routing on AMMs, guards, simulation, approvals, signing,
nonces, sending, confirming, and dry-run."""
