# Two commands set up a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint audit bench hostile faults clean

$(VENV)/.run-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/lowdose serve

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r src

# Known vulnerabilities in the installed dependencies (needs PyPI's JSON API; without it, a
# NOTE says what could not be audited and the target still passes: AUDIT_FLAGS=--strict fails).
audit: $(VENV)/.dev-installed
	$(BIN)/python scripts/audit_dependencies.py $(AUDIT_FLAGS)

test: lint
	$(BIN)/pytest -n 2

# Every budget of design §4 beside its reference. Each script replaces only its own section of
# bench/RESULTS.md. The 10,000-patient clinic is built once (minutes) and
# cached in bench/.cache/.
bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py
	$(BIN)/python bench/outcomes.py --write
	$(BIN)/python bench/checkins.py
	$(BIN)/python bench/cdshooks.py --workers 1 2
	$(BIN)/python bench/report.py --write
	$(BIN)/python bench/panel.py --write
	$(BIN)/python bench/monitoring.py --write

# The long hostile-input and fault runs; `make test` runs a short version of each.
hostile: $(VENV)/.dev-installed
	LOWDOSE_LONG_TESTS=1 $(BIN)/pytest -n 0 -p no:randomly tests/api/test_schemathesis.py

faults: $(VENV)/.dev-installed
	LOWDOSE_LONG_TESTS=1 $(BIN)/pytest -n 0 -p no:randomly tests/faults

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
