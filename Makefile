# kxflow developer and CI entry points. CI (.ci/run) calls exactly `make test`.
# Kafka and FerretDB come from deploy/local/infra.sh (cache: ${KXFLOW_CACHE:-~/.cache/kxflow});
# the pytest fixtures (tests/infra_fixtures.py) start them when a test needs them and stop them at
# session end if they started them. Point tests at existing servers with KAFKA_BOOTSTRAP_SERVERS /
# MONGODB_URL instead. Targets run, demo, bench and drills are defined elsewhere.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export PATH := $(HOME)/.local/bin:$(PATH)
# uv on PATH (incl. ~/.local/bin after `pip install --user uv`), else the pip-installed module.
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
INFRA := deploy/local/infra.sh
# Root installs system packages directly; anyone else through sudo.
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: help ensure-uv sync browser test test-all lint up down status infra-fetch run demo dlq-replay bench drills helm chart chart-lint lint-docker images images-test compose-up

help:
	@echo "make test         sync deps, warm the infra cache, run all tests not marked slow"
	@echo "make test-all     same, including slow tests"
	@echo "make lint         ruff check + ruff format --check"
	@echo "make up|down|status   local Kafka + FerretDB (deploy/local/infra.sh)"
	@echo "make infra-fetch  only download/build Kafka jars and FerretDB into the cache"
	@echo "make run          the whole system locally (Kafka, FerretDB, sandboxes, gateways, router); Ctrl-C stops it"
	@echo "make demo         against a running system: connect Kartra + Xero, apply the example zap, sell, print the run"
	@echo "make dlq-replay TOPIC=<topic>.dlq [ARGS=--dry-run]   republish dead letters to their original topic"
	@echo "make bench        the benchmark table (starts what it needs); ARGS=--update-docs rewrites docs/performance.md"
	@echo "make drills       the fault drills, full form (the short form runs in make test)"
	@echo "make helm         build helm into the cache; make chart / chart-lint render and lint the Helm chart"
	@echo "make lint-docker  hadolint every Dockerfile"
	@echo "make images       build the four images with podman, export OCI archives + SBOMs, report size and /readyz time"
	@echo "make images-test  run the system from the images: non-root, read-only, demo, SIGTERM under traffic"

ensure-uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv
	@$(UV) --version

sync: ensure-uv
	$(UV) sync --all-packages --frozen

infra-fetch:
	$(INFRA) fetch

# The console's browser tests drive Debian's chromium (Playwright with executable_path; no browser
# download). Installed once when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the console's browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium; }

test: sync infra-fetch browser
	$(UV) run pytest -m "not slow" $(PYTEST_ARGS)

test-all: sync infra-fetch browser
	$(UV) run pytest $(PYTEST_ARGS)

lint: sync
	$(UV) run ruff check . && $(UV) run ruff format --check .

up:
	$(INFRA) up

down:
	$(INFRA) down

status:
	$(INFRA) status

run: sync
	$(UV) run python deploy/local/run.py

demo: sync
	$(UV) run python deploy/local/demo.py

dlq-replay: sync
	$(UV) run python -m kxflow_contracts.runtime.dlq_replay --topic $(TOPIC) $(ARGS)

bench: sync
	$(UV) run python deploy/local/bench.py $(ARGS)

drills: sync
	$(UV) run pytest tests/drills -m "slow or not slow" -q -s $(PYTEST_ARGS)

helm:
	deploy/local/helm.sh

chart: helm
	"$$(deploy/local/helm.sh)" template kxflow deploy/helm/kxflow --kube-version 1.33.0

chart-lint: helm
	@for f in deploy/helm/kxflow/ci/*.yaml; do "$$(deploy/local/helm.sh)" lint deploy/helm/kxflow --strict -f "$$f" || exit 1; done

lint-docker: sync
	$(UV) run hadolint deploy/docker/*.Dockerfile

# podman (installed from Debian's packages when missing, as root); base image and build cache in
# $(KXFLOW_CACHE)/images, outside the checkout; OCI archives + SBOMs in dist/images/.
images: sync
	$(UV) run python deploy/local/images.py build $(ARGS)

images-test: sync infra-fetch
	$(UV) run pytest tests/images -q $(PYTEST_ARGS)

compose-up:
	docker compose -f deploy/compose.yaml up --build
