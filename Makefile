# Two-command set-up: `make demo` (install + the paper's comparison) and `make test` (install + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-slow test-all lint bench ci-suite report-screenshot clean

# The CI suite's output folder, compared with the committed baseline results/ci/.
CI_RESULTS ?= build/ci-results
EXACT_METRICS := params_total params_trainable params_frozen buffers_total macs nfe macs_per_trajectory \
	nfe_per_trajectory nfe_total

$(BIN)/mubench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,test]"
	touch $@

install: $(BIN)/mubench

demo: install
	$(BIN)/mubench params
	$(BIN)/mubench flops
	$(BIN)/mubench latency --repeats 10 --trajectory-repeats 1
	$(BIN)/mubench robustness --sigma 0.1 --num-images 20

# The quick tests and the linter; the tests marked slow (worker processes, torchrun, full-size models,
# subprocesses) have their own target. CI runs both (.ci/run).
test: install
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/ruff check mubench tests benchmarks
	$(BIN)/ruff format --check mubench tests benchmarks

test-slow: install
	$(BIN)/python -m pytest -q -m slow

test-all: test test-slow

# Exact counts must match the baseline; quality within 0.5%; timing is shown, not gated.
ci-suite: install
	rm -rf $(CI_RESULTS)
	$(BIN)/mubench run benchmarks/ci.toml --out $(CI_RESULTS) --quiet
	$(BIN)/mubench compare results/ci $(CI_RESULTS) $(foreach m,$(EXACT_METRICS),--fail-on-change $(m)) \
		--fail-on psnr_db_mean:0.5% --fail-on ssim_mean:0.5% --fail-on-missing \
		--changed-only --csv $(CI_RESULTS)-compare.csv

bench: install
	$(BIN)/python benchmarks/flops_registry.py

# The paper report from its committed rows, and how it looks in headless Chromium (apt-get install chromium).
report-screenshot: install
	$(BIN)/mubench report results/cpu/paper -q
	benchmarks/report_screenshot.sh results/cpu/paper/report.html results/cpu/paper/report.png 1400 1300

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
