"""JobOperator runs against the real control plane (kwok as the kubelet, see
tests/airflow/test_job_operator_cluster.py) push their outcome and capacity wait, read from
the final pod, to a real Pushgateway scraped by a real Prometheus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.airflow.test_job_operator_cluster import _run, _write_job, annotate_pods, kube_backend
from tests.harness.kube import FAIL_EXIT_CODE, FAIL_REASON
from tests.observability.servers import prometheus, pushgateway, query, wait_for

__all__ = ["annotate_pods", "kube_backend"]
pytestmark = [pytest.mark.airflow, pytest.mark.cluster, pytest.mark.observability]


def test_cluster_runs_push_outcome_and_capacity_wait_from_the_pod(
    kube_backend: Any,
    jobs_dir: Path,
    annotate_pods: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pod kwok completes counts as success, one it ends OOMKilled as outcome `oom`; both
    record a capacity wait (pod creation to container start) and the flavor's requests. kwok
    prints no log, so no usage line: peak memory is absent rather than made up."""
    with (
        pushgateway(tmp_path / "pgw") as gateway,
        prometheus(tmp_path / "prom", gateway.url) as prom,
    ):
        monkeypatch.setenv("AIRFLOW_PLATFORM_PUSHGATEWAY_URL", gateway.url)
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
            prom, 'airflow_platform_jobs_finished_total{job_name="metrics-oom",outcome="oom"} == 1'
        )
        ok = query(
            prom, 'airflow_platform_jobs_finished_total{job_name="metrics-ok",outcome="success"}'
        )
        assert float(ok[0]["value"][1]) == 1
        waits = query(prom, "airflow_platform_job_capacity_wait_seconds_count")
        assert {s["metric"]["job_name"]: float(s["value"][1]) for s in waits} == {
            "metrics-ok": 1,
            "metrics-oom": 1,
        }
        slow = query(prom, 'airflow_platform_job_capacity_wait_seconds_bucket{le="60"} == 0')
        assert slow == [], "a kwok pod starts within seconds"
        requested = query(
            prom, 'airflow_platform_job_requested_memory_bytes{job_name="metrics-ok"}'
        )
        assert float(requested[0]["value"][1]) == 16 * 2**30
        assert query(prom, "airflow_platform_job_peak_memory_bytes") == []
