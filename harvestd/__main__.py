"""`python -m harvestd` runs the CLI."""

from harvestd.cli import main

main()
