# Two-command set-up: `make demo` (install + the paper's comparison) and `make test` (install + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

$(BIN)/mubench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/mubench

demo: install
	$(BIN)/mubench params
	$(BIN)/mubench flops
	$(BIN)/mubench latency --repeats 10 --trajectory-repeats 1
	$(BIN)/mubench robustness --sigma 0.1 --num-images 20

test: install
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check mubench tests benchmarks
	$(BIN)/ruff format --check mubench tests benchmarks

bench: install
	$(BIN)/python benchmarks/flops_registry.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
