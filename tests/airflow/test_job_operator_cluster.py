"""JobOperator against the real control plane: the pod reaches a real API server and scheduler.

kwok stands in for the kubelet and the container runtime (there is none on these machines):
it moves the pod Running → Succeeded, or Failed with the exit code and reason a test asks for
through the `airflow-platform.test/*` annotations, added here through Airflow's
`pod_mutation_hook` — the cluster-policy hook a platform team would use.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.airflow.backend import use_the_test_cluster
from tests.harness.kube import FAIL_EXIT_CODE, FAIL_REASON, KEEP_RUNNING, ensure_namespace

pytestmark = [pytest.mark.airflow, pytest.mark.cluster]
# The jobs of these tests are vision's: they run in its namespace of the packaged config.
NAMESPACE = "airflow-jobs-vision"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kube_backend(
    control_plane: Any, core_v1: Any, airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Points Airflow's kubernetes_default connection at the test control plane."""
    ensure_namespace(core_v1, NAMESPACE, {"pod-security.kubernetes.io/enforce": "restricted"})
    use_the_test_cluster(monkeypatch, control_plane)
    return core_v1


class PodRecorder:
    """Polls the jobs namespace and keeps the first copy of every pod it sees."""

    def __init__(self, core_v1: Any, label: str) -> None:
        self.core_v1, self.label, self.pods = core_v1, label, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pod in self.core_v1.list_namespaced_pod(NAMESPACE, label_selector=self.label).items:
                self.pods.setdefault(pod.metadata.name, pod)
            time.sleep(0.2)

    def __enter__(self) -> PodRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def annotate_pods(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Annotations that Airflow's pod_mutation_hook adds to every job pod of the test."""
    import airflow.settings

    annotations: dict[str, str] = {}

    def hook(pod: Any) -> None:
        pod.metadata.annotations = {**(pod.metadata.annotations or {}), **annotations}

    monkeypatch.setattr(airflow.settings, "pod_mutation_hook", hook)
    return annotations


def _write_job(jobs_dir: Path, name: str, flavor: str = "cpu-2gb", **extra: Any) -> Path:
    job = {
        "name": name,
        "team": "vision",
        "resource_flavor": flavor,
        "docker_image": "registry.internal/tests/job:1.0",
        "execution_time": "5 minutes",
        "execution_script": "python -c 'print(42)'",
        **extra,
    }
    path = jobs_dir / "vision" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"job": job}))
    return path


def _run(dag_id: str) -> tuple[Any, dict[str, Any]]:
    """dag.test() of a DAG the factory built from the jobs folder, as the dag-processor would."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "platform_jobs.py"))
    run = bag.dags[dag_id].test()
    return run, {ti.task_id: ti for ti in run.get_task_instances()}


def test_job_pod_is_created_with_flavor_resources_and_task_succeeds(
    kube_backend: Any, jobs_dir: Path
) -> None:
    """The operator creates the flavor-sized pod in the real API server; kwok completes it."""
    _write_job(jobs_dir, "op-success", flavor="cpu-16gb")
    with PodRecorder(kube_backend, "airflow-platform/job=op-success") as recorder:
        run, tis = _run("op-success")
    assert run.state == "success", [ti.state for ti in tis.values()]
    assert recorder.pods, "no pod reached the API server"
    pod = next(iter(recorder.pods.values()))
    container = pod.spec.containers[0]
    assert container.resources.requests == {"cpu": "4", "memory": "16Gi"}
    assert container.resources.limits == {"memory": "16Gi"}
    assert pod.spec.active_deadline_seconds == 300
    assert pod.metadata.labels["airflow-platform/flavor"] == "cpu-16gb"
    assert pod.spec.security_context.run_as_non_root is True


@pytest.fixture
def small_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default catalog plus an 8-GPU flavor no node can hold, with short allowances."""
    from airflow_platform.config import load_config

    data = load_config().model_dump(mode="json", exclude_none=True)
    for flavor in data["flavors"].values():
        flavor["startup_allowance"] = "5s"
    data["flavors"]["gpu-8x-192gb"] = {
        "cpu": "8",
        "memory": "64Gi",
        "gpu": {"count": 8, "resource": "nvidia.com/gpu", "product": "NVIDIA-A10G"},
        "startup_allowance": "5s",
        "teams": ["vision"],
    }
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(path))
    return path


