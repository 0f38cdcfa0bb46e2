# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: demo serve test lint typecheck suite test-postgres bench eval install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: install
	$(BIN)/omnix demo

lint: install-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: install-dev
	$(BIN)/mypy

suite: install-dev
	$(BIN)/pytest -q

test: lint typecheck suite

test-postgres: install-dev
	OMNIX_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "not slow"

bench: install-dev
	$(BIN)/python -m bench

eval: install
	$(BIN)/omnix eval

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
