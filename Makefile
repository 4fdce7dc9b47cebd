# Handoff: `make run` runs the demo, `make test` passes the tests. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
	echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: run test test-sqlite test-postgres lint typecheck bench clean setup pg-up

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Handoff needs Python 3.11 or newer on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/handoff run

test: test-sqlite test-postgres

test-sqlite: $(STAMP)
	@echo "== test suite on SQLite"
	HANDOFF_TEST_DATABASE_URL=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP) pg-up
	@echo "== test suite on PostgreSQL"
	HANDOFF_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest $(PYTEST_ARGS)

pg-up:
	@bash .ci/pg-up

lint: $(STAMP)
	$(BIN)/ruff check bot sync_core connectors migrations tests bench
	$(BIN)/ruff format --check bot sync_core connectors migrations tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
