# One set-up path from nothing: installs uv if missing, then syncs the right extra
# (gpu when nvidia-smi works, else cpu) plus the dev tools. Every target below depends on it.
SHELL := /bin/bash
UV_VERSION := 0.13.9
EXTRA ?= $(shell nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# Bytecode is cached under .cache/ even where the environment sets PYTHONDONTWRITEBYTECODE: every
# vLLM worker and CLI subprocess of the tests would otherwise recompile torch/vllm/transformers (~15 s each).
RUN := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/.cache/pycache $(UV) run --no-sync

.PHONY: setup demo test lint bench help

help:
	@echo "make demo   - the paper's experiment in miniature on synthetic data (offline)"
	@echo "make test   - lint, type-check and the full test suite (real engines on tiny models)"
	@echo "make bench  - every benchmark in bench/ -> bench/RESULTS.md and the README's figures"

setup: .venv/.synced-$(EXTRA)

.venv/.synced-$(EXTRA): pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --extra $(EXTRA) --extra lmms
	@rm -f .venv/.synced-*; touch $@

demo: setup
	$(RUN) vrft demo

lint: setup
	$(RUN) ruff check .
	$(RUN) mypy

test: lint
	$(RUN) pytest

# Every benchmark at its documented size -> bench/RESULTS.md (a section per machine) and the README's figures.
# BENCH_ARGS=--with-demo adds the full demo runs; --only NAME ... some benchmarks; --quick smoke sizes (own file).
bench: setup
	$(RUN) python bench/run_all.py $(BENCH_ARGS)
