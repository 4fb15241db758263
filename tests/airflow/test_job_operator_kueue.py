"""JobOperator with the real Kueue: a task whose pod waits for its team's quota is queued, not
failed, and its log says so once, in words.

Real Airflow 3.3 (`dag.test()` of a DAG the factory built), the real control plane with kwok
nodes, the real Kueue and the chart's queues (tests/kueue/platform.py); the platform config
is the one the chart renders with `kueue.enabled`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.airflow.backend import use_the_test_cluster
from tests.harness.controlplane import ControlPlane
from tests.harness.kube import KEEP_RUNNING, wait_for
from tests.harness.kueue import Kueue
from tests.kueue.platform import Platform, install, is_gated

pytestmark = [pytest.mark.airflow, pytest.mark.kueue]
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.internal/tests/job:1.0"
# vision's quota fits one cpu-2gb job (1 CPU, 2Gi) and it may not borrow.
VALUES: dict[str, Any] = {
    "kueue": {"enabled": True},
    "platform": {
        "teams": {
            "vision": {
                "quota": {"cpu": "1", "memory": "2Gi"},
                "borrowing_limit": {"cpu": "0", "memory": "0"},
            }
        },
        "policy": {"jobs_namespace": "kq-op"},
    },
}


@pytest.fixture
def queued_platform(
    kueue: Kueue,
    control_plane: ControlPlane,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Platform]:
    """The chart's queues applied, its platform config in $AIRFLOW_PLATFORM_CONFIG, and
    Airflow's kubernetes_default connection on the test control plane."""
    with install(control_plane, VALUES, release="operator") as platform:
        path = tmp_path / "platform.yaml"
        path.write_text(yaml.safe_dump(platform.config.model_dump(mode="json", exclude_none=True)))
        monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(path))
        use_the_test_cluster(monkeypatch, control_plane)
        yield platform


def test_a_task_whose_pod_waits_for_quota_says_so_and_runs_once_admitted(
    queued_platform: Platform, jobs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from airflow_platform.spec.models import JobSpec

    platform = queued_platform
    namespace = platform.config.namespace_of("vision")
    # Another job holds vision's whole quota until the test lets it go.
    blocker_job = JobSpec(
        name="blocker",
        team="vision",
        resource_flavor="cpu-2gb",
        docker_image=IMAGE,
        execution_time="10 minutes",
        execution_script="true",
    )
    blocker = platform.pod(blocker_job, "blocker")
    blocker["metadata"]["annotations"] = {KEEP_RUNNING: "true"}
    platform.core.create_namespaced_pod(namespace, blocker)
    blocker_name = blocker["metadata"]["name"]
    wait_for(
        lambda: (
            platform.core.read_namespaced_pod(blocker_name, namespace).status.phase == "Running"
        ),
        timeout=60,
        what="the blocking job running",
    )
    # Kueue reports the LocalQueue's reservations a moment after admitting: wait for them, so
    # the task's line states the use the blocker holds.
    from airflow_platform.kueue import _used, read_local_queue

    assert platform.config.kueue is not None
    queue = platform.config.kueue.local_queue
    wait_for(
        lambda: (
            _used(read_local_queue(platform.core.api_client, namespace, queue) or {}, "cpu") == 1
        ),
        timeout=60,
        what="vision's LocalQueue reporting the blocker's CPU",
    )
    job = {
        "name": "queued-job",
        "resource_flavor": "cpu-2gb",
        "docker_image": IMAGE,
        "execution_time": "5 minutes",
        "execution_script": "python -c 'print(42)'",
    }
    (jobs_dir / "vision").mkdir()
    (jobs_dir / "vision" / "queued-job.yaml").write_text(yaml.safe_dump({"job": job}))
    seen_gated = threading.Event()

    def release_quota_once_the_task_waits() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pods = platform.core.list_namespaced_pod(
                namespace, label_selector="airflow-platform/job=queued-job"
            ).items
            if pods and is_gated(platform.core.api_client.sanitize_for_serialization(pods[0])):
                seen_gated.set()
                time.sleep(5)  # longer than the operator's first look at its pod
                platform.core.delete_namespaced_pod(blocker_name, namespace, grace_period_seconds=0)
                return
            time.sleep(0.2)

    releaser = threading.Thread(target=release_quota_once_the_task_waits, daemon=True)
    releaser.start()
    bag = DagBag(dag_folder=str(ROOT / "dags" / "platform_jobs.py"))
    run = bag.dags["queued-job"].test()
    releaser.join(timeout=10)
    out = capsys.readouterr()
    log = out.out + out.err
    assert seen_gated.is_set(), "the task's pod was never gated by Kueue"
    assert run.state == "success", [ti.state for ti in run.get_task_instances()]
    lines = [line for line in log.splitlines() if "waiting for quota in queue vision" in line]
    assert len(lines) == 1, log[-3000:]
    assert "waiting for quota in queue vision: 0 jobs ahead; vision uses 1 of 1 CPUs" in lines[0]
