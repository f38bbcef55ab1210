"""The strategy: valuation, drift detection, harvest scan, tax-aware lot selection and
rebalancing, benefit-versus-cost decisions, and proposals."""
