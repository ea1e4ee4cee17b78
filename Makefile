# Clearance — developer entry points. Each target creates .venv if needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test bench lint install dev clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[sample]'
	touch $@

$(DEVSTAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev,sample]'
	touch $@ $(STAMP)

install: $(STAMP)
dev: $(DEVSTAMP)

## make demo: generate the sample show's pipeline into a temporary folder, audit it, print the supervisor report
demo: $(STAMP)
	$(PY) sample_pipeline/demo.py

## make test: the test suite (fast; slow soak scenarios are under -m slow), in TEST_JOBS processes
## (pytest-xdist; most of the suite's time is watchers and CLI runs waiting, not computing)
TEST_JOBS ?= 2
test: $(DEVSTAMP)
	$(PY) -m compileall -q src  # bytecode, as a wheel install has: hundreds of CLI runs otherwise compile every module
	$(PY) -m pytest -m "not slow" -n $(TEST_JOBS) $(PYTEST_ARGS)

## make bench: every benchmark in benchmarks/, one table of ratios against baselines measured in the same run
bench: $(DEVSTAMP)
	$(PY) -m compileall -q src  # bytecode, as a wheel install has (the editable install has none)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check src tests hooks sample_pipeline benchmarks
	$(VENV)/bin/ruff format --check src tests hooks sample_pipeline benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build dist .pytest_cache
