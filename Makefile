# harvestd — the two commands a newcomer needs are `make run` and `make test`.
# Every target installs what is missing itself: a .venv with the pinned Python
# packages, and node_modules with the pinned chain tooling (Anvil, Uniswap artifacts).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CONFIG ?= config/local.yaml

.PHONY: run test bench lint deps pydeps nodedeps clean help

help:
	@echo "make run    - local Anvil world with Uniswap + a wallet with history, daemon in dry-run"
	@echo "make test   - the whole test suite (unit + integration, SQLite and Postgres)"
	@echo "make bench  - benchmarks; prints the measured figures"
	@echo "make lint   - ruff, mypy --strict and the import contracts"

deps: pydeps nodedeps

pydeps: $(PY_STAMP)
nodedeps: $(NODE_STAMP)

$(PY_STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11+ (e.g. apt-get install python3 python3-venv)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { echo "error: harvestd needs Python 3.11 or newer ($(PYTHON) is $$($(PYTHON) --version))"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js 18+ with npm (e.g. apt-get install nodejs npm) - it provides Anvil and the Uniswap contracts"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: deps
	$(PY) -m harvestd demo --config $(CONFIG)

test: deps
	$(PY) -m pytest

bench: deps
	$(PY) -m pytest tests/benchmarks -s -p no:randomly -o addopts="" -o testpaths=tests/benchmarks

lint: pydeps
	$(VENV)/bin/ruff check ledger indexer strategy executor harvestd tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache build *.egg-info .harvestd-cache
