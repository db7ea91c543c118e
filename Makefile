# Every target creates the virtual environment it needs, so a clean checkout with
# only Python 3.11+ works: `make demo`, `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/movekit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/movekit
	$(BIN)/movekit demo

test: $(BIN)/movekit
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(BIN)/movekit
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(BIN)/movekit
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
