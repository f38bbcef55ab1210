"""One module per CLI command (or command group); `harvestd.cli` registers them."""
