# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
NPM ?= npm
CHROMIUM := /usr/lib/chromium/chromium

.PHONY: demo serve test lint typecheck suite test-postgres bench eval install install-dev clean web test-web test-e2e

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: install web
	$(BIN)/omnix demo

lint: install-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: install-dev
	$(BIN)/mypy

suite: install-dev
	$(BIN)/pytest -q

test: lint typecheck suite test-web test-e2e

# The dashboards: types generated from the live schema, then the Vite build.
web: install
	@if ! command -v $(NPM) >/dev/null 2>&1; then \
	  echo "web: npm not found, dashboards not built (install Node 20+ and npm, then make web)"; \
	else \
	  $(BIN)/python scripts/export_openapi.py web/openapi.json && \
	  cd web && $(NPM) ci --no-audit --no-fund --loglevel=error && \
	  $(NPM) run --silent generate && $(NPM) run --silent build; \
	fi

test-web: web
	@if ! command -v $(NPM) >/dev/null 2>&1; then \
	  echo "test-web: npm not found, web tests not run"; exit 1; \
	fi
	cd web && $(NPM) run --silent lint && $(NPM) run --silent typecheck && $(NPM) test

# Headless Debian Chromium against `omnix demo --load-only` + `omnix serve`
# (started by tests/e2e/conftest.py in a temporary data directory).
test-e2e: install-dev web
	@test -x $(CHROMIUM) || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@status=0; OMNIX_E2E=1 $(BIN)/pytest tests/e2e -q -p no:cacheprovider || status=$$?; \
	  echo "Screenshots in artifacts/screenshots/:"; ls -l artifacts/screenshots 2>/dev/null; \
	  exit $$status

test-postgres: install-dev
	OMNIX_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "not slow"

bench: install-dev
	@command -v wrk >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench

eval: install
	$(BIN)/omnix eval

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
