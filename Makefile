# Two entry points that work on a fresh machine (Python 3.11+): `make plan` and `make test`.
PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
BIN := $(VENV)/bin

.PHONY: plan test lint bench diagram docs inventory clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

plan: $(BIN)/.installed
	$(BIN)/python deploy.py plan --stack $(STACK)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n auto

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python scripts/benchmark.py

diagram: $(BIN)/.installed
	$(BIN)/python scripts/update_diagram.py

docs: $(BIN)/.installed
	$(BIN)/python scripts/update_docs.py

inventory: $(BIN)/.installed
	$(BIN)/python scripts/update_inventory.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
