"""The installed platform end to end: small jobs through the api-server, against bare pods.

Starts its own control plane, real node (kubelet + containerd, tests/harness/node.py) and
SeaweedFS, and installs the chart as the platform tests do (tests/platform/release.py: the
images `make images` built, every pod on the real node, task logs and artifacts in the store).
Then, N times, one after another and interleaved:

- **through the platform**: the `echo` job of tests/platform's `write_job`, triggered as
  `airflow-platform submit` does (a run of ``platform_job_runner`` with the spec as its conf);
  timed from the trigger call to its job pod first seen Running, and to the run's success;
- **bare**: the same image and command as a pod the benchmark creates itself in the team's
  namespace (built by ``build_pod`` from the real-node test config), create to Succeeded.

The first worker pod of each run (the one that creates the job pod, then defers) is broken down
as well: image start (pod created → container started, from the API's one-second stamps),
Airflow import (container started → the task log's first line), DAG parse (→ ``Worker startup
parse complete``) and job pod creation (→ the job pod's creation stamp).

Prints:
  platform_e2e: jobs=N trigger_to_job_running_p50_s=… task_overhead_p50_s=… (vs bare pod
      bare_pod_p50_s=…) trigger_to_success_p50_s=… ratio=…x
  platform_e2e_worker: image_start_p50_s=… airflow_import_p50_s=… dag_parse_p50_s=…
      job_pod_creation_p50_s=…
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NODE_CONFIG = ROOT / "tests" / "data" / "node" / "platform.yaml"
os.environ["AIRFLOW_PLATFORM_CONFIG"] = str(NODE_CONFIG)

import httpx  # noqa: E402
import yaml  # noqa: E402
from kubernetes import client  # noqa: E402

from airflow_platform.client import AirflowClient  # noqa: E402
from airflow_platform.config import load_config  # noqa: E402
from airflow_platform.pods import RunContext, build_pod  # noqa: E402
from airflow_platform.spec.loader import load_spec  # noqa: E402
from tests.harness.controlplane import ControlPlane  # noqa: E402
from tests.harness.kube import wait_for  # noqa: E402
from tests.harness.node import RealNode  # noqa: E402
from tests.harness.objectstore import seaweedfs  # noqa: E402
from tests.platform.release import Release, install, uninstall, write_job  # noqa: E402

JOBS = int(os.environ.get("BENCH_PLATFORM_JOBS", "5"))
SCRIPT = "echo once"


def _stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _bare_pod(core: client.CoreV1Api, spec: Any, namespace: str, index: int) -> float:
    pod = build_pod(spec.model_copy(update={"name": f"bare-{index:03d}"}), load_config(),
                    RunContext(namespace=namespace))  # fmt: skip
    started = time.monotonic()
    core.create_namespaced_pod(namespace, pod)
    wait_for(
        lambda: core.read_namespaced_pod(pod.metadata.name, namespace).status.phase == "Succeeded",
        timeout=180,
        what=f"{pod.metadata.name} Succeeded",
        interval=0.1,
    )
    seconds = time.monotonic() - started
    core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
    return seconds


def _log_stamps(release: Release, url: str, run_id: str) -> dict[str, float]:
    """When the first try's log first said each of the lines the breakdown needs."""
    token = httpx.post(f"{url}/auth/token", timeout=30, json={
        "username": "admin", "password": release.ui_password()}).json()["access_token"]  # fmt: skip
    data = httpx.get(
        f"{url}/api/v2/dags/platform_job_runner/dagRuns/{run_id}/taskInstances/run_job/logs/1",
        params={"full_content": "true"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=60,
    ).json()
    stamps: dict[str, float] = {}
    for item in data.get("content", []):
        if not isinstance(item, dict) or not item.get("timestamp"):
            continue
        event = str(item.get("event", ""))
        if event.startswith("::"):
            continue
        stamps.setdefault("first", _stamp(item["timestamp"]))
        if "Worker startup parse complete" in event:
            stamps.setdefault("parsed", _stamp(item["timestamp"]))
    return stamps


def _one_run(release: Release, core: client.CoreV1Api, airflow: AirflowClient, url: str,
             spec: Any, index: int) -> dict[str, float]:  # fmt: skip
    name = f"e2e-{index:03d}"
    job = spec.model_copy(update={"name": name})
    team_ns = release.team_namespace("vision")
    started_wall, started = time.time(), time.monotonic()
    run_id = airflow.trigger({"spec": {"job": job.model_dump(mode="json")}, "params": {}})
    running: list[float] = []
    job_created: list[float] = []
    # Worker pods by name: (created, container started); the first one is gone (deferred, its
    # pod deleted) by the time the run ends, so it is read while the job starts.
    workers: dict[str, tuple[float, float | None]] = {}

    def job_pod_running() -> bool:
        for pod in core.list_namespaced_pod(release.jobs_namespace).items:
            created = pod.metadata.creation_timestamp.timestamp()
            if created < started_wall - 1:
                continue
            state = (
                pod.status.container_statuses[0].state if pod.status.container_statuses else None
            )
            began = state and (state.running or state.terminated)
            workers[pod.metadata.name] = (created, began.started_at.timestamp() if began else None)
        pods = core.list_namespaced_pod(team_ns, label_selector=f"airflow-platform/job={name}")
        if pods.items and not job_created:
            job_created.append(pods.items[0].metadata.creation_timestamp.timestamp())
        if any(p.status.phase in ("Running", "Succeeded") for p in pods.items):
            running.append(time.monotonic())
        return bool(running)

    wait_for(job_pod_running, timeout=600, what=f"{name}'s job pod Running", interval=0.2)
    state = wait_for(
        lambda: (s := str(airflow.run(run_id)["state"])) in ("success", "failed") and s,
        timeout=600, what=f"run {run_id} finished", interval=0.5,
    )  # fmt: skip
    finished = time.monotonic()
    if state != "success":
        raise RuntimeError(f"run {run_id} of {name} ended {state}")
    created, began = min(workers.values())
    if began is None:
        raise RuntimeError(f"never saw {name}'s first worker pod started: {workers}")
    stamps = _log_stamps(release, url, run_id)
    return {
        "to_running": running[0] - started,
        "to_success": finished - started,
        "image_start": began - created,
        "import": stamps["first"] - began,
        "parse": stamps["parsed"] - stamps["first"],
        "pod_creation": job_created[0] - stamps["parsed"],
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="airflow-platform-bench-e2e-") as scratch:
        spec = load_spec(write_job(Path(scratch), "e2e", SCRIPT))
        with ControlPlane() as plane, seaweedfs(Path(scratch) / "store") as store:
            node = RealNode(plane)
            node.start()
            try:
                api_client = plane.api_client()
                core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
                started = time.monotonic()
                release = install(plane, node, core, apps, store)
                print(f"platform_e2e: release Ready in {time.monotonic() - started:.0f} s",
                      file=sys.stderr)  # fmt: skip
                try:
                    url = release.api_url()
                    airflow = AirflowClient(url, username="admin", password=release.ui_password())
                    bare, runs = [], []
                    team_ns = release.team_namespace("vision")
                    for i in range(JOBS):
                        bare.append(_bare_pod(core, spec, team_ns, i))
                        runs.append(_one_run(release, core, airflow, url, spec, i))
                        print(f"platform_e2e: round {i}: bare {bare[-1]:.2f} s, "
                              f"{yaml.safe_dump(runs[-1], width=200).strip()}",
                              file=sys.stderr)  # fmt: skip
                finally:
                    uninstall(release, core)
                api_client.close()
            finally:
                node.stop()

    def p50(key: str) -> float:
        return statistics.median(r[key] for r in runs if key in r)

    bare_p50 = statistics.median(bare)
    print(
        f"platform_e2e: jobs={JOBS} trigger_to_job_running_p50_s={p50('to_running'):.2f} "
        f"task_overhead_p50_s={p50('to_success') - bare_p50:.2f} (vs bare pod "
        f"bare_pod_p50_s={bare_p50:.2f}) trigger_to_success_p50_s={p50('to_success'):.2f} "
        f"ratio={p50('to_success') / bare_p50:.2f}x"
    )
    print(
        f"platform_e2e_worker: image_start_p50_s={p50('image_start'):.2f} "
        f"airflow_import_p50_s={p50('import'):.2f} dag_parse_p50_s={p50('parse'):.2f} "
        f"job_pod_creation_p50_s={p50('pod_creation'):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
