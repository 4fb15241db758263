"""Job pods for the cluster tests, built by the platform's one pod builder."""

from __future__ import annotations

from typing import Any

from airflow_platform.config import PlatformConfig, load_config
from airflow_platform.pods import build_pod, pod_to_dict
from airflow_platform.spec import JobSpec
from tests.harness.kube import KEEP_RUNNING

IMAGE = "registry.internal/tests/job:1.0"


def job_pod(
    flavor: str,
    name: str,
    config: PlatformConfig | None = None,
    annotations: dict[str, str] | None = None,
    execution_time: str = "10 minutes",
) -> dict[str, Any]:
    """The pod `build_pod` makes for a small job of `flavor`, as the API server receives it."""
    job = JobSpec(
        name=name,
        team="vision",
        resource_flavor=flavor,
        docker_image=IMAGE,
        execution_time=execution_time,
        execution_script="python -c 'print(42)'",
    )
    pod = pod_to_dict(build_pod(job, config or load_config()))
    pod["metadata"].pop("namespace", None)
    if annotations:
        pod["metadata"].setdefault("annotations", {}).update(annotations)
    return pod


def is_gpu_flavor(flavor: str, config: PlatformConfig | None = None) -> bool:
    return (config or load_config()).flavors[flavor].gpu is not None


def restricted_filler_pod(name: str, node: str, cpu: str, memory: str) -> dict[str, Any]:
    """A pod pinned to `node` that holds `cpu` and `memory` there and keeps running.

    It meets PSS restricted itself, so it can live in the tests' restricted namespaces.
    """
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": {KEEP_RUNNING: "true"}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "filler",
                    "image": IMAGE,
                    "resources": {
                        "requests": {"cpu": cpu, "memory": memory},
                        "limits": {"memory": memory},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
