# Two commands do all the set-up: `make run` starts the demo gateway,
# `make test` runs every test. Both create .venv and install the core and
# every plugin in editable mode when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-smoke clean

$(STAMP): pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]' $(foreach p,$(PLUGINS),-e $(dir $(p))[test])
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/reelay demo $(ARGS)

# The suite mostly waits (real servers, timers): 4 workers finish it in about a
# third of the time on 2 cores. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 4

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check core plugins tests bench
	$(BIN)/ruff format --check core plugins tests bench

bench: $(STAMP)
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV)
