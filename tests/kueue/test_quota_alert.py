"""The queue-wait alert end to end: the real Kueue's own metrics, scraped by a real Prometheus
the way a cluster's Prometheus must scrape them (HTTPS, a bearer token the API server
authorizes for /metrics), evaluated by the rule the chart renders.

promtool's scenarios (tests/observability/test_alert_rules.py) check the rule's logic on
hand-written series; this checks that those series are the ones Kueue v0.17 exports, so a
rule written against the wrong metric or label names fails here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.spec.models import JobSpec
from tests.chart.render import render_chart
from tests.harness.controlplane import ControlPlane
from tests.harness.kube import KEEP_RUNNING, create_pods
from tests.harness.kueue import Kueue
from tests.kueue.platform import Platform, install
from tests.observability.servers import Server, alerts, prometheus, query, wait_for

pytestmark = [pytest.mark.kueue, pytest.mark.observability]

ROOT = Path(__file__).resolve().parents[2]
ALERT = "TeamJobsWaitingForQuota"
RELEASE = "quota-alert"
TEAM = "vision"
ALERT_AFTER_SECONDS = 20
# One CPU and 2Gi for vision, no borrowing: one cpu-2gb job (1 CPU, 2Gi) runs, the rest wait.
# Namespaces of their own prefix, and a release of its own name (so ClusterQueues and cohort of
# their own), so no other test's queues are touched.
VALUES: dict[str, Any] = {
    "kueue": {"enabled": True, "alertAfter": f"{ALERT_AFTER_SECONDS}s"},
    "platform": {
        "teams": {
            TEAM: {
                "quota": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "0"},
                "borrowing_limit": {"cpu": "0", "memory": "0"},
            }
        },
        "policy": {"jobs_namespace": "kqa-jobs"},
    },
}


@pytest.fixture(scope="module")
def platform(kueue: Kueue, control_plane: ControlPlane) -> Iterator[Platform]:
    with install(control_plane, VALUES, release=RELEASE) as installed:
        yield installed


@pytest.fixture
def scraping_prometheus(kueue: Kueue, tmp_path: Path) -> Iterator[Server]:
    """A real Prometheus scraping the real Kueue every second and evaluating the chart's
    rendered alert rules every second; it is stopped at the end."""
    [configmap] = render_chart(
        VALUES, "templates/monitoring/alert-rules-configmap.yaml", name=RELEASE
    )
    rules = tmp_path / "airflow-platform.rules.yaml"
    rules.write_text(configmap["data"]["airflow-platform.rules.yaml"])
    scrape = kueue.metrics_scrape()
    kueue_job = {
        "job_name": "kueue",
        "scheme": "https",
        "static_configs": [{"targets": [scrape.target]}],
        # Verified against the CA that signed Kueue's certificate, not skipped.
        "tls_config": {"ca_file": str(scrape.ca_file)},
        "authorization": {"credentials_file": str(scrape.token_file)},
    }
    with prometheus(tmp_path / "prom", rules=rules, scrape_configs=[kueue_job]) as server:
        yield server


def _pods(platform: Platform, count: int) -> list[dict[str, Any]]:
    job = JobSpec(
        name=f"{TEAM}-backlog",
        team=TEAM,
        resource_flavor="cpu-2gb",
        docker_image="registry.internal/tests/job:1.0",
        execution_time="10 minutes",
        execution_script="python train.py",
    )
    pods = []
    for i in range(count):
        pod = platform.pod(job, f"backlog-{i}")
        pod["metadata"]["annotations"] = {KEEP_RUNNING: "true"}
        pods.append(pod)
    return pods


def _ours(platform: Platform, server: Server, state: str | None = None) -> list[dict[str, Any]]:
    """The quota alerts of this release's queues (the session's Kueue may hold others)."""
    queues = {d["metadata"]["name"] for d in platform.documents if d["kind"] == "ClusterQueue"}
    return [
        a
        for a in alerts(server)
        if a["labels"]["alertname"] == ALERT
        and a["labels"].get("cluster_queue") in queues
        and (state is None or a["state"] == state)
    ]


def _until(found: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout} s")


def test_a_team_backlog_in_the_real_kueue_fires_the_quota_wait_alert_until_it_drains(
    platform: Platform, scraping_prometheus: Server
) -> None:
    prom = scraping_prometheus
    queue = platform.cluster_queue(TEAM)["metadata"]["name"]
    # Scraped through Kueue's authn/authz filter: a refused token would leave up at 0.
    wait_for(prom, 'up{job="kueue"} == 1', timeout=60)
    wait_for(prom, f'kueue_pending_workloads{{cluster_queue="{queue}"}}', timeout=60)
    assert not _ours(platform, prom), "no alert while the team's queue is empty"

    namespace = platform.config.namespace_of(TEAM)
    create_pods(platform.api_client, namespace, _pods(platform, 3))
    # Kueue's own count: one job admitted on the team's one CPU, two waiting.
    wait_for(prom, f'sum(kueue_pending_workloads{{cluster_queue="{queue}"}}) == 2', timeout=60)
    series = query(prom, f'kueue_pending_workloads{{cluster_queue="{queue}"}}')
    # The labels the rule relies on, as Kueue v0.17 exports them.
    assert {s["metric"]["status"] for s in series} == {"active", "inadmissible"}
    assert {frozenset(s["metric"]) for s in series} == {
        frozenset({"__name__", "cluster_queue", "status", "replica_role", "instance", "job"})
    }

    [firing] = _until(
        lambda: _ours(platform, prom, "firing"),
        timeout=ALERT_AFTER_SECONDS + 60,
        what=f"{ALERT} firing",
    )
    # Pending first, for kueue.alertAfter, before it fired.
    waited = time.time() - datetime.fromisoformat(firing["activeAt"]).timestamp()
    assert waited >= ALERT_AFTER_SECONDS, firing
    assert firing["labels"] == {
        "alertname": ALERT,
        "cluster_queue": queue,
        "team": TEAM,
        "severity": "warning",
    }
    annotations = firing["annotations"]
    assert annotations["summary"].startswith(f"{TEAM}: "), annotations
    assert (
        f"Team {TEAM} (ClusterQueue {queue}) has had 2 or more jobs waiting"
        in annotations["description"]
    ), annotations
    runbook = annotations["runbook_url"]
    assert runbook.endswith(f"/docs/runbooks/{ALERT}.md"), runbook
    assert (ROOT / "docs" / "runbooks" / f"{ALERT}.md").is_file()
    # The release's other teams' queues, empty, stay silent.
    assert [a["labels"]["cluster_queue"] for a in _ours(platform, prom)] == [queue]

    platform.delete_pods(TEAM)
    wait_for(prom, f'sum(kueue_pending_workloads{{cluster_queue="{queue}"}}) == 0', timeout=60)
    _until(lambda: not _ours(platform, prom), timeout=30, what=f"{ALERT} resolved")
