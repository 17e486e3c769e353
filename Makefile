# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench-small bench clean

venv: $(STAMP)

# The lock file pins every package; uv installs it in seconds when cached.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: venv
	$(BIN)/leadflow demo

test: venv
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check plugins dags tests bench
	cd dbt_project && ../$(BIN)/sqlfluff lint models

bench-small: venv
	$(BIN)/python -m bench.run --contacts 20000 --events 200000

bench: venv
	$(BIN)/python -m bench.run --contacts 1000000 --events 20000000

clean:
	rm -rf .leadflow dbt_project/target dbt_project/logs
