"""`helm test`: the hook Pod that checks the installed api-server's health endpoint, and its
check run for real against an HTTP server answering as the api-server would."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.chart.render import FULLNAME, NAMESPACE, render_chart

pytestmark = pytest.mark.chart

TEMPLATE = "templates/tests/api-server-health-pod.yaml"
HEALTHY = {
    "metadatabase": {"status": "healthy"},
    "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-01-01T00:00:00+00:00"},
    "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": "2026-01-01T00:00:00+00:00"},
    "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": None},
}


def _pod(values: dict | None = None) -> dict[str, Any]:
    docs = render_chart(values, TEMPLATE)
    assert len(docs) == 1
    return docs[0]


def _env(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}


def test_helm_test_pod_asks_the_api_servers_service_for_its_health() -> None:
    """A `helm test` hook Pod, replaced on each run and removed when it passes, calls the
    health endpoint through the api-server's Service, with no token."""
    pod = _pod({"apiServer": {"service": {"port": 9090}}})
    assert pod["metadata"]["name"] == f"{FULLNAME}-test-api-server"
    assert pod["metadata"]["annotations"] == {
        "helm.sh/hook": "test",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
    }
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["automountServiceAccountToken"] is False
    env = _env(pod)
    assert env["AIRFLOW_PLATFORM_HEALTH_URL"] == (
        f"http://{FULLNAME}-api-server.{NAMESPACE}.svc:9090/api/v2/monitor/health"
    )
    assert (
        env["AIRFLOW_PLATFORM_HEALTH_REQUIRE"] == "dag_processor,metadatabase,scheduler,triggerer"
    )


def test_a_component_scaled_to_zero_is_not_required_healthy() -> None:
    """A release that runs no triggerer does not fail its test for the triggerer's absence."""
    env = _env(_pod({"triggerer": {"replicas": 0}}))
    assert env["AIRFLOW_PLATFORM_HEALTH_REQUIRE"] == "dag_processor,metadatabase,scheduler"


class _Health(BaseHTTPRequestHandler):
    answer: dict[str, Any] = HEALTHY

    def do_GET(self) -> None:
        body = json.dumps(self.answer).encode()
        self.send_response(200 if self.path == "/api/v2/monitor/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    """An HTTP server on a loopback port answering /api/v2/monitor/health; stopped after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run_check(server: ThreadingHTTPServer, answer: dict[str, Any]) -> subprocess.CompletedProcess:
    """The rendered container's own command, pointed at the local server."""
    _Health.answer = answer
    pod = _pod()
    container = pod["spec"]["containers"][0]
    env = {
        **os.environ,
        **_env(pod),
        "AIRFLOW_PLATFORM_HEALTH_URL": f"http://127.0.0.1:{server.server_port}/api/v2/monitor/health",
        "AIRFLOW_PLATFORM_HEALTH_TIMEOUT": "0",
    }
    command = ["python3", *container["command"][1:]]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_check_passes_when_every_component_is_healthy(health_server: ThreadingHTTPServer) -> None:
    """The rendered check exits 0 on the answer a healthy Airflow 3 api-server gives."""
    proc = _run_check(health_server, HEALTHY)
    assert proc.returncode == 0, proc.stderr
    assert "healthy: dag_processor, metadatabase, scheduler, triggerer" in proc.stdout


def test_check_fails_naming_the_unhealthy_component(health_server: ThreadingHTTPServer) -> None:
    """A scheduler without heartbeat fails `helm test`, and the message says which one."""
    answer = {**HEALTHY, "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": None}}
    proc = _run_check(health_server, answer)
    assert proc.returncode == 1
    assert "not healthy: {'scheduler': 'unhealthy'}" in proc.stderr


def test_check_fails_when_the_api_server_does_not_answer() -> None:
    """Nothing listening is a failure once the retry time is up, not a hang."""
    pod = _pod()
    env = {
        **os.environ,
        **_env(pod),
        "AIRFLOW_PLATFORM_HEALTH_URL": "http://127.0.0.1:9/api/v2/monitor/health",
        "AIRFLOW_PLATFORM_HEALTH_TIMEOUT": "0",
    }
    command = ["python3", *pod["spec"]["containers"][0]["command"][1:]]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "URLError" in proc.stderr