def test_pod_made_to_fail_fails_the_task_with_its_reason(
    kube_backend: Any,
    jobs_dir: Path,
    annotate_pods: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pod the runtime ends OOMKilled fails the task with the flavor and a bigger one to try."""
    annotate_pods.update(
        {
            FAIL_EXIT_CODE: "137",
            FAIL_REASON: "OOMKilled",
        }
    )
    _write_job(jobs_dir, "op-oom", flavor="cpu-2gb")
    run, tis = _run("op-oom")
    assert run.state == "failed"
    assert tis["op-oom"].state == "failed"
    assert (
        "job op-oom ran out of memory (OOMKilled): flavor cpu-2gb gives 2Gi; try resource_flavor: cpu-4gb"
        in capsys.readouterr().out
    )


def test_non_zero_exit_code_fails_the_task_naming_the_code(
    kube_backend: Any,
    jobs_dir: Path,
    annotate_pods: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A job that exits 3 fails its task with 'exited with code 3'."""
    annotate_pods[FAIL_EXIT_CODE] = "3"
    _write_job(jobs_dir, "op-exit3")
    _, tis = _run("op-exit3")
    assert tis["op-exit3"].state == "failed"
    assert "job op-exit3 exited with code 3" in capsys.readouterr().out


def test_gpu_job_larger_than_any_node_fails_after_its_startup_allowance(
    kube_backend: Any, jobs_dir: Path, small_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """8 GPUs on nodes of 4: the task fails after the 5 s allowance with the capacity message."""
    _write_job(jobs_dir, "op-too-big", flavor="gpu-8x-192gb")
    started = time.monotonic()
    _, tis = _run("op-too-big")
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert tis["op-too-big"].state == "failed"
    assert "job op-too-big found no node within its 5s startup allowance" in out
    assert "job flavor 'gpu-8x-192gb' asks for 8 GPUs, 8 CPUs and 64Gi memory" in out
    assert "offers 4 GPUs" in out
    assert elapsed < 120, f"took {elapsed:.0f} s; the allowance is 5 s"


def test_deferred_job_is_stopped_at_its_execution_timeout(
    kube_backend: Any,
    jobs_dir: Path,
    small_config: Path,
    annotate_pods: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pod that never ends is stopped by Airflow after execution_time + allowance + margin,
    although the task is deferred to the triggerer (apache/airflow#67227)."""
    annotate_pods[KEEP_RUNNING] = "true"
    _write_job(jobs_dir, "op-forever", execution_time="5s")
    started = time.monotonic()
    _, tis = _run("op-forever")
    elapsed = time.monotonic() - started
    assert tis["op-forever"].state == "failed"
    out = capsys.readouterr().out
    assert "job op-forever" in out
    assert "execution_time of 5s" in out
    assert elapsed < 5 + 5 + 30 + 60, f"took {elapsed:.0f} s"


def test_adhoc_run_with_a_bad_conf_fails_before_any_pod_is_created(
    kube_backend: Any, dag_test_runs_as_every_team: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ad-hoc runner validates and guards its conf like a file: no pod for a bad spec."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "platform_job_runner.py"))
    conf = {"spec": {"job": {"name": "adhoc-bad", "team": "vision", "resource_flavor": "gpu-2x",
                             "docker_image": "docker.io/evil:1", "execution_time": "5m",
                             "execution_script": "true"}}}  # fmt: skip
    before = {p.metadata.name for p in kube_backend.list_namespaced_pod(NAMESPACE).items}
    run = bag.dags["platform_job_runner"].test(run_conf=conf)
    after = {p.metadata.name for p in kube_backend.list_namespaced_pod(NAMESPACE).items}
    assert run.state == "failed"
    assert after == before
    out = capsys.readouterr().out
    assert "<run conf>" in out
    assert "unknown flavor 'gpu-2x'" in out
    assert "image 'docker.io/evil:1' is not from an allowed registry" in out


@pytest.mark.parametrize(("keep", "left"), [(False, 0), (True, 1)])
def test_failed_pods_are_deleted_unless_the_spec_keeps_them(
    kube_backend: Any, jobs_dir: Path, annotate_pods: dict[str, str], keep: bool, left: int
) -> None:
    """`keep_failed_pod: true` leaves a failed run's pod for debugging; otherwise it is deleted."""
    annotate_pods[FAIL_EXIT_CODE] = "1"
    name = f"op-keep-{str(keep).lower()}"
    _write_job(jobs_dir, name, keep_failed_pod=keep)
    _run(name)
    selector = f"airflow-platform/job={name}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pods = kube_backend.list_namespaced_pod(NAMESPACE, label_selector=selector).items
        live = [p for p in pods if p.metadata.deletion_timestamp is None]
        if len(live) == left:
            break
        time.sleep(0.5)
    assert len(live) == left
    if keep:
        assert live[0].status.phase == "Failed"
