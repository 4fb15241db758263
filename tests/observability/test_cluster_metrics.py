"""JobOperator runs against the real control plane (kwok as the kubelet, see
tests/airflow/test_job_operator_cluster.py) send their failure reason and capacity wait, read
from the final pod, through Airflow's StatsD to the chart's statsd-exporter, which a real
Prometheus scrapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.airflow.test_job_operator_cluster import _run, _write_job, annotate_pods, kube_backend
from tests.harness.kube import FAIL_EXIT_CODE, FAIL_REASON
from tests.observability.servers import Server, query, wait_for

__all__ = ["annotate_pods", "kube_backend"]
pytestmark = [pytest.mark.airflow, pytest.mark.cluster, pytest.mark.observability]


def test_cluster_runs_send_failure_reason_and_capacity_wait_from_the_pod(
    kube_backend: Any,
    jobs_dir: Path,
    annotate_pods: dict[str, str],
    metrics: Server,
) -> None:
    """A pod kwok completes counts no failure and its last run as a success; one it ends
    OOMKilled counts a failure with reason `oom`; both record a capacity wait (pod creation to
    container start) and the flavor's requests. kwok prints no log, so no usage line: peak
    memory is absent rather than made up."""
    _write_job(jobs_dir, "metrics-ok", flavor="cpu-16gb")
    run, _ = _run("metrics-ok")
    assert run.state == "success"
    annotate_pods.update(
        {
            FAIL_EXIT_CODE: "137",
            FAIL_REASON: "OOMKilled",
        }
    )
    _write_job(jobs_dir, "metrics-oom", flavor="cpu-2gb")
    run, _ = _run("metrics-oom")
    assert run.state == "failed"

    wait_for(
        metrics, 'airflow_platform_job_failures_total{job_name="metrics-oom",reason="oom"} == 1'
    )
    ok = query(metrics, 'sum(airflow_platform_job_failures_total{job_name="metrics-ok"})')
    assert float(ok[0]["value"][1]) == 0
    last = query(metrics, 'airflow_platform_job_last_run_failed{job_name="metrics-ok"}')
    assert float(last[0]["value"][1]) == 0
    waits = query(metrics, "airflow_platform_job_capacity_wait_seconds_count")
    assert {s["metric"]["job_name"]: float(s["value"][1]) for s in waits} == {
        "metrics-ok": 1,
        "metrics-oom": 1,
    }
    slow = query(metrics, 'airflow_platform_job_capacity_wait_seconds_bucket{le="60"} == 0')
    assert slow == [], "a kwok pod starts within seconds"
    requested = query(metrics, 'airflow_platform_job_requested_memory_bytes{job_name="metrics-ok"}')
    assert float(requested[0]["value"][1]) == 16 * 2**30
    assert query(metrics, "airflow_platform_job_peak_memory_bytes") == []
