# chaosflow: `make demo` and `make test` do all their own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOXIPROXY_VERSION := v2.5.0
TOOLS := $(CURDIR)/.tools
UV := $(TOOLS)/uv/bin/uv
TOXIPROXY := $(TOOLS)/bin/toxiproxy-server
VENV_STAMP := .venv/.chaosflow-synced

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export CHAOSFLOW_TOXIPROXY_BIN := $(TOXIPROXY)
RUN := $(UV) run --frozen --no-sync

.PHONY: demo test lint unit bench tools venv clean schema browser sample-report

demo: $(VENV_STAMP)
	$(RUN) chaosflow demo --out reports-out

test: $(VENV_STAMP) tools browser lint
	$(RUN) pytest

lint: $(VENV_STAMP)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

unit: $(VENV_STAMP) browser
	$(RUN) pytest tests/orchestrator tests/faults tests/scenarios tests/reports tests/chaosflow

venv: $(VENV_STAMP)

# chaosflow against DBOS (in an environment of its own, .bench-venv) and the stores' raw commit
# rate, on SQLite and a throwaway PostgreSQL: figures in bench-out/results.json, see
# docs/performance.md. `make bench BENCH_ARGS=--quick` for smaller workloads.
DBOS_VERSION := 3.4.0
BENCH_STAMP := .bench-venv/.chaosflow-bench-$(DBOS_VERSION)
BENCH_ARGS ?=

bench: $(VENV_STAMP) $(BENCH_STAMP)
	@scripts/check-prereqs postgres
	$(RUN) python -m bench $(BENCH_ARGS)

$(BENCH_STAMP): $(UV)
	$(UV) venv --quiet --allow-existing .bench-venv
	$(UV) pip install --quiet --python .bench-venv/bin/python "dbos==$(DBOS_VERSION)" "psycopg[binary]>=3.2"
	@touch $@

# Debian's chromium, for the tests that open the HTML report in a real headless browser.
browser:
	@scripts/ensure-chromium

# The sample report linked from the README: the careless saga's crash-point exploration, which
# finds a double charge (so the run itself exits 1, as it should).
sample-report: $(VENV_STAMP)
	rm -rf docs/sample-report
	$(RUN) chaosflow run examples/scenarios/careless_saga_explore.yaml --report docs/sample-report || test $$? -eq 1

# The published JSON Schema of the result document and its field-by-field page, from the model;
# the schemas of the scenario file and the fault plan (for editors), from theirs.
schema: $(VENV_STAMP)
	$(RUN) python -c "import reports; reports.write_schema_files('docs/schema')"
	$(RUN) python -c "from chaosflow._input_schemas import write_input_schemas as w; w('docs/schemas')"

# uv itself lives in a project-local venv, so nothing is installed into the machine's Python.
$(UV):
	@scripts/check-prereqs
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV_STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

tools: $(TOXIPROXY)
	@scripts/check-prereqs postgres

# The Toxiproxy server, built from a pinned v2 release through the Go module proxy.
$(TOXIPROXY):
	@scripts/check-prereqs go
	mkdir -p $(TOOLS)/gobin $(TOOLS)/bin
	GOBIN=$(TOOLS)/gobin GOFLAGS=-mod=mod go install github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION)
	mv $(TOOLS)/gobin/server $@

clean:
	rm -rf .venv .bench-venv bench-out $(TOOLS) reports-out .mypy_cache .ruff_cache
