# Convoy: `make demo` shows the operator at work, `make test` runs every check. See README.md.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CLUSTER := hack/devcluster
# When KUBECONFIG names a cluster the tests and the demo use it; otherwise they bring up the local one.
OWN_CLUSTER := $(if $(KUBECONFIG),,1)

.PHONY: help venv lint typecheck crds crds-check unit e2e test demo cluster-up cluster-down bench clean

help:
	@echo "make demo          local cluster (unless KUBECONFIG is set) + CRDs + operator + an example run"
	@echo "make test          venv, lint, type checks, CRD drift, unit tests, e2e tests on the local cluster"
	@echo "make crds          regenerate crds/ and the chart's CRDs from the pydantic models"
	@echo "make cluster-up    start the local control plane (hack/devcluster up); cluster-down stops it"

$(BIN)/python: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/python

lint: venv
	$(BIN)/ruff check operator tests
	$(BIN)/ruff format --check operator tests
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy
	$(BIN)/mypy --strict tests

crds: venv
	$(BIN)/python -m convoy.api.crd crds charts/convoy/crds

crds-check: venv
	@tmp=$$(mktemp -d); $(BIN)/python -m convoy.api.crd $$tmp; \
	if ! diff -ru crds $$tmp || ! diff -ru charts/convoy/crds $$tmp; then \
	  echo "crds/ differs from the models: run 'make crds' and commit the result" >&2; rm -rf $$tmp; exit 1; fi; \
	rm -rf $$tmp; echo "crds/ matches the models"

unit: venv
	$(BIN)/pytest tests/unit -q -p no:cacheprovider

cluster-up:
	$(CLUSTER) up

cluster-down:
	$(CLUSTER) down

# With no KUBECONFIG, the local cluster is started for the e2e tests and stopped after them.
e2e: venv
	hack/prometheus.sh >/dev/null  # the e2e tests verify canaries against a real Prometheus
	@if [ -n "$(OWN_CLUSTER)" ]; then $(CLUSTER) up >/dev/null; eval "$$($(CLUSTER) env)"; fi; \
	  export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	  status=0; $(BIN)/pytest tests/e2e -q --timeout=600 -p no:cacheprovider || status=$$?; \
	  if [ -n "$(OWN_CLUSTER)" ]; then hack/check-down.sh || status=1; fi; exit $$status

test: lint typecheck crds-check unit e2e

demo: venv
	hack/demo.sh

bench: venv
	$(BIN)/python hack/bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
