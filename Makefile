# Two commands do everything on a fresh machine: `make demo` and `make test`.
# The other targets run the full stack without Docker (see README, "The full stack").
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK_ENV := .leadflow/stack.env
AIRFLOW_SERVICES := airflow-api-server airflow-scheduler airflow-dag-processor airflow-triggerer

.PHONY: venv demo test lint dbt bench-small bench clean report doctor \
	postgres sandbox airflow-init airflow-standalone $(AIRFLOW_SERVICES)

venv: $(STAMP)

# The lock file pins every package; uv installs it in seconds when cached.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: venv
	$(BIN)/leadflow demo --report .leadflow/report.html

test: venv
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check plugins dags tests bench
	$(BIN)/ruff format --check plugins dags tests bench
	cd dbt_project && ../$(BIN)/sqlfluff lint models macros tests

# Any dbt command on the project, e.g. `make dbt ARGS="build --select crm_outgoing_contacts"`:
# the profile comes from the warehouse connection, else the demo's embedded Postgres.
dbt: venv
	$(BIN)/leadflow dbt $(ARGS)

bench-small: venv
	$(BIN)/python -m bench.run --contacts 20000 --events 200000
	$(BIN)/python -m bench.load_bench
	$(BIN)/python -m bench.extract_throughput
	$(BIN)/python -m bench.push_bench

bench: venv
	$(BIN)/python -m bench.run --contacts 100000 --events 2000000
	$(BIN)/python -m bench.run --contacts 1000000 --events 20000000

# -- the full stack without Docker: the services docker-compose.yml runs -------------------
# Embedded Postgres (warehouse + Airflow metadata) and .leadflow/stack.env for the rest.
postgres: venv
	$(BIN)/python -m leadflow.local stack

# The HubSpot-compatible sandbox on :8765 (foreground; its own terminal).
sandbox: venv
	$(BIN)/leadflow sandbox --port 8765 --contacts 5000 --rate-limit 190

# Migrate Airflow's metadata database, register the DAG and unpause it.
airflow-init: postgres
	. ./$(STACK_ENV) && $(BIN)/airflow db migrate && $(BIN)/airflow dags reserialize \
		&& $(BIN)/airflow dags unpause lead_sync

# One Airflow component in the foreground, e.g. `make airflow-scheduler` (one terminal each).
$(AIRFLOW_SERVICES): postgres
	. ./$(STACK_ENV) && exec $(BIN)/airflow $(@:airflow-%=%)

# All four Airflow components in one process (api-server on http://localhost:8080).
airflow-standalone: airflow-init
	. ./$(STACK_ENV) && exec $(BIN)/airflow standalone

# Operator commands against the stack's connections.
report: postgres
	. ./$(STACK_ENV) && $(BIN)/leadflow report -o .leadflow/report.html

doctor: postgres
	. ./$(STACK_ENV) && $(BIN)/leadflow doctor

clean:
	rm -rf .leadflow dbt_project/target dbt_project/logs
