# The README's two commands: `make run` and `make test`. Each creates .venv and installs the project first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Embedded default: SQLite under ./var, demo data, a local SMTP sink, the API on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/shouxin db upgrade
	$(BIN)/shouxin demo
	SHOUXIN_MAIL_SINK=true $(BIN)/shouxin serve --with-flows

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy models

# pytest's exit code 5 (no tests collected) fails the run: a suite that collects nothing must not pass.
pytest: $(STAMP)
	$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
