"""Job pods on the real node: a burst of bare pods, and the same jobs through the JobOperator.

Starts its own control plane and real node (kubelet + containerd, tests/harness/node.py) with
the job base image built by `make images`, then:

1. **burst**: N small job pods (built by `build_pod`, flavor node-64mb of the real-node test
   config, each `echo`ing one line) created at once; a watch records, per pod, when it was first
   seen Running (or already finished) and Succeeded, from its create call;
2. **operator**: M of the same jobs one after another, each once as a bare pod (create →
   Succeeded) and once as a JobOperator task run by real Airflow (`dag.test()`, task start →
   task end: build and guard, create, watch, log streaming, cleanup), interleaved.

Prints one line for each on stdout:
  node_run: pods=N create_to_running_p50_s=… create_to_succeeded_p50_s=… pods_per_min=…
  node_run_operator: tasks=M bare_pod_p50_s=… job_operator_p50_s=… overhead_p50_s=… ratio=…x
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-platform-bench-node-"))
# Airflow reads its settings when first imported.
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        # dag.test() syncs the DAG bundle it comes from: the repository's dags/ folder.
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "AIRFLOW_PLATFORM_BACKEND": "kubernetes",
        "AIRFLOW_PLATFORM_CONFIG": str(ROOT / "tests" / "data" / "node" / "platform.yaml"),
    }
)

from kubernetes import client, watch  # noqa: E402

from airflow_platform.config import load_config  # noqa: E402
from airflow_platform.pods import RunContext, build_pod  # noqa: E402
from tests.harness.controlplane import ControlPlane  # noqa: E402
from tests.harness.fixtures import RESTRICTED_LABELS  # noqa: E402
from tests.harness.kube import wait_for  # noqa: E402
from tests.harness.node import RealNode  # noqa: E402
from tests.node.podrun import job  # noqa: E402

BURST = int(os.environ.get("BENCH_NODE_PODS", "30"))
SEQUENTIAL = int(os.environ.get("BENCH_NODE_TASKS", "8"))
FLAVOR = "node-64mb"


def _burst(core: client.CoreV1Api, namespace: str) -> str:
    config = load_config()
    pods = [
        build_pod(
            job(f"burst-{i:03d}", f"echo run-{i}", flavor=FLAVOR),
            config,
            RunContext(namespace=namespace),
        )
        for i in range(BURST)
    ]
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    succeeded: dict[str, float] = {}
    ready = threading.Event()

    def follow() -> None:
        stream = watch.Watch()
        ready.set()
        for event in stream.stream(core.list_namespaced_pod, namespace, timeout_seconds=600):
            pod = event["object"]
            now = time.monotonic()
            name, phase = pod.metadata.name, pod.status.phase
            if phase in ("Running", "Succeeded", "Failed"):
                running.setdefault(name, now)
            if phase in ("Succeeded", "Failed"):
                succeeded.setdefault(name, now)
                if pod.status.phase == "Failed":
                    print(f"node_run: {name} failed: {pod.status}", file=sys.stderr)
            if len(succeeded) == len(pods):
                stream.stop()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    ready.wait()
    time.sleep(0.5)
    began = time.monotonic()
    for pod in pods:
        created[pod.metadata.name] = time.monotonic()
        core.create_namespaced_pod(namespace, pod)
    follower.join(timeout=600)
    ended = max(succeeded.values())
    to_running = [running[n] - created[n] for n in created]
    to_succeeded = [succeeded[n] - created[n] for n in created]
    return (
        f"node_run: pods={len(pods)} create_to_running_p50_s={statistics.median(to_running):.2f} "
        f"create_to_succeeded_p50_s={statistics.median(to_succeeded):.2f} "
        f"pods_per_min={len(pods) / (ended - began) * 60:.1f}"
    )


def _bare_pod(core: client.CoreV1Api, namespace: str, index: int) -> float:
    pod = build_pod(
        job(f"bare-{index:03d}", "echo once", flavor=FLAVOR),
        load_config(),
        RunContext(namespace=namespace),
    )
    started = time.monotonic()
    core.create_namespaced_pod(namespace, pod)
    wait_for(
        lambda: core.read_namespaced_pod(pod.metadata.name, namespace).status.phase == "Succeeded",
        timeout=120,
        what=f"{pod.metadata.name} Succeeded",
        interval=0.05,
    )
    seconds = time.monotonic() - started
    core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
    return seconds


def _operator_dags() -> dict[str, object]:
    """One job spec per round, turned into DAGs by the factory's own DAG file."""
    import yaml
    from airflow.dag_processing.dagbag import DagBag

    folder = AIRFLOW_HOME / "jobs" / "vision"
    folder.mkdir(parents=True)
    for index in range(SEQUENTIAL):
        spec = job(f"op-{index:03d}", "echo once", flavor=FLAVOR).model_dump(
            mode="json", include={"team", "resource_flavor", "docker_image", "execution_script"}
        )
        spec["execution_time"] = "2 minutes"
        (folder / f"op-{index:03d}.yaml").write_text(yaml.safe_dump({"job": spec}))
    os.environ["AIRFLOW_PLATFORM_JOBS_DIR"] = str(folder.parent)
    bag = DagBag(dag_folder=str(ROOT / "dags" / "platform_jobs.py"))
    if bag.import_errors:
        raise RuntimeError(f"the factory refused the bench specs: {bag.import_errors}")
    return dict(bag.dags)


def _operator_task(dag: object) -> float:
    run = dag.test()  # type: ignore[attr-defined]
    (ti,) = run.get_task_instances()
    if ti.state != "success":
        raise RuntimeError(f"JobOperator task ended {ti.state}")
    return float((ti.end_date - ti.start_date).total_seconds())


def main() -> int:
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
    )
    with ControlPlane() as plane:
        node = RealNode(plane, images=("job-python",))
        node.start()
        try:
            os.environ["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = json.dumps(
                {"conn_type": "kubernetes", "extra": {"kube_config_path": str(plane.kubeconfig)}}
            )
            api_client = plane.api_client()
            core = client.CoreV1Api(api_client)
            namespace = load_config().namespace_of("vision")  # the team of the jobs below
            core.create_namespace({"metadata": {"name": namespace, "labels": RESTRICTED_LABELS}})
            wait_for(
                lambda: core.list_namespaced_service_account(namespace).items,
                timeout=30,
                what="default service account",
            )
            burst = _burst(core, namespace)
            core.delete_collection_namespaced_pod(namespace, grace_period_seconds=0)
            dags = _operator_dags()
            bare, operated = [], []
            for i in range(SEQUENTIAL):
                bare.append(_bare_pod(core, namespace, i))
                operated.append(_operator_task(dags[f"op-{i:03d}"]))
                print(
                    f"node_run: round {i}: bare {bare[-1]:.2f} s, operator {operated[-1]:.2f} s",
                    file=sys.stderr,
                )
            api_client.close()
        finally:
            node.stop()
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
    bare_p50, op_p50 = statistics.median(bare), statistics.median(operated)
    print(burst)
    print(
        f"node_run_operator: tasks={SEQUENTIAL} bare_pod_p50_s={bare_p50:.2f} "
        f"job_operator_p50_s={op_p50:.2f} overhead_p50_s={op_p50 - bare_p50:.2f} "
        f"ratio={op_p50 / bare_p50:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
