# The two commands: `make run` and `make test`. Both set everything up themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
SERVER_PACKAGES := ctserver relay licensing dashboard sso

# Production-like settings for `check --deploy` (no secrets here are real).
DEPLOY_ENV := CT_SERVER_URL=https://ct.example.com \
	CT_SECRET_KEY=deploy-check-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOP \
	CT_HSTS_SECONDS=31536000 CT_HSTS_INCLUDE_SUBDOMAINS=true CT_HSTS_PRELOAD=true \
	CT_DASHBOARD_USER=operator CT_DASHBOARD_PASSWORD=deploy-check-password

DEV_PORT ?= 8000
# Test processes: the suite mostly waits on real servers, so more than the cores.
TEST_WORKERS ?= 3

.PHONY: run dev test lint typecheck migrations-check deploy-check pytest web-test vscode-test clean

run: $(RUNTIME_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py serve

# The development server: daphne with autoreload on plain HTTP, debug pages on.
dev: $(DEV_STAMP)
	$(BIN)/python manage.py migrate --noinput
	CT_SERVER_URL=$${CT_SERVER_URL:-http://localhost:$(DEV_PORT)} CT_DEBUG=$${CT_DEBUG:-true} \
		$(BIN)/python manage.py runserver localhost:$(DEV_PORT)

test: lint typecheck migrations-check deploy-check pytest web-test vscode-test

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy $(SERVER_PACKAGES) clients/python/ctclient tests bench

migrations-check: $(DEV_STAMP)
	CT_DATA_DIR=$$(mktemp -d) $(BIN)/python manage.py makemigrations --check --dry-run

deploy-check: $(DEV_STAMP)
	CT_DATA_DIR=$$(mktemp -d) $(DEPLOY_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING

pytest: $(DEV_STAMP)
	scripts/ensure-test-binaries.sh
	scripts/ensure-test-statsd.sh >/dev/null
	scripts/client-wheelhouse.sh >/dev/null
	scripts/ensure-code-server.sh >/dev/null
	# Exit status 5 is "no test selected" (PYTEST_ARGS may pick only one kind).
	CT_DATA_DIR=$$(mktemp -d) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal \
		-m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	CT_DATA_DIR=$$(mktemp -d) $(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The TypeScript client's tests (clients/web); npm's cache stays outside the repository.
# The browser page's bundle is committed in static/web/: a fresh build must match it.
web-test:
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null || { echo "make web-test needs Node.js 20 or newer and npm"; exit 1; }
	cd clients/web && npm_config_cache=$${XDG_CACHE_HOME:-$$HOME/.cache}/ctserver-tests/npm npm ci --no-audit --no-fund --prefer-offline
	cd clients/web && npm test
	@out=$$(mktemp -d) && CT_BUILD_QUIET=1 node clients/web/build.mjs $$out/web && diff -r $$out/web static/web; \
	  status=$$?; rm -rf $$out; [ $$status -eq 0 ] || { echo "static/web/ differs from a fresh build: run 'npm run build' in clients/web and commit static/web/"; exit 1; }

# The VS Code extension's tests (clients/vscode, on the web client's core); the
# .vsix the server offers is committed: a fresh package must hold the same files.
vscode-test:
	cd clients/vscode && npm_config_cache=$${XDG_CACHE_HOME:-$$HOME/.cache}/ctserver-tests/npm npm ci --no-audit --no-fund --prefer-offline
	cd clients/vscode && npm test
	cd clients/vscode && node check-package.mjs

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
