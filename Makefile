# Cradle — every target sets up what it needs on first use (a virtualenv under .venv).
# `make demo` and `make test` are the two commands a newcomer needs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
EXTRAS := cli,local,inference,datasets,infra,dev
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
SRC_DIRS := layers/core/python/cradlepose functions containers infra tests bench
# only the folders that hold Python (mypy refuses an empty one)
SRC = $(foreach d,$(SRC_DIRS),$(if $(shell find $(d) -name '*.py' -print -quit 2>/dev/null),$(d)))

.PHONY: help install demo test lint format typecheck unit integration e2e clean lock openapi fuzz

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check -c $(CONSTRAINTS) -e '.[$(EXTRAS)]'
	@touch $@

install: $(STAMP)  ## create .venv and install Cradle with every extra (pinned)

demo: $(STAMP)  ## run Cradle's main job end to end on this machine
	$(BIN)/cradle demo

test: $(STAMP) lint  ## lint, type-check and run the whole test suite
	$(BIN)/pytest

unit: $(STAMP)  ## only the unit tests
	$(BIN)/pytest -m unit

integration: $(STAMP)  ## only the integration tests
	$(BIN)/pytest -m integration

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy $(SRC)

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(SRC)
	$(BIN)/ruff format $(SRC)

fuzz: $(STAMP)  ## schemathesis against the local API, long run (FUZZ_EXAMPLES per operation)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-150} $(BIN)/pytest tests/fuzz -p no:cacheprovider

openapi: $(STAMP)  ## regenerate docs/openapi.json from the API's routes
	PYTHONPATH=functions $(PY) -m api.openapi > docs/openapi.json

lock: $(STAMP)  ## re-pin requirements/constraints.txt from the current venv
	$(PY) -m pip freeze --exclude-editable | grep -v '^cradlepose' > $(CONSTRAINTS)

clean:  ## remove the venv, caches and local state
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis cdk.out .cradle
