# collabcache: every target installs what it needs (uv, then the locked environment).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
# `make run` writes the URLs of the servers it uses (embedded ones included) here while it runs.
-include .run/stack.env
export

.PHONY: help install run test test-fast test-unit test-integration lint fmt seed token warm up down docker-ready migrate asyncapi client bench bench-full bench-report dashboard-fake

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(UV):
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --user --quiet uv

.venv/.synced: $(UV) pyproject.toml uv.lock shared/pyproject.toml services/api/pyproject.toml services/invalidator/pyproject.toml services/metrics/pyproject.toml
	@# Compiled to bytecode, our sources too: a process then starts without compiling its
	@# imports, even where PYTHONDONTWRITEBYTECODE is set (README, "Two commands").
	$(UV) sync --frozen --compile-bytecode
	$(RUN) python -m compileall -q -j 0 shared services bench scripts >/dev/null
	@touch $@

install: .venv/.synced ## install the locked environment

run: .venv/.synced ## migrate, seed if empty, start every service (Ctrl-C stops all)
	$(RUN) python scripts/devstack.py

# Most tests share the cores (each xdist worker has its own database and key prefix); those
# marked `alone` (timings, faults, whole stacks: tests/conftest.py) then run one at a time.
# TEST_WORKERS=0 runs the first part in one process too.
TEST_WORKERS ?= auto

test: .venv/.synced ## the whole suite, fast tiers first (README, "Tests")
	$(RUN) pytest -n $(TEST_WORKERS) --dist loadfile -m "not alone"
	$(RUN) pytest -m alone

test-fast: .venv/.synced ## the unit tier only: no servers, well under a minute
	$(RUN) pytest tests/unit

test-unit: test-fast ## the same as test-fast

test-integration: .venv/.synced ## the integration tier (real PostgreSQL and Redis)
	$(RUN) pytest tests/integration

# The same checks run before each commit with `pre-commit install` (.pre-commit-config.yaml);
# mypy checks the paths `[tool.mypy] files` names in pyproject.toml (sources, tests, bench, scripts).
lint: .venv/.synced ## ruff, mypy and the import contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

fmt: .venv/.synced ## fix what ruff can fix, then format every file
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

migrate: .venv/.synced ## apply the database migrations
	$(RUN) python -m collabcache_api.cli migrate

seed: .venv/.synced ## load the demo dataset (SEED_SCALE=1.0 by default)
	$(RUN) python -m collabcache_api.cli migrate
	$(RUN) python -m collabcache_api.cli seed $(if $(SEED_SCALE),--scale $(SEED_SCALE),)

token: .venv/.synced ## print a bearer token for EMAIL (the last line)
	@test -n "$(EMAIL)" || { echo "usage: make token EMAIL=owner@example.com" >&2; exit 2; }
	@$(RUN) python -m collabcache_api.cli token "$(EMAIL)"

warm: .venv/.synced ## fill the hottest cache entries now (WARM_ARGS="--users 100 --json" ...)
	$(RUN) python -m collabcache_api.cli warm $(WARM_ARGS)

bench: .venv/.synced ## quick run of every benchmark (~20 min): bench/results/bench-<stamp>.json
	$(RUN) python -m bench.run --profile quick

bench-full: .venv/.synced ## every benchmark at full duration (hours): then `make bench-report` renders docs
	$(RUN) python -m bench.run --profile full

bench-report: .venv/.synced ## render docs/benchmarks.md from the newest bench/results/*.json
	$(RUN) python -m bench.report

dashboard-fake: .venv/.synced ## the dashboard with made-up numbers, no stack needed
	$(RUN) python -m tests.e2e.dashboard_fake

asyncapi: .venv/.synced ## regenerate the AsyncAPI documents in docs/asyncapi/ from the apps
	$(RUN) python -m collabcache_invalidator.asyncapi docs/asyncapi/invalidator.yaml

client: .venv/.synced ## regenerate the TypeScript client (clients/typescript) from the API (needs npm)
	$(RUN) python -m collabcache_api.openapi clients/typescript/openapi.json
	cd clients/typescript && npm ci --no-audit --no-fund && npm run generate && npm run check

# Compose interpolates the secrets from deploy/.env for every command, `down` included.
COMPOSE := docker compose --env-file deploy/.env -f deploy/compose.yaml

deploy/.env:
	@echo "deploy/.env is missing: cp deploy/.env.example deploy/.env and fill in its secrets" >&2
	@exit 2

# Before compose is asked anything: is there a Compose plugin, and an engine that answers?
docker-ready: ## check for the Compose plugin and a running Docker engine (make up runs it first)
	@docker compose version >/dev/null 2>&1 || { echo "make up needs Docker with the Compose plugin (\`docker compose version\` fails): https://docs.docker.com/compose/install/" >&2; exit 2; }
	@docker info >/dev/null 2>&1 || { echo "make up needs a running Docker engine (\`docker info\` gets no answer): start Docker, or use \`make run\` (no containers)" >&2; exit 2; }

up: docker-ready deploy/.env ## the whole stack in containers (needs a Docker engine and deploy/.env)
	$(COMPOSE) up --build

down: docker-ready deploy/.env ## stop the containers (the data volumes stay; add -v by hand to drop them)
	$(COMPOSE) down
