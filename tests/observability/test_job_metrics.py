"""A JobOperator run pushes its metrics to a real Pushgateway that a real Prometheus scrapes;
a dead or hung Pushgateway never changes the task's result."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.servers import hanging_server, prometheus, pushgateway, query, wait_for

pytestmark = [pytest.mark.airflow, pytest.mark.observability]
ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "dags" / "platform_jobs.py"

JOB = {
    "team": "nlp",
    "resource_flavor": "cpu-2gb",
    "docker_image": "registry.internal/nlp/tools:0.3.1",
    "execution_time": "10m",
    "execution_script": 'python -c "b = bytearray(60 * 2**20); print(len(b))"',
}


def _dag(jobs_dir: Path, name: str, **fields: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    path = jobs_dir / "nlp" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"job": {**JOB, **fields}}))
    return DagBag(dag_folder=str(ENTRY)).dags[name]


def test_a_job_run_is_pushed_and_scraped_by_prometheus(
    airflow_db: Path, jobs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two dag.test() runs of a local job (one success, one failure) end up in a real
    Prometheus, scraped from a real Pushgateway: counters add up across the two task
    processes' pushes, outcomes are labelled, peak memory and requests are there, and no
    series carries a run id."""
    with (
        pushgateway(tmp_path / "pgw") as gateway,
        prometheus(tmp_path / "prom", gateway.url) as prom,
    ):
        monkeypatch.setenv("AIRFLOW_PLATFORM_PUSHGATEWAY_URL", gateway.url)
        assert _dag(jobs_dir, "metered").test().state == "success"
        assert _dag(jobs_dir, "metered", execution_script="exit 3").test().state == "failed"

        selector = '{job="airflow_platform", team="nlp", flavor="cpu-2gb", job_name="metered"}'
        wait_for(
            prom, f'airflow_platform_jobs_finished_total{selector[:-1]}, outcome="failed"}} == 1'
        )
        finished = {
            s["metric"]["outcome"]: float(s["value"][1])
            for s in query(prom, f"airflow_platform_jobs_finished_total{selector}")
        }
        assert (finished["success"], finished["failed"]) == (1, 1)
        assert (
            float(query(prom, f"airflow_platform_jobs_started_total{selector}")[0]["value"][1]) == 2
        )
        peak = float(
            query(prom, f"airflow_platform_job_peak_memory_bytes{selector}")[0]["value"][1]
        )
        assert peak > 0
        requested = query(prom, f"airflow_platform_job_requested_memory_bytes{selector}")
        assert float(requested[0]["value"][1]) == 2 * 2**30
        assert (
            float(query(prom, f"airflow_platform_job_last_run_failed{selector}")[0]["value"][1])
            == 1
        )
        count = query(
            prom, f'airflow_platform_job_duration_seconds_count{selector[:-1]}, outcome="success"}}'
        )
        assert float(count[0]["value"][1]) == 1
        wait = query(
            prom, f'airflow_platform_job_capacity_wait_seconds_bucket{selector[:-1]}, le="1"}}'
        )
        assert float(wait[0]["value"][1]) == 2
        labels = {k for s in query(prom, '{job="airflow_platform"}') for k in s["metric"]}
        assert not {"run_id", "try_number", "logical_date"} & labels, labels


def test_a_policy_rejection_is_counted_by_reason(
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dag_test_runs_as_every_team: str,
) -> None:
    """An ad-hoc run whose spec breaks the policy (an image outside the allowed registries)
    fails, and counts one guard rejection labelled with the violation's reason, under the
    fixed job name `adhoc-rejected` (a conf's names are user input)."""
    from airflow.dag_processing.dagbag import DagBag

    runner = DagBag(dag_folder=str(ROOT / "dags" / "platform_job_runner.py")).dags[
        "platform_job_runner"
    ]
    with (
        pushgateway(tmp_path / "pgw") as gateway,
        prometheus(tmp_path / "prom", gateway.url) as prom,
    ):
        monkeypatch.setenv("AIRFLOW_PLATFORM_PUSHGATEWAY_URL", gateway.url)
        conf = {"spec": {"job": {**JOB, "name": "evil", "docker_image": "docker.io/evil:1"}}}
        assert runner.test(run_conf=conf).state == "failed"
        found = wait_for(prom, "airflow_platform_guard_rejections_total")
        assert [
            (s["metric"]["reason"], s["metric"]["team"], s["metric"]["job_name"], s["value"][1])
            for s in found
        ] == [("image_not_allowed", "nlp", "adhoc-rejected", "1")]


def _timed_run(jobs_dir: Path, name: str) -> tuple[str, float]:
    dag = _dag(jobs_dir, name, execution_script="echo ok")
    started = time.monotonic()
    state = dag.test().state
    return state, time.monotonic() - started


@pytest.mark.parametrize("gateway_kind", ["refusing", "hanging"])
def test_a_dead_or_hung_pushgateway_changes_nothing_but_one_warning(
    airflow_db: Path,
    jobs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    gateway_kind: str,
) -> None:
    """With a Pushgateway that refuses connections or accepts and never answers, the task
    still succeeds, takes at most the push timeout (1 s here) longer than with no gateway,
    and the log holds exactly one warning about it."""
    from tests.observability.servers import free_port

    baseline_state, baseline = _timed_run(jobs_dir, "baseline")
    assert baseline_state == "success"
    monkeypatch.setenv("AIRFLOW_PLATFORM_PUSHGATEWAY_TIMEOUT", "1")
    with hanging_server() as hung:
        url = hung if gateway_kind == "hanging" else f"http://127.0.0.1:{free_port()}"
        monkeypatch.setenv("AIRFLOW_PLATFORM_PUSHGATEWAY_URL", url)
        with caplog.at_level(logging.WARNING, logger="airflow_platform.metrics.push"):
            state, elapsed = _timed_run(jobs_dir, "unpushed")
    assert state == "success"
    assert elapsed - baseline <= 1.0 + 0.75, (elapsed, baseline)
    warnings = [r for r in caplog.records if r.name == "airflow_platform.metrics.push"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "not pushed" in warnings[0].getMessage()


def test_two_pipelines_with_a_task_of_the_same_name_keep_separate_failure_state(
    tmp_path: Path,
) -> None:
    """The same team, flavor and task name in two DAGs: one fails, the other succeeds, and the
    real Pushgateway and Prometheus hold both states (the group key carries the DAG id)."""
    from airflow_platform.metrics import push

    with (
        pushgateway(tmp_path / "pgw") as gateway,
        prometheus(tmp_path / "prom", gateway.url) as prom,
    ):
        for dag, outcome in (("pipeline-a", "failed"), ("pipeline-b", "success")):
            key = push.JobKey("nlp", "cpu-2gb", "compile-data", critical=True, dag=dag)
            run = push.JobRun(key, outcome, duration_seconds=1.0, capacity_wait_seconds=0.0)
            counts, gauges = push.finish_samples(run)
            assert push.push(key, counts, gauges, url=gateway.url, timeout=5)
        wait_for(prom, 'count(airflow_platform_job_last_run_failed{job_name="compile-data"}) == 2')
        state = {
            s["metric"]["dag"]: float(s["value"][1])
            for s in query(prom, 'airflow_platform_job_last_run_failed{job_name="compile-data"}')
        }
        assert state == {"pipeline-a": 1.0, "pipeline-b": 0.0}
