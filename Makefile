# The two commands a newcomer needs: `make dev` and `make test`.
# Both create .venv and install the pinned lock on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# checkov lives in its own environment (tools/scan/checkov.lock): its pins must not move the app's.
SCAN_VENV  := $(VENV)/checkov
SCAN_STAMP := $(SCAN_VENV)/.installed
# schemathesis too (tools/fuzz/schemathesis.lock): tests/e2e/test_schemathesis.py runs it against the local suite.
FUZZ_VENV  := $(VENV)/fuzz
FUZZ_STAMP := $(FUZZ_VENV)/.installed
# and PhonePe's official SDK (tools/phonepe_sdk/requirements.lock), driven against our simulator by a test.
SDK_VENV   := $(VENV)/phonepe-sdk
SDK_STAMP  := $(SDK_VENV)/.installed
# axe-core for the browser journey (tests/browser/package-lock.json), installed by npm ci; Chromium is the system's.
AXE_DIR    := tests/browser
AXE_STAMP  := $(AXE_DIR)/node_modules/.installed
# and the TypeScript client's node_modules (clients/typescript/package-lock.json, `npm ci` only); the stamp
# holds the lockfile's sha256, which tests/e2e/test_typescript_client.py checks before building with tsc.
TS_CLIENT := clients/typescript
TS_STAMP  := $(TS_CLIENT)/node_modules/.installed

.PHONY: dev test test-fast bench lint scan typecheck build lock requirements check-env migrate clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -c 'import site, os; open(os.path.join(site.getsitepackages()[0], "bcm_repo.pth"), "w").write(os.getcwd() + "\n")'
	@touch $(STAMP)

venv: $(STAMP)

$(SCAN_STAMP): tools/scan/checkov.lock $(STAMP)
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/scan/checkov.lock
	@touch $(SCAN_STAMP)

$(FUZZ_STAMP): tools/fuzz/schemathesis.lock $(STAMP)
	@test -x $(FUZZ_VENV)/bin/python || $(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/fuzz/schemathesis.lock
	@touch $(FUZZ_STAMP)

$(SDK_STAMP): tools/phonepe_sdk/requirements.lock $(STAMP)
	@test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/phonepe_sdk/requirements.lock
	@touch $(SDK_STAMP)

$(AXE_STAMP): $(AXE_DIR)/package-lock.json $(AXE_DIR)/package.json
	cd $(AXE_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(AXE_STAMP)

$(TS_STAMP): $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund
	sha256sum $(TS_CLIENT)/package-lock.json | cut -d' ' -f1 > $(TS_STAMP)

## dev: the whole system locally (Postgres, Valkey, Firestore, Storage, tasks, every function) on :8080
dev: $(STAMP)
	$(PY) -m devtools dev

## test: lint, types, the Terraform security scan, then unit + integration + function + e2e + browser tests against real local services
test: $(STAMP) $(SCAN_STAMP) $(FUZZ_STAMP) $(SDK_STAMP) $(AXE_STAMP) $(TS_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) tools/tfschema.py
	$(MAKE) --no-print-directory scan
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest tests/unit -q --no-cov

bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP) $(TS_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) tools/openapi.py --check
	cd $(TS_CLIENT) && node scripts/generate.mjs --check
	$(PY) -m lib.domain.steps --check
	$(PY) tools/requirements.py --check
	$(PY) tools/dependencies.py --check
	$(PY) tools/tfcheck.py
	$(PY) tools/tfschema.py
	$(MAKE) --no-print-directory scan

## scan: static security scan of infra/terraform (offline; accepted findings carry a checkov:skip comment saying why)
scan: $(SCAN_STAMP)
	$(SCAN_VENV)/bin/checkov --directory infra/terraform --framework terraform --quiet --compact --skip-download

## build: stage each function (main.py + lib/ + pinned requirements.txt) under build/
build: $(STAMP)
	$(PY) tools/requirements.py --check
	$(PY) tools/stage.py

## lock: re-resolve requirements.lock from pyproject.toml, then regenerate per-function requirements
lock:
	$(PY) -m uv pip compile pyproject.toml --extra local --extra dev -o requirements.lock --python-version 3.11 --no-header --quiet
	$(PY) tools/requirements.py
	$(PY) tools/dependencies.py
	$(PY) -m uv pip compile tools/scan/checkov.in -o tools/scan/checkov.lock --python-version 3.11 --no-header --quiet
	$(PY) -m uv pip compile tools/fuzz/schemathesis.in -o tools/fuzz/schemathesis.lock --python-version 3.11 --no-header --quiet
	$(PY) -m uv pip compile tools/phonepe_sdk/requirements.in -o tools/phonepe_sdk/requirements.lock --python-version 3.11 --no-header --quiet
	cd $(AXE_DIR) && npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error

requirements: $(STAMP)
	$(PY) tools/requirements.py

## check-env: validate settings and probe every service (CHECK_ENV_FLAGS="--env-file .deployed.env --skip redis" for a deployed one)
check-env: $(STAMP)
	$(PY) -m devtools check-env $(CHECK_ENV_FLAGS)

## migrate: apply supabase/migrations to DATABASE_URL (MIGRATE_FLAGS=--no-shim on Supabase)
migrate: $(STAMP)
	$(PY) -m devtools migrate $(MIGRATE_FLAGS)

clean:
	rm -rf build $(TS_CLIENT)/dist .pytest_cache .mypy_cache .ruff_cache .coverage coverage.xml
