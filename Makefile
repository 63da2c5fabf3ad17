# The README's whole set-up: `make report` and `make test` create the venv when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test test-all report bench gpu-check lint run clean

venv: $(STAMP)

# The venv is rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,h5]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m ''

# The comparisons and studies in one process per core (torchrun, docs/sweeps.md); `make report JOBS=1` in one
# process, `make report SEEDS=3` the multi-seed sweep (worst over the seeds; about three times as long).
JOBS ?= $(shell $(PYTHON) -c 'import os; print(os.cpu_count() or 1)')
SEEDS ?= 1
report: $(STAMP)
	$(PY) -m compare report --jobs $(JOBS) --seeds $(SEEDS)

bench: $(STAMP)
	$(PY) -m compare bench

# On a lent GPU machine: CUDA tests, compare run on CUDA, a CUDA bench, DDP on NCCL (2+ GPUs), < 8 minutes,
# into gpu-check-<device>/. Without a GPU: "no GPU", exit 0.
gpu-check: $(STAMP)
	$(PY) -m compare.gpu_check

# `make run ARGS="logistic_regression --steps 50"`: the parity table of some concepts, without activating .venv.
run: $(STAMP)
	$(PY) -m compare run $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
