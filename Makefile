# Developer entry points. `make lint` and `make test` are what CI runs (.ci/run).
PYTHON ?= python3
VENV := .venv
ARGS ?=
PYTEST_ARGS ?=

.PHONY: install run test-servers test lint demo screenshots

# A third-party plug-in package for the tests: it must load like anyone else's (entry points, no code here).
EXAMPLE_PLUGIN := tests/data/certify-tui-example-plugin

# The venv is (re)installed whenever pyproject.toml changes (our plug-ins are entry points declared there);
# the stamp records the last install.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(EXAMPLE_PLUGIN)/pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -e '.[dev]' -e $(EXAMPLE_PLUGIN)
	touch $@

.venv: $(VENV)/.installed

install: $(VENV)/.installed

run: install
	$(VENV)/bin/certify-tui $(ARGS)

# Pebble + challtestsrv into .cache/pebble/ (the script is a no-op once done).
test-servers:
	scripts/fetch-test-servers.sh
	scripts/install-test-packages.sh

test: install test-servers
	$(VENV)/bin/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# ruff, then mypy (strict; configured in pyproject.toml) over certify_tui/.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# A local Pebble CA, a sandbox account and an example certificate, then the TUI (ARGS="--data-dir DIR" keeps the data).
demo: install test-servers
	$(VENV)/bin/python scripts/demo.py $(ARGS)

# SVG screenshots of the main screens (seeded data, frozen clock) into screenshots/.
screenshots: install
	$(VENV)/bin/python scripts/screenshots.py $(ARGS)
