"""JobOperator, driven by real Airflow (`dag.test()`), running jobs on the real node.

The DAG comes from the factory's own DAG file, the pod from `build_pod`, and the pod runs on
the real kubelet with the job base image built from `images/python`: the script's output
reaches the task log through the real log endpoint, and failures are the real ones.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.node.podrun import JOB_IMAGE

pytestmark = [pytest.mark.airflow, pytest.mark.node]
ROOT = Path(__file__).resolve().parents[2]


def _write_job(jobs_dir: Path, name: str, script: str, **extra: Any) -> None:
    job = {
        "name": name,
        "team": "vision",
        "resource_flavor": "node-256mb",
        "docker_image": JOB_IMAGE,
        "execution_time": "2 minutes",
        "execution_script": script,
        **extra,
    }
    (jobs_dir / "vision").mkdir(exist_ok=True)
    (jobs_dir / "vision" / f"{name}.yaml").write_text(yaml.safe_dump({"job": job}))


def _run(dag_id: str) -> tuple[Any, dict[str, Any]]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "platform_jobs.py"))
    assert dag_id in bag.dags, bag.import_errors
    run = bag.dags[dag_id].test()
    return run, {ti.task_id: ti for ti in run.get_task_instances()}


def test_job_succeeds_on_the_real_node_and_its_output_streams_into_the_task_log(
    node_backend: Any, jobs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The task succeeds when the pod's script exits 0, and the script's lines are in the log."""
    _write_job(jobs_dir, "node-ok", "for i in 1 2 3; do echo line-$i; done")
    run, _ = _run("node-ok")
    out = capsys.readouterr().out
    assert run.state == "success", out[-3000:]
    for i in (1, 2, 3):
        assert f"line-{i}" in out


def test_job_over_its_memory_fails_the_task_with_one_line_naming_a_bigger_flavor(
    node_backend: Any, jobs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real OOM kill on the node fails the task with the flavor and the next size up."""
    _write_job(
        jobs_dir,
        "node-oom",
        "python -c 'x = bytearray(200 * 2**20); x[::4096] = b\"x\" * len(x[::4096])'",
        resource_flavor="node-64mb",
    )
    _, tis = _run("node-oom")
    out = capsys.readouterr().out
    assert tis["node-oom"].state == "failed"
    assert (
        "job node-oom ran out of memory (OOMKilled): flavor node-64mb gives 64Mi; "
        "try resource_flavor: node-256mb"
    ) in out


def test_job_past_its_execution_time_fails_the_task_saying_so(
    node_backend: Any, jobs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The kubelet's DeadlineExceeded becomes the task's one-line reason."""
    _write_job(jobs_dir, "node-late", "sleep 600", execution_time="5 seconds")
    started = time.monotonic()
    _, tis = _run("node-late")
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert tis["node-late"].state == "failed"
    assert "job node-late hit its execution_time of 5s and was stopped (DeadlineExceeded)" in out
    assert elapsed < 90, f"took {elapsed:.0f} s"


def test_job_whose_image_is_not_on_the_node_fails_fast_naming_the_image(
    node_backend: Any, jobs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An image that cannot be pulled fails the task within seconds with the image's name,
    long before the startup allowance (2 minutes for these flavors) would."""
    missing = "registry.internal/airflow-platform/not-built:9.9"
    _write_job(jobs_dir, "node-noimage", "true", docker_image=missing)
    started = time.monotonic()
    _, tis = _run("node-noimage")
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert tis["node-noimage"].state == "failed"
    assert f"job node-noimage could not pull image {missing}" in out
    print(f"\nfailed {elapsed:.1f} s after the task started")
    assert elapsed < 60, f"took {elapsed:.0f} s"


def test_with_artifacts_on_a_missing_image_still_fails_naming_the_image(
    store_backend: Any, jobs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the artifact sidecar started beside it, the pod waits in Pending for its image
    until the trigger gives up and cleanup deletes it: the reason comes from the pod as
    cleanup last read it (read afterwards, it is gone: "pod phase Pending" was all it said)."""
    missing = "registry.internal/airflow-platform/not-built:9.9"
    _write_job(jobs_dir, "node-noimage-kept", "true", docker_image=missing)
    _, tis = _run("node-noimage-kept")
    out = capsys.readouterr().out
    assert tis["node-noimage-kept"].state == "failed"
    assert f"job node-noimage-kept could not pull image {missing}" in out
