# `make run` and `make test` work on a fresh clone: they create .venv and install into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench clean

install: $(VENV)/.installed web/node_modules/.package-lock.json

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The browser UI's packages (web/package-lock.json), served by vigil itself; npm writes the marker.
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

run: install
	$(BIN)/vigil serve

lint: install
	$(BIN)/ruff check src tests bench

test: install lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) vigil-data
