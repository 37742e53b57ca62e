# Convoy: `make demo` shows the operator at work, `make test` runs every check. See README.md.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CLUSTER := hack/devcluster
# When KUBECONFIG names a cluster the tests and the demo use it; otherwise they bring up the local one.
OWN_CLUSTER := $(if $(KUBECONFIG),,1)

.PHONY: help venv lint typecheck crds crds-check unit e2e test demo cluster-up cluster-down bench bench-compare bench-scale clean

help:
	@echo "make demo          local cluster (unless KUBECONFIG is set) + CRDs + operator + an example run"
	@echo "make test          venv, lint, type checks, CRD drift, unit tests, e2e tests on the local cluster"
	@echo "make crds          regenerate crds/ and the chart's CRDs from the pydantic models"
	@echo "make cluster-up    start the local control plane (hack/devcluster up); cluster-down stops it"
	@echo "make bench-compare Convoy against Argo Rollouts on the same canary (docs/benchmarks.md; not part of test)"
	@echo "make bench-scale   the operator with 10,000 Workflows and 1,000 active runs (docs/benchmarks.md)"

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
	hack/build-flux.sh >/dev/null  # tests/e2e/gitops run Flux's controllers: the first build takes ~10 min, then cached
	hack/chromium.sh >/dev/null  # the dashboard's browser tests (tests/e2e/dashboard) drive Debian's chromium
	@if [ -n "$(OWN_CLUSTER)" ]; then $(CLUSTER) up >/dev/null; eval "$$($(CLUSTER) env)"; fi; \
	  export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	  status=0; $(BIN)/pytest tests/e2e -q --timeout=600 -p no:cacheprovider || status=$$?; \
	  if [ -n "$(OWN_CLUSTER)" ]; then hack/check-down.sh || status=1; fi; exit $$status

test: lint typecheck crds-check unit e2e

demo: venv
	hack/demo.sh

bench: venv
	$(BIN)/python hack/bench.py

# Benchmarks on the local cluster (or KUBECONFIG's), not part of `make test`; see docs/benchmarks.md.
# Quick runs: make bench-compare BENCH_N=1,5 BENCH_REPEATS=1; make bench-scale BENCH_WORKFLOWS=1000 BENCH_ACTIVE=100
BENCH_N ?= 1,20,100
BENCH_REPEATS ?= 3
BENCH_WORKFLOWS ?= 10000
BENCH_ACTIVE ?= 1000
BENCH_ARGS ?=
BENCH_ENV = if [ -n "$(OWN_CLUSTER)" ]; then $(CLUSTER) up >/dev/null; eval "$$($(CLUSTER) env)"; \
	  else export PATH="$$(hack/build-tools.sh | tail -n1):$$PATH"; fi; export PATH="$(CURDIR)/$(BIN):$$PATH"

bench-compare: venv
	@$(BENCH_ENV); argo=$$(hack/build-argo.sh); \
	  $(BIN)/python hack/bench/compare.py --argo-bin "$$(sed -n 1p <<<"$$argo")" --argo-src "$$(sed -n 2p <<<"$$argo")" \
	    --n $(BENCH_N) --repeats $(BENCH_REPEATS) $(BENCH_ARGS)

bench-scale: venv
	@$(BENCH_ENV); $(BIN)/python hack/bench/scale.py --workflows $(BENCH_WORKFLOWS) --active $(BENCH_ACTIVE) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
