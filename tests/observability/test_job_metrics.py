"""A JobOperator run sends its metrics through Airflow's own StatsD client to a real
statsd-exporter with the chart's mapping, which a real Prometheus scrapes with the chart's
rules; Airflow's own task outcomes arrive the same way and get the task's team and flavor.
A StatsD that is down or misconfigured never changes the task's result."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.servers import Server, query, wait_for

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


def _value(prom: Server, expr: str) -> float:
    found = query(prom, expr)
    assert len(found) == 1, (expr, found)
    return float(found[0]["value"][1])


def test_a_job_run_is_counted_through_statsd_and_airflow_s_outcomes_get_its_team(
    airflow_db: Path, jobs_dir: Path, metrics: Server
) -> None:
    """Two dag.test() runs of a local job (one success, one failure): the exporter keeps the
    counters across the two task processes, the failure is counted under its reason (every
    other reason at 0, so `increase()` sees a first failure), peak memory and requests are
    there, no series carries a run id; and Airflow's own `ti.finish` comes out labelled with
    the job's team and flavor by the chart's recording rule."""
    assert _dag(jobs_dir, "metered").test().state == "success"
    assert _dag(jobs_dir, "metered", execution_script="exit 3").test().state == "failed"

    job = 'team="nlp", flavor="cpu-2gb", job_name="metered", dag="metered"'
    wait_for(metrics, f'airflow_platform_job_failures_total{{{job}, reason="failed"}} == 1')
    failures = {
        s["metric"]["reason"]: float(s["value"][1])
        for s in query(metrics, f"airflow_platform_job_failures_total{{{job}}}")
    }
    assert failures == {"failed": 1, "timeout": 0, "oom": 0, "unschedulable": 0, "image_error": 0}
    assert _value(metrics, f"airflow_platform_jobs_started_total{{{job}}}") == 2
    assert _value(metrics, f"airflow_platform_job_peak_memory_bytes{{{job}}}") > 0
    assert _value(metrics, f"airflow_platform_job_requested_memory_bytes{{{job}}}") == 2 * 2**30
    assert _value(metrics, f"airflow_platform_job_last_run_failed{{{job}}}") == 1
    wait = f'airflow_platform_job_capacity_wait_seconds_bucket{{{job}, le="1"}}'
    assert _value(metrics, wait) == 2

    airflow = 'dag_id="metered", state=~"success|failed"'
    wait_for(metrics, f"count(airflow_platform:task_finished_total{{{airflow}}}) == 2")
    by_team = {
        (s["metric"]["team"], s["metric"]["flavor"], s["metric"]["state"]): float(s["value"][1])
        for s in query(metrics, f"airflow_platform:task_finished_total{{{airflow}}}")
    }
    assert by_team == {("nlp", "cpu-2gb", "success"): 1, ("nlp", "cpu-2gb", "failed"): 1}
    assert _value(metrics, 'count(airflow_task_duration_seconds_count{dag_id="metered"})') == 1
    durations = 'airflow_platform:task_duration_seconds_bucket{dag_id="metered", le="+Inf"}'
    assert [s["metric"]["team"] for s in wait_for(metrics, durations)] == ["nlp"]
    labels = {k for s in query(metrics, '{job="statsd-exporter"}') for k in s["metric"]}
    assert not {"run_id", "try_number", "logical_date", "map_index"} & labels, labels


def test_a_policy_rejection_is_counted_by_reason(
    airflow_db: Path, metrics: Server, dag_test_runs_as_every_team: str
) -> None:
    """An ad-hoc run whose spec breaks the policy (an image outside the allowed registries)
    fails, and counts one guard rejection labelled with the violation's reason, under the
    fixed job name `adhoc-rejected` (a conf's names are user input)."""
    from airflow.dag_processing.dagbag import DagBag

    runner = DagBag(dag_folder=str(ROOT / "dags" / "platform_job_runner.py")).dags[
        "platform_job_runner"
    ]
    conf = {"spec": {"job": {**JOB, "name": "evil", "docker_image": "docker.io/evil:1"}}}
    assert runner.test(run_conf=conf).state == "failed"
    found = wait_for(metrics, "airflow_platform_guard_rejections_total")
    assert [
        (s["metric"]["reason"], s["metric"]["team"], s["metric"]["job_name"], s["value"][1])
        for s in found
    ] == [("image_not_allowed", "nlp", "adhoc-rejected", "1")]


def test_statsd_with_no_listener_or_a_broken_client_changes_nothing_but_one_warning(
    airflow_db: Path,
    jobs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """StatsD aimed at a port nobody listens on: the task succeeds and nothing is logged
    (UDP is fire and forget). A `[metrics]` client that cannot be made (a custom client
    class that is not a StatsD client): the task succeeds and one warning says why."""
    from airflow_platform.metrics import emit
    from tests.observability.servers import free_port

    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(free_port()))
    with caplog.at_level(logging.WARNING, logger=emit.__name__):
        assert _dag(jobs_dir, "unheard", execution_script="echo ok").test().state == "success"
    assert [r for r in caplog.records if r.name == emit.__name__] == []

    monkeypatch.setattr(emit, "_client", None)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_CUSTOM_CLIENT_PATH", "builtins.dict")
    with caplog.at_level(logging.WARNING, logger=emit.__name__):
        assert _dag(jobs_dir, "misconfigured", execution_script="echo ok").test().state == "success"
    warnings = [r.getMessage() for r in caplog.records if r.name == emit.__name__]
    assert len(warnings) == 1, warnings
    assert "job metrics off" in warnings[0], warnings
    assert "StatsClient" in warnings[0], warnings


def test_two_pipelines_with_a_task_of_the_same_name_keep_separate_failure_state(
    metrics: Server,
) -> None:
    """The same team, flavor and task name in two DAGs: one fails, the other succeeds, and the
    real exporter and Prometheus hold both states (every series carries the DAG id)."""
    from airflow_platform.metrics import emit

    for dag, outcome in (("pipeline-a", "failed"), ("pipeline-b", "success")):
        key = emit.JobKey("nlp", "cpu-2gb", "compile-data", critical=True, dag=dag)
        emit.record_finish(emit.JobRun(key, outcome, 1.0, capacity_wait_seconds=0.0))
    wait_for(metrics, 'count(airflow_platform_job_last_run_failed{job_name="compile-data"}) == 2')
    state = {
        s["metric"]["dag"]: float(s["value"][1])
        for s in query(metrics, 'airflow_platform_job_last_run_failed{job_name="compile-data"}')
    }
    assert state == {"pipeline-a": 1.0, "pipeline-b": 0.0}
