# `make test` and `make run` set themselves up: they create .venv from the pinned requirements and
# install the project into it (editable) the first time, and again whenever requirements.txt or
# pyproject.toml changes.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

RUNS ?= 100
YEARS ?= 5
SEED ?= 0

.PHONY: setup test test-cpu lint run regress notebooks benchmark benchmark-memory fuzz explore lab clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q
	$(PY) -m experiments regress

# The engine-equality and regression tests (marker `engines`) and the golden regression again,
# under a narrowed numpy CPU dispatch (.ci/narrowed_dispatch.py: AVX-512 off where the CPU has
# it, else its two highest dispatched features): float results that depend on the CPU's kernels
# beyond the tolerances of experiments/analysis/tolerances.py fail here, on any machine.
test-cpu: $(STAMP)
	@features="$$($(PY) .ci/narrowed_dispatch.py)" && export NPY_DISABLE_CPU_FEATURES="$$features" && \
	echo "NPY_DISABLE_CPU_FEATURES=\"$$features\"" && \
	$(PY) .ci/narrowed_dispatch.py --verify && \
	$(PY) -m pytest -q -p no:cacheprovider -m engines && \
	$(PY) -m experiments regress

run: $(STAMP)
	$(PY) -m experiments run baseline --runs $(RUNS) --years $(YEARS) --seed $(SEED) --engine vectorized

# Rewrite the golden KPI files after a deliberate model change (commit them with the reason).
regress-update: $(STAMP)
	$(PY) -m experiments regress --update

# Execute every notebook headless (fails on any error) and export HTML into build/notebooks/.
notebooks: $(STAMP)
	$(PY) -m experiments.reporting.notebooks --out build/notebooks

# A longer fuzz over every parameter's range endpoints and near-endpoints, combined: invariants on
# every example, and the vectorized engine equal to radCAD (FUZZ_EXAMPLES=2000 for longer still).
FUZZ_EXAMPLES ?= 400
fuzz: $(STAMP)
	SESH_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider tests/test_scenarios.py -k range_edges

benchmark: $(STAMP)
	$(PY) benchmarks/engines.py

# Every path's memory: the memory model's estimate against the measured peak (a fresh process each).
benchmark-memory: $(STAMP)
	$(PY) benchmarks/memory.py

# The interactive explorer on http://127.0.0.1:8050/ (PORT=... to change; Ctrl+C stops it).
PORT ?= 8050
explore: $(STAMP)
	$(PY) -m experiments explore --port $(PORT)

# JupyterLab on the notebooks, with the project's kernel (the .venv Python), on
# http://127.0.0.1:$(LAB_PORT)/ (open the URL with the token it prints; no browser is started, so it
# works headless). Jupyter refuses root without --allow-root: passed only when run as root.
LAB_PORT ?= 8888
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser \
		$(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf results site build artifacts .pytest_cache .ruff_cache .hypothesis
