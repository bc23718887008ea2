# Quick start: `make demo` then `make test`. Nothing else is needed on a fresh machine
# with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The optional opa engine (real OPA, embedded): its wheel declares Requires-Python >= 3.14
# but runs on 3.11, hence --no-deps --ignore-requires-python (docs/engines.md).
OPA_BINDINGS := opa-golib-python-bindings==0.4.4

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	$(BIN)/python -m pip install -q --no-deps --ignore-requires-python $(OPA_BINDINGS)
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps --ignore-requires-python $(OPA_BINDINGS)
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	@bash examples/demo.sh $(BIN)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check gatekeeper tests benchmarks
	$(BIN)/ruff format --check gatekeeper tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck unit

# The fast set: everything but the slow end-to-end tests (marker `e2e`, see README).
test-fast: lint typecheck
	$(BIN)/pytest -q -m "not e2e" -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_gate.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
