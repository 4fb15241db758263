"""The metric definitions: documented once, named with units, read correctly from pods."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes.client import (
    V1ContainerState,
    V1ContainerStateRunning,
    V1ContainerStateTerminated,
    V1ContainerStateWaiting,
    V1ContainerStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodCondition,
    V1PodStatus,
)

from airflow_platform.metrics import catalogue
from airflow_platform.metrics import emit as metrics
from airflow_platform.pods import CONTAINER_NAME, RunContext, pod_labels
from airflow_platform.spec.models import JobSpec

pytestmark = [pytest.mark.unit, pytest.mark.observability]
ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = "airflow_platform.metrics.catalogue"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
JOB = JobSpec.model_validate(
    {
        "name": "fit",
        "team": "vision",
        "resource_flavor": "gpu-1x-24gb",
        "docker_image": "registry.internal/vision/train:1.4.2",
        "execution_time": "1h",
        "execution_script": "python fit.py",
        "critical": True,
    }
)


def test_docs_table_is_generated_from_the_definitions() -> None:
    """docs/metrics.md holds exactly the table `python -m airflow_platform.metrics` prints."""
    assert catalogue.metrics_table() in (ROOT / "docs" / "metrics.md").read_text()


@pytest.mark.parametrize("metric", catalogue.METRICS, ids=lambda m: m.name)
def test_metric_names_carry_their_unit_and_labels_are_bounded(metric: catalogue.MetricDef) -> None:
    """Counters end in _total, histograms and gauges in a base unit; no label could hold a
    run id; a job's series carry the job's labels, DAG included."""
    if metric.kind == "counter":
        assert metric.name.endswith("_total")
    else:
        assert re.search(r"_(seconds|bytes|cores|gpus|failed)$", metric.name), metric.name
    bounded = {*catalogue.JOB_LABELS, "dag_id", "task_id", "reason", "critical"}
    assert set(metric.labels) <= bounded
    if metric is not catalogue.TASK_STARTED:
        assert metric.labels[:4] == catalogue.JOB_LABELS


def test_usage_line_is_read_from_the_end_of_a_log() -> None:
    """The last AIRFLOW_PLATFORM_USAGE line wins; a log without one gives nothing."""
    log = (
        "epoch 1\nAIRFLOW_PLATFORM_USAGE peak_rss_bytes=1 cpu_seconds=1\n"
        "AIRFLOW_PLATFORM_USAGE peak_rss_bytes=3221225472 cpu_seconds=812.5\n"
    )
    assert metrics.parse_usage_line(log) == (3 * 2**30, 812.5)
    assert metrics.parse_usage_line("no marker here\n") is None
    assert metrics.parse_usage_line("AIRFLOW_PLATFORM_USAGE peak_rss_bytes=x\n") is None


def _pod(phase: str, state: V1ContainerState, **status: object) -> V1Pod:
    return V1Pod(
        metadata=V1ObjectMeta(name="p", namespace="jobs", creation_timestamp=T0),
        status=V1PodStatus(
            phase=phase,
            container_statuses=[
                V1ContainerStatus(
                    name="base", image="i", image_id="", ready=False, restart_count=0, state=state
                )
            ],
            **status,
        ),
    )


def test_a_finished_pod_gives_capacity_wait_duration_and_usage() -> None:
    """Capacity wait is creation to container start; duration is start to finish; the usage
    line fills peak memory and CPU."""
    state = V1ContainerState(
        terminated=V1ContainerStateTerminated(
            exit_code=0,
            started_at=T0 + timedelta(minutes=4),
            finished_at=T0 + timedelta(minutes=34),
        )
    )
    run = metrics.pod_run(
        JOB, _pod("Succeeded", state), "AIRFLOW_PLATFORM_USAGE peak_rss_bytes=42 cpu_seconds=9.5"
    )
    assert (run.outcome, run.capacity_wait_seconds, run.duration_seconds) == ("success", 240, 1800)
    assert (run.peak_memory_bytes, run.cpu_seconds) == (42, 9.5)
    assert run.key == metrics.JobKey("vision", "gpu-1x-24gb", "fit", critical=True)


def test_a_pod_that_never_got_a_node_waited_until_the_end_and_is_unschedulable() -> None:
    """An unschedulable pod counts its whole wait, outcome `unschedulable`, no usage."""
    state = V1ContainerState(waiting=V1ContainerStateWaiting(reason="ContainerCreating"))
    pod = _pod(
        "Pending",
        state,
        conditions=[
            V1PodCondition(type="PodScheduled", status="False", reason="Unschedulable", message="x")
        ],
    )
    run = metrics.pod_run(JOB, pod, now=T0 + timedelta(minutes=20))
    assert (run.outcome, run.capacity_wait_seconds) == ("unschedulable", 1200)
    assert run.peak_memory_bytes is None


def test_a_running_pod_that_was_stopped_counts_from_its_start() -> None:
    """A pod stopped while running (Airflow's timeout) waited until it started."""
    state = V1ContainerState(running=V1ContainerStateRunning(started_at=T0 + timedelta(seconds=30)))
    run = metrics.pod_run(JOB, _pod("Running", state), now=T0 + timedelta(minutes=10))
    assert (run.capacity_wait_seconds, run.duration_seconds) == (30, 570)


def test_catalogue_is_a_leaf_that_imports_nothing_of_the_platform() -> None:
    """The emitters, `usage`, the chart tests and the docs all import the catalogue: it must
    not drag in the config loader, the policy or the pod builder."""
    code = (
        "import sys, airflow_platform.metrics.catalogue as c; "
        "print(sorted(m for m in sys.modules if m.startswith('airflow_platform')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str(["airflow_platform", "airflow_platform.metrics", CATALOGUE])


def test_kube_state_metrics_allow_list_is_the_pod_builders_labels() -> None:
    """Every platform label `pod_labels` puts on a job pod (dag and task included) is allowed
    through kube-state-metrics, and nothing else."""
    context = RunContext(namespace="airflow-jobs-vision", dag_id="d", task_id="t")
    platform_keys = {k for k in pod_labels(JOB, context) if k.startswith("airflow-platform/")}
    assert set(catalogue.KSM_POD_LABELS) == platform_keys
    assert catalogue.ksm_label("airflow-platform/team") == "label_airflow_platform_team"
    assert catalogue.JOB_CONTAINER == CONTAINER_NAME


def test_usage_reads_metric_names_without_the_pod_builder_policy_or_emitters() -> None:
    """`airflow-platform usage` needs the flavor catalog and the metric names, nothing else."""
    code = (
        "import sys, airflow_platform.usage; "
        "print(sorted(m for m in sys.modules if m.startswith('airflow_platform')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(ast.literal_eval(out))
    heavy = {"pods", "policy", "metrics.emit", "runners", "failures", "kerberos", "validation"}
    assert not {m for m in loaded if m.removeprefix("airflow_platform.") in heavy}
