# nasbook: two commands do all set-up on a fresh machine.
#   make demo   install into .venv, then run a real architecture search on the bundled digits data
#   make test   install, then every test (notebooks, walkthroughs in FAST mode, pytest, export check, docs site in Chromium)
#   make docs   the docs site in _docs/ (Quarto's nbdev_docs when installed, else tools/build_docs.py: Sphinx)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nasbook-installed
# torch and torchvision: the pair whose torchvision imports on this machine (CUDA build, runs on CPU too)
TORCH := torch==2.14.1 torchvision==0.29.1
DEMO_OUT ?= runs/demo

.PHONY: install browser demo test test-nbs test-walkthroughs test-py check-sync docs bench stress clean help
help:
	@echo "make demo | make test | make docs | make bench | make stress | make clean"

install: $(STAMP)
$(STAMP): settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev,scale]"
	touch $(STAMP)

demo: install
	$(BIN)/nasbook datasets
	$(BIN)/nasbook spline --space resnet-widths --dataset digits --budget 20 --epochs 3 --smoothing loo --executor process --parallel 2 --out $(DEMO_OUT)

check-sync: install
	$(BIN)/python tools/check_sync.py

test-nbs: install
	NASBOOK_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 KINETO_LOG_LEVEL=5 RAY_raylet_start_wait_time_s=300 $(BIN)/nbdev_test --path nbs --n_workers 2

test-walkthroughs: install
	NASBOOK_FAST=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 KINETO_LOG_LEVEL=5 RAY_raylet_start_wait_time_s=300 $(BIN)/nbdev_test --path nas_notebooks --n_workers 2

# headless Chromium (Debian's package) reads the built docs site in tests/test_docs.py: installed when root
browser:
	@command -v chromium >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the docs browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	else echo "headless Chromium is missing and we are not root: install Debian's chromium (apt-get install -y chromium), tests/test_docs.py fails without it" >&2; fi; }

test-py: install browser
	MPLBACKEND=Agg OMP_NUM_THREADS=1 KINETO_LOG_LEVEL=5 $(BIN)/python -m pytest tests -q -n 2 --durations=8

test: install check-sync test-nbs test-walkthroughs test-py

docs: install
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev_docs; \
	else echo "quarto not found: building the site with nbdev's processors and Sphinx (tools/build_docs.py)"; $(BIN)/python tools/build_docs.py; fi

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf _docs _proc runs .pytest_cache

stress: install
	OMP_NUM_THREADS=1 MPLBACKEND=Agg KINETO_LOG_LEVEL=5 $(BIN)/python tools/kill_campaign.py --kills 20 --report BENCHMARKS.md
