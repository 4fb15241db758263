"""Small helpers for tests that talk to the control plane: waiting, bulk pod creation, and
the annotations that steer kwok's simulated containers (see tests/data/cluster/kwok-stages.yaml).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# Annotations our kwok stages read; the kwok stage file documents each one.
RUN_DURATION = "airflow-platform.test/run-duration"
KEEP_RUNNING = "airflow-platform.test/keep-running"
FAIL_EXIT_CODE = "airflow-platform.test/fail-exit-code"
FAIL_REASON = "airflow-platform.test/fail-reason"
FAIL_MESSAGE = "airflow-platform.test/fail-message"
NODE_KIND = "airflow-platform.test/node-kind"


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def ensure_namespace(core_v1: Any, name: str, labels: dict[str, str] | None = None) -> None:
    """Create namespace ``name`` (with ``labels``) unless it exists already."""
    from kubernetes.client.rest import ApiException

    try:
        core_v1.create_namespace({"metadata": {"name": name, "labels": labels or {}}})
    except ApiException as exc:
        if exc.status != 409:
            raise


def list_pods(api_client: Any, namespace: str) -> list[dict[str, Any]]:
    """The namespace's pods as plain JSON; skipping model deserialization keeps 1,000-pod
    polls cheap enough not to slow the apiserver they measure."""
    from kubernetes import client

    response = client.CoreV1Api(api_client).list_namespaced_pod(namespace, _preload_content=False)
    items: list[dict[str, Any]] = json.loads(response.data)["items"]
    return items


def create_pods(
    api_client: Any, namespace: str, pods: Iterable[dict[str, Any]], threads: int = 4
) -> int:
    """Create pods concurrently, the way many Airflow workers would submit them at once."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)

    def create(pod: dict[str, Any]) -> None:
        core.create_namespaced_pod(namespace, pod, _preload_content=False)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(1 for _ in pool.map(create, pods))


def node_kinds(api_client: Any) -> dict[str, str]:
    """Node name → its kind (cpu, highmem, gpu) from the nodes data file's label."""
    from kubernetes import client

    nodes = client.CoreV1Api(api_client).list_node().items
    return {n.metadata.name: (n.metadata.labels or {}).get(NODE_KIND, "") for n in nodes}


def warning_events(api_client: Any, namespace: str, pod_name: str, reason: str) -> list[str]:
    """Messages of events with `reason` about one pod, oldest first."""
    from kubernetes import client

    events = client.CoreV1Api(api_client).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={pod_name},reason={reason}"
    )
    return [e.message for e in events.items if e.message]


def apply_secret(core_v1: Any, namespace: str, secret: dict[str, Any]) -> None:
    """Creates the Secret, or replaces it when a test before this one made it."""
    from kubernetes.client.rest import ApiException

    try:
        core_v1.create_namespaced_secret(namespace, secret)
    except ApiException as exc:
        if exc.status != 409:
            raise
        core_v1.replace_namespaced_secret(secret["metadata"]["name"], namespace, secret)
