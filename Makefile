# The two commands of the README. Everything the project needs is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
#: Debian's Chromium, driven headless by the browser tests (tests/e2e/test_portal_browser.py).
CHROMIUM := /usr/bin/chromium
#: Debian's docker-compose 1.29: parses and validates docker-compose.yml without a container engine (tests/static).
COMPOSE := /usr/bin/docker-compose
#: Debian's kubectl (package kubernetes-client): `kubectl kustomize` renders the overlays of deploy/k8s (tests/static).
KUBECTL := /usr/bin/kubectl

.PHONY: run test bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dev,bench]"
	touch $(STAMP)

## make lock: requirements.lock (what the image installs) from pyproject.toml's runtime dependencies
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--generate-hashes --custom-compile-command "make lock" -o requirements.lock

# Installed once when missing (a fresh machine, CI); needs root, as the project's set-up runs here.
$(CHROMIUM):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

$(COMPOSE):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker-compose

$(KUBECTL):
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y kubernetes-client

## make run: the whole system on the embedded broker, gateway on http://127.0.0.1:8080 (Ctrl-C stops it)
run: $(STAMP)
	$(BIN)/passerelle up

## make test: the whole suite (unit, contract, integration, end-to-end) on its own broker
test: $(STAMP) $(CHROMIUM) $(COMPOSE) $(KUBECTL)
	$(BIN)/python -m pytest

## make bench: the whole flow against the raw broker hop and translation alone (passerelle bench, docs/performance.md), then cost of one hop (faust agent vs aiokafka relay, docs/adr/0003), whole-flow latency, audit store throughput, translation speed
bench: $(STAMP)
	$(BIN)/passerelle bench --json bench.json
	$(BIN)/python -m benchmarks.hop_cost
	$(BIN)/python -m benchmarks.flow_latency
	$(BIN)/python -m benchmarks.audit_store
	$(BIN)/python -m benchmarks.translation
	$(BIN)/python -m benchmarks.prescription
	$(BIN)/python -m benchmarks.gateway_outcomes

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts
