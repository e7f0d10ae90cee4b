# The two commands: `make demo` (set up + run the pipeline end to end) and `make test`.
PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

export FORECASTOPS_HOME ?= $(CURDIR)/.forecastops
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

# After `make demo`, the UI's partitions start where the demo's data starts (it records the
# day); a FORECASTOPS_START_DATE of your own wins.
DEMO_START_FILE := $(FORECASTOPS_HOME)/demo_start_date
ifneq ($(wildcard $(DEMO_START_FILE)),)
ui up: export FORECASTOPS_START_DATE ?= $(shell cat $(DEMO_START_FILE))
endif

.PHONY: setup browser demo ui test lint format bench clean

# uv installs the locked dependencies; it comes from the registry into a private tools venv so
# the only prerequisite is Python 3.11 itself.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Quiet: a fresh install would list ~200 packages; one line says what happened (errors still show).
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	@$(UV) sync --locked --quiet --python $(PYTHON)
	@echo "Set up $(VENV): the $$(grep -c '^name = ' uv.lock) locked packages of uv.lock (uv sync --locked)"
	@touch $@

setup: $(VENV)/.synced

# The browser tests drive Debian's chromium through Playwright for Python (no browser download).
# CI runs as root on a clean Debian machine, so this installs it there; elsewhere it says how.
CHROMIUM := /usr/bin/chromium
APT_INSTALL_CHROMIUM := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

browser: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "$(CHROMIUM) is missing and the browser tests need it: run as root" \
	    "'apt-get update && apt-get install -y --no-install-recommends chromium'" >&2; \
	  exit 1; \
	fi
	$(APT_INSTALL_CHROMIUM) || (apt-get update -q && $(APT_INSTALL_CHROMIUM))

demo: setup
	$(BIN)/python -m forecast_jobs.demo

# The Dagster UI (with its daemon) and the MLflow UI, in the background on the settings' host and
# ports (FORECASTOPS_SERVICE_HOST, FORECASTOPS_WEBSERVER_PORT, FORECASTOPS_MLFLOW_PORT): the same
# services as `make up` (forecastops up), so the links in asset metadata and alerts open. Stop
# them with `make down`.
ui: up

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# --durations: CI logs name the slowest tests, so the suite's time can be watched.
test: setup browser lint
	$(BIN)/python -m pytest --durations=15

# Benchmarks print tables; they are not part of the test suite. model_cycle needs mlforecast.
bench: setup
	$(UV) sync --locked --group bench
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/model_cycle.py --sizes 100,1000
	$(BIN)/python benchmarks/missing_day.py

# The production services (docs/deployment.md): dagster-webserver, dagster-daemon and the MLflow
# UI in the background, after `forecastops doctor --fix`; logs and PID files in $FORECASTOPS_HOME/logs.
.PHONY: up down
up: setup
	$(BIN)/forecastops up

down: setup
	$(BIN)/forecastops down

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(TOOLS) .forecastops .mypy_cache .pytest_cache .ruff_cache
