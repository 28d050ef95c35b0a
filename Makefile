# Two commands: `make run` (a working service on http://127.0.0.1:5000) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
# In development new-lead notifications go here until coach accounts exist (see README).
export COACH_NOTIFY_EMAILS ?= coaches@example.org

# Exact versions (with hashes) of everything installed: requirements/runtime.txt for `make run`,
# requirements/test.txt (runtime + the test extra) for `make test` and CI. `make lock` rebuilds
# both from pyproject.toml.
RUNTIME_LOCK := requirements/runtime.txt
TEST_LOCK := requirements/test.txt
UV_VERSION := 0.13.8
LOCK_PYTHON := 3.11
# Branch coverage of booking/ (lines and branches, slipcover; settings in pyproject.toml) was
# 94.6% on 2026-12-01: fail below 93. The report is written to .coverage.json, then read back to
# print the table of what is missed and to apply the floor.
COVERAGE_FLOOR := 93
COVERAGE_JSON := .coverage.json

# Some machines (CI among them) set this; then every run recompiles the package and re-rewrites
# every test module's asserts (~5 s of CPU before the first test). Caches go to __pycache__/.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install install-test run worker test test-fast test-postgres lint lock hooks bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: $(RUNTIME_LOCK) pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --require-hashes -r $(RUNTIME_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test: $(TEST_LOCK) $(VENV)/.runtime
	$(BIN)/pip install --quiet --require-hashes -r $(TEST_LOCK)
	touch $@

install: $(VENV)/.runtime

install-test: $(VENV)/.test

instance/booking.sqlite3: install
	$(BIN)/flask db upgrade

run: install
	$(BIN)/flask db upgrade
	@echo "Mail is written to instance/mail/ (no MAIL_SERVER set). Open http://127.0.0.1:5000"
	@trap 'kill 0' EXIT INT TERM; \
	  $(BIN)/flask outbox work --poll 2 & \
	  $(BIN)/flask run --host 127.0.0.1 --port 5000 --debug

# Two test processes where there are two cores or more (pytest-xdist; browser tests all on one
# of them: --dist loadgroup), one otherwise. `make test JOBS=0` runs in this process alone.
JOBS ?= $(shell [ "$$(nproc)" -ge 2 ] && echo 2 || echo 0)

# Everything, with the branch-coverage floor (combined across the processes).
test: install-test
	$(BIN)/python -m slipcover --json --out $(COVERAGE_JSON) \
	  -m pytest -n $(JOBS) --dist loadgroup $(PYTEST_ARGS)
	$(BIN)/python -m slipcover --merge $(COVERAGE_JSON) --out $(COVERAGE_JSON) \
	  --fail-under $(COVERAGE_FLOOR)

# No browser, no slow real-server tests: under a minute, for the edit-test loop.
test-fast: install-test
	$(BIN)/pytest -m "not browser and not slow" $(PYTEST_ARGS)

test-postgres: install-test
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	  REQUIRE_POSTGRES=1 $(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff format --check booking tests bench migrations wsgi.py
	$(BIN)/ruff check booking tests bench
	$(BIN)/mypy booking

# Re-resolve the lock files from pyproject.toml (newest versions its bounds allow).
lock: | $(BIN)/activate
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile pyproject.toml --python-version $(LOCK_PYTHON) --generate-hashes \
	  --upgrade --quiet -o $(RUNTIME_LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version $(LOCK_PYTHON) \
	  --generate-hashes --upgrade --quiet -o $(TEST_LOCK)

# Run ruff and mypy before each commit (.pre-commit-config.yaml).
hooks: install-test
	$(BIN)/pip install --quiet 'pre-commit==4.7.0'
	$(BIN)/pre-commit install

bench: install
	$(BIN)/python -m bench.lead_list
	$(BIN)/python -m bench.slots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(COVERAGE_JSON)
