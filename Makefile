# The two commands: `make run` and `make test`. Both set everything up themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
SERVER_PACKAGES := ctserver relay licensing dashboard

# Production-like settings for `check --deploy` (no secrets here are real).
DEPLOY_ENV := CT_SERVER_URL=https://ct.example.com \
	CT_SECRET_KEY=deploy-check-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOP \
	CT_HSTS_SECONDS=31536000 CT_HSTS_INCLUDE_SUBDOMAINS=true CT_HSTS_PRELOAD=true \
	CT_DASHBOARD_USER=operator CT_DASHBOARD_PASSWORD=deploy-check-password

.PHONY: run test lint typecheck migrations-check deploy-check pytest clean

run: $(RUNTIME_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py serve

test: lint typecheck migrations-check deploy-check pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy $(SERVER_PACKAGES) client/ctclient

migrations-check: $(DEV_STAMP)
	CT_DATA_DIR=$$(mktemp -d) $(BIN)/python manage.py makemigrations --check --dry-run

deploy-check: $(DEV_STAMP)
	CT_DATA_DIR=$$(mktemp -d) $(DEPLOY_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING

pytest: $(DEV_STAMP)
	scripts/ensure-test-binaries.sh
	CT_DATA_DIR=$$(mktemp -d) $(BIN)/python -m pytest $(PYTEST_ARGS)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ctserver needs Python 3.11 or newer, found " + sys.version.split()[0])'
	@$(PYTHON) -m venv $(VENV) || { echo "Could not create $(VENV): install Python's venv module (Debian: apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(RUNTIME_STAMP) $@

clean:
	rm -rf $(VENV) staticfiles .mypy_cache .pytest_cache .ruff_cache
