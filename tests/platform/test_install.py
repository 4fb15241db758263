"""The chart installed on the real node, used the way a platform team and a scientist would.

Every pod of the release really runs: the platform image (Airflow 3.3.2 and this package), the
embedded PostgreSQL and statsd-exporter images built from images/, the KubernetesExecutor's
worker pods and the job pods they launch, on the real kubelet; Services through kube-proxy and
CoreDNS; the api-server reached by `kubectl port-forward`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.platform.release import Release

pytestmark = pytest.mark.platform
ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "airflow-platform"
NODE_CONFIG = ROOT / "tests" / "data" / "node" / "platform.yaml"


def test_every_component_runs_on_the_real_node(platform_release: Release, core_v1: Any) -> None:
    """api-server, scheduler, dag-processor, triggerer, PostgreSQL and statsd-exporter are
    Ready, each on the real node."""
    pods = core_v1.list_namespaced_pod(platform_release.namespace).items
    running = {
        p.metadata.labels.get("app.kubernetes.io/component"): p.spec.node_name
        for p in pods
        if p.status.phase == "Running"
    }
    print(f"\nrelease Ready {platform_release.ready_seconds:.0f} s after helm install started")
    for component in ("api-server", "scheduler", "dag-processor", "triggerer", "postgresql"):
        assert running.get(component) == platform_release.node.name, running


def test_api_server_refuses_a_call_without_credentials(platform_release: Release) -> None:
    url = platform_release.api_url()
    response = httpx.get(f"{url}/api/v2/dags", timeout=30)
    assert response.status_code == 401


def test_submit_wait_runs_the_job_on_the_cluster_and_streams_its_log(
    platform_release: Release, core_v1: Any
) -> None:
    """`airflow-platform submit --wait` against the installed api-server: the scheduler's
    KubernetesExecutor starts a worker pod, its JobOperator starts the job pod in the team's
    namespace, the log streams back and the command exits 0; both pods are gone afterwards."""
    url = platform_release.api_url()
    env = {
        **os.environ,
        "AIRFLOW_PLATFORM_API_URL": url,
        "AIRFLOW_PLATFORM_API_USERNAME": "admin",
        "AIRFLOW_PLATFORM_API_PASSWORD": platform_release.ui_password(),
    }
    result = subprocess.run(
        [str(CLI), "submit", "--config", str(NODE_CONFIG), "--wait",
         str(ROOT / "tests" / "data" / "node" / "jobs" / "vision" / "hello.yaml")],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "hello from" in result.stdout
    leftovers = [
        p.metadata.name
        for ns in (platform_release.jobs_namespace, platform_release.team_namespace("vision"))
        for p in core_v1.list_namespaced_pod(ns).items
        if p.metadata.deletion_timestamp is None
    ]
    assert leftovers == [], f"pods left after the run: {leftovers}"
