# Every target creates the virtual environment it needs, so a clean checkout with
# only Python 3.11+ works: `make demo`, `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# A real control plane for the test suite's second lane: zstd-packed kube-apiserver and
# kube-controller-manager (etcd comes from PyPI), unpacked into ENVTEST_DIR when present.
ENVTEST_SHARED ?= ../shared/envtest
ENVTEST_DIR    ?= .envtest

# One test process per core, up to four (each starts its own real control planes); a test
# module stays on one process, so module fixtures are made once.
PYTEST_PARALLEL ?= -n auto --maxprocesses 4 --dist loadscope

.PHONY: demo test lint bench clean

# One pip command for both, so that the resolver takes the local movekit-kubesim (the demo
# extra and the test suite's emulator), never one from the package index.
$(BIN)/movekit: pyproject.toml kubesim/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./kubesim -e '.[dev,demo]'
	touch $@

demo: $(BIN)/movekit
	$(BIN)/movekit demo

# movekit's suite, then kubesim's from its own directory (its own pytest configuration and
# `tests` package), both in both lanes.
test: $(BIN)/movekit lint
	@assets="$${KUBEBUILDER_ASSETS:-}"; \
	if [ -z "$$assets" ]; then \
	  assets=$$($(BIN)/python -m kubesim.envtest $(ENVTEST_SHARED) $(ENVTEST_DIR)) || exit 1; \
	fi; \
	if [ -n "$$assets" ]; then \
	  assets=$$(cd "$$assets" && pwd); \
	  echo "tests: kubesim lane and real control-plane lane ($$assets)"; \
	  export KUBEBUILDER_ASSETS="$$assets" MOVEKIT_REQUIRE_REAL_LANE=1; \
	else \
	  echo "tests: kubesim lane only; the real control-plane lane is skipped (set KUBEBUILDER_ASSETS, see README)"; \
	fi; \
	$(BIN)/pytest -q $(PYTEST_PARALLEL) && cd kubesim && $(abspath $(BIN))/pytest -q

lint: $(BIN)/movekit
	$(BIN)/ruff check .
	$(BIN)/mypy
	cd kubesim && $(abspath $(BIN))/mypy

# Against kubesim; then against real control planes too when there are any (as for `test`).
bench: $(BIN)/movekit
	$(BIN)/python -m bench
	@assets="$${KUBEBUILDER_ASSETS:-}"; \
	if [ -z "$$assets" ]; then \
	  assets=$$($(BIN)/python -m kubesim.envtest $(ENVTEST_SHARED) $(ENVTEST_DIR)) || exit 1; \
	fi; \
	if [ -n "$$assets" ]; then \
	  KUBEBUILDER_ASSETS="$$assets" $(BIN)/python -m bench --real; \
	else \
	  echo "bench: no real control plane (set KUBEBUILDER_ASSETS, see README): kubesim only"; \
	fi

clean:
	rm -rf $(VENV) $(ENVTEST_DIR) build *.egg-info
