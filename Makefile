# Two commands: `make run` (a working service on http://127.0.0.1:5000) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
# In development new-lead notifications go here until coach accounts exist (see README).
export COACH_NOTIFY_EMAILS ?= coaches@example.org

.PHONY: install run worker test test-postgres lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

instance/booking.sqlite3: install
	$(BIN)/flask db upgrade

run: install
	$(BIN)/flask db upgrade
	@echo "Mail is written to instance/mail/ (no MAIL_SERVER set). Open http://127.0.0.1:5000"
	@trap 'kill 0' EXIT INT TERM; \
	  $(BIN)/flask outbox work --poll 2 & \
	  $(BIN)/flask run --host 127.0.0.1 --port 5000 --debug

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	  REQUIRE_POSTGRES=1 $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff format --check booking tests bench migrations wsgi.py
	$(BIN)/ruff check booking tests bench
	$(BIN)/mypy booking

bench: install
	$(BIN)/python -m bench.lead_list

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
