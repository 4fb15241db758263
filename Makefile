# Every target creates .venv and installs the pinned dependencies it needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv tools system-packages images demo test test-unit test-chart test-cluster test-node test-airflow test-e2e test-kueue lint bench cluster docs clean

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.8
	$(VENV)/bin/uv pip sync --quiet --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# Builds helm, etcd, kwok and the Kubernetes control plane from the Go module proxy into a
# cache outside the checkout (see CONTRIBUTING.md); seconds when the cache is warm.
tools:
	bash scripts/install-tools.sh

# Real Prometheus, Pushgateway, Alertmanager and MIT Kerberos, and the real node's containerd,
# runc, CNI plugins and image tools, from Debian, pinned (scripts/system-packages.txt); their
# services are not started.
system-packages:
	bash scripts/install-system-packages.sh

# Builds every image of skaffold.yaml from images/ without a registry (buildah, a Debian 12
# base layer made here), cached by a hash of their inputs; the real test node imports them.
images: $(STAMP) tools system-packages
	$(PY) scripts/build-images.py

demo: $(STAMP)
	$(PY) scripts/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy airflow_platform

test: $(STAMP) tools system-packages images lint
	$(VENV)/bin/pytest tests

test-unit: $(STAMP)
	$(VENV)/bin/pytest -m unit tests
test-chart: $(STAMP) tools
	$(VENV)/bin/pytest -m chart tests
test-cluster: $(STAMP) tools
	$(VENV)/bin/pytest -m cluster tests
test-node: $(STAMP) tools system-packages images
	$(VENV)/bin/pytest -m node tests
test-airflow: $(STAMP) tools
	$(VENV)/bin/pytest -m airflow tests
test-e2e: $(STAMP) tools
	$(VENV)/bin/pytest -m e2e tests
# The real Kueue controller manager on the test control plane (docs/kueue.md).
test-kueue: $(STAMP) tools
	$(VENV)/bin/pytest -m kueue tests

bench: $(STAMP) tools
	$(PY) benchmarks/run.py

# Starts the mixed cluster (control plane, kwok nodes, one real node with every image) and
# prints its kubeconfig and images; Ctrl-C stops it.
cluster: $(STAMP) tools system-packages images
	$(PY) -m tests.harness.cluster

# Regenerates the docs that come from the models and the chart's values (tests fail while
# they are stale).
docs: $(STAMP)
	$(PY) -m airflow_platform.reference > docs/reference.md
	AIRFLOW_PLATFORM_CONFIG= $(VENV)/bin/airflow-platform schema > docs/spec.schema.json
	$(PY) scripts/chart-values-reference.py
	$(PY) -m airflow_platform.admission > charts/airflow-platform/files/admission-policy.yaml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
