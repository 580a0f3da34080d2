# PHR Exchange developer loop. Two commands on a fresh machine: `make run`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv if it is on PATH; otherwise the uv that `setup` installs with pip (python3 -m uv
# works wherever pip put it, user site or not, PATH or not).
UV := $(shell uv --version >/dev/null 2>&1 && echo uv || echo python3 -m uv)
STACK := $(UV) run --frozen python -m deploy.local

.PHONY: help setup web browser run up down status backup restore from-capture docs test fast e2e lint fmt snapshots demo bench bench-crypto bench-ledger

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

.venv/.synced: uv.lock pyproject.toml shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --user --quiet uv
	$(UV) sync --all-packages --frozen
	@touch $@

WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/build.mjs

web/node_modules/.synced: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

# The patient's page, bundled by esbuild (the exact version of package-lock.json) into
# web/dist: built, never committed; owner-api serves it at / (deploy.local tells it).
web/dist/index.html: web/node_modules/.synced $(WEB_SOURCES)
	cd web && node build.mjs

# Debian's chromium and chromedriver for the browser tests (apt, as root; CI is root).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	    else echo "the browser tests need chromium and chromium-driver: sudo apt-get install chromium chromium-driver"; fi; }

web: web/dist/index.html  ## build the patient's web page into web/dist

setup: .venv/.synced web/node_modules/.synced web/dist/index.html browser  ## install uv (if missing), every package of the workspace, the page's npm packages and its build, chromium

run: setup  ## start the servers and the six services on 127.0.0.1, wait until ready
	$(STACK) up
	$(UV) run --frozen python -m phr.gateway.demo up
	@echo
	@echo "PHR Exchange is running. See the whole story:  $(UV) run phr demo   (or: make demo)"
	@echo "The operator's identity:  PHR_HOME=.local/operator $(UV) run phr whoami"
	@echo "Hospital systems:         docs/gateway.md (the demo hospital's gateway, above)"
	@echo "Stop it with:             make down"

up: run

demo: setup  ## on a running system: hospital, doctor, nurse, insurer, patient — the whole story
	$(UV) run --frozen phr demo

down: setup  ## stop what `make run` started
	-$(UV) run --frozen python -m phr.gateway.demo down
	$(STACK) down

status: setup  ## what runs where
	$(STACK) status

backup: setup  ## back up the running `make run` stack: make backup DIR=/path/to/new/dir
	@test -n "$(DIR)" || { echo "make backup DIR=/path/to/new/dir"; exit 2; }
	$(STACK) backup "$(DIR)"

restore: setup  ## restore a backup into a fresh stack and start it: make restore DIR=...
	@test -n "$(DIR)" || { echo "make restore DIR=/path/to/backup (PHR_STACK_DIR=fresh dir)"; exit 2; }
	$(STACK) restore "$(DIR)"

from-capture: setup  ## a fresh stack from a capture: make from-capture CAPTURE=cap.ndjson SECRETS=<backup>/secrets
	$(STACK) from-capture "$(CAPTURE)" --secrets "$(SECRETS)" --trust-capture $(if $(OPERATOR),--operator "$(OPERATOR)")

test: setup  ## every test tier; starts its own servers on its own ports and data dir
	$(UV) run --frozen pytest

fast: setup  ## the tiers that need no servers
	$(UV) run --frozen pytest -m "not e2e"

e2e: setup  ## only the end-to-end tier
	$(UV) run --frozen pytest -m e2e

lint: setup  ## ruff, formatting, mypy --strict, import contracts
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

fmt: setup  ## format and fix what ruff can
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

docs: setup  ## rewrite the generated parts of docs/operations.md (settings, resource figures)
	$(UV) run --frozen python deploy/settings_doc.py

snapshots: setup  ## rewrite the event schema snapshots and docs/asyncapi.json after an intended change
	PHR_UPDATE_SNAPSHOTS=1 $(UV) run --frozen pytest -q shared/tests/events/test_schemas.py

bench: setup  ## the system benchmark (JSON report in bench/results/latest.json)
	$(UV) run --frozen python bench/system.py --start --dev

bench-crypto: setup  ## client-side crypto throughput (JSON)
	$(UV) run --frozen python bench/crypto.py

bench-ledger: setup  ## ledger ingest and proof figures (JSON)
	$(UV) run --frozen python bench/ledger_ingest.py
