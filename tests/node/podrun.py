"""Running job pods on the real node and watching them to the end."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_platform.config import PlatformConfig
from airflow_platform.pods import CONTAINER_NAME, RunContext, build_pod
from airflow_platform.spec.models import JobSpec
from airflow_platform.validation import validate_file

JOB_IMAGE = "registry.internal/airflow-platform/job-python:0.1.0"
NODE_JOBS = Path(__file__).resolve().parents[1] / "data" / "node" / "jobs"


@dataclass
class PodRun:
    """A pod's last state, with when the test saw it start running and finish."""

    pod: Any
    created_at: float
    running_at: float | None
    finished_at: float | None

    @property
    def phase(self) -> str:
        return str(self.pod.status.phase)

    def terminated(self, container: str = CONTAINER_NAME) -> Any:
        """How a container (an init container or native sidecar too) ended; ``None`` if it
        has not."""
        status = self.pod.status
        for each in [*(status.container_statuses or []), *(status.init_container_statuses or [])]:
            if each.name == container and each.state and each.state.terminated:
                return each.state.terminated
        return None


def job(name: str, script: str | list[str], flavor: str = "node-256mb", **fields: Any) -> JobSpec:
    """A small job for the real node, in the job base image built from images/python."""
    return JobSpec.model_validate(
        {
            "name": name,
            "team": "vision",
            "resource_flavor": flavor,
            "docker_image": JOB_IMAGE,
            "execution_time": "2 minutes",
            "execution_script": script,
            **fields,
        }
    )


def spec_job(path: Path, config: PlatformConfig) -> JobSpec:
    """A job spec file, read and checked by the platform's own loader and policy."""
    spec = validate_file(path, config).spec
    assert isinstance(spec, JobSpec)
    return spec


def start(core_v1: Any, spec: JobSpec, config: PlatformConfig, namespace: str) -> str:
    """Create ``spec``'s pod (as ``build_pod`` makes it) in ``namespace``; returns its name."""
    pod = build_pod(spec, config, RunContext(namespace=namespace))
    core_v1.create_namespaced_pod(namespace, pod)
    return str(pod.metadata.name)


def watch(
    core_v1: Any,
    name: str,
    namespace: str,
    timeout: float = 180,
    until: tuple[str, ...] = ("Succeeded", "Failed"),
) -> PodRun:
    """Poll the pod until its phase is one of ``until``; fails the test after ``timeout``."""
    created = time.monotonic()
    running_at = None
    while True:
        pod = core_v1.read_namespaced_pod(name, namespace)
        now = time.monotonic()
        if running_at is None and pod.status.phase in ("Running", "Succeeded", "Failed"):
            running_at = now
        if pod.status.phase in until:
            return PodRun(pod, created, running_at, now)
        if now - created > timeout:
            raise TimeoutError(
                f"pod {namespace}/{name} still {pod.status.phase} after {timeout:.0f} s: "
                f"{pod.status}"
            )
        time.sleep(0.2)


def run(
    core_v1: Any, spec: JobSpec, config: PlatformConfig, namespace: str, timeout: float = 180
) -> PodRun:
    """Create the job's pod and wait for it to end."""
    created = time.monotonic()
    result = watch(core_v1, start(core_v1, spec, config, namespace), namespace, timeout)
    result.created_at = created
    return result


def log(core_v1: Any, run_: PodRun, container: str = CONTAINER_NAME) -> str:
    """The container's log, read through the API server (and so through the kubelet)."""
    return pod_log(core_v1, run_.pod.metadata.name, run_.pod.metadata.namespace, container)


def pod_log(core_v1: Any, name: str, namespace: str, container: str = CONTAINER_NAME) -> str:
    """A container's log as text. Read raw: the client's own decoding gives the repr of the
    bytes (or a number, when the log is valid JSON)."""
    response = core_v1.read_namespaced_pod_log(
        name, namespace, container=container, _preload_content=False
    )
    return bytes(response.data).decode("utf-8", "replace")


def seconds_after_deadline(run_: PodRun) -> float:
    """How long after ``startTime + activeDeadlineSeconds`` the job container really ended."""
    started: datetime.datetime = run_.pod.status.start_time
    deadline = started + datetime.timedelta(seconds=run_.pod.spec.active_deadline_seconds)
    finished = run_.terminated().finished_at
    return (finished - deadline).total_seconds()
