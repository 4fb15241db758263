"""Job pods waiting in Kueue: whether a pod waits for its team's quota, and the one line that
says so in the task log.

With `kueue.enabled` (docs/kueue.md) every job pod carries its team's LocalQueue label and
Kueue's pod webhook holds it with a scheduling gate until the team's ClusterQueue admits it. A
gated pod is not unschedulable and not late: it is queued. Everything here reads the objects
of the team's own namespace (the pod, its LocalQueue, the Workloads), which the workers may
read; the quota itself comes from the platform config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from airflow_platform.config import PlatformConfig
from airflow_platform.quantity import parse_quantity

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
ADMISSION_GATE = "kueue.x-k8s.io/admission"
GROUP, VERSION = "kueue.x-k8s.io", "v1beta2"


def is_waiting_for_quota(pod: Mapping[str, Any]) -> bool:
    """Whether Kueue still holds ``pod`` (a pod as a plain dict, camelCase keys)."""
    gates = (pod.get("spec") or {}).get("schedulingGates") or []
    return any(gate.get("name") == ADMISSION_GATE for gate in gates)


def _quota_reserved(workload: Mapping[str, Any]) -> bool:
    for cond in (workload.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "QuotaReserved":
            return bool(cond.get("status") == "True")
    return False


def _owner_pod(workload: Mapping[str, Any]) -> str | None:
    for owner in (workload.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("kind") == "Pod":
            name: str = owner["name"]
            return name
    return None


def jobs_ahead(pod_name: str, queue: str, workloads: Iterable[Mapping[str, Any]]) -> int:
    """How many of the queue's waiting Workloads were queued before ``pod_name``'s (Kueue
    admits a team's jobs of equal priority oldest first)."""
    waiting = [
        w
        for w in workloads
        if (w.get("spec") or {}).get("queueName") == queue and not _quota_reserved(w)
    ]
    mine = [w for w in waiting if _owner_pod(w) == pod_name]
    if not mine:
        return len(waiting)
    since = mine[0]["metadata"]["creationTimestamp"]
    return sum(1 for w in waiting if w["metadata"]["creationTimestamp"] < since)


def _used(local_queue: Mapping[str, Any], resource: str) -> Decimal:
    total = Decimal(0)
    for flavor in (local_queue.get("status") or {}).get("flavorsReservation") or []:
        for usage in flavor.get("resources") or []:
            if usage.get("name") == resource:
                total += parse_quantity(str(usage.get("total", "0")))
    return total


def _amount(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _quantity(resource: str, value: Decimal) -> str:
    """Memory in the binary unit it divides into (as quotas are written), else plain."""
    if resource == "memory" and value:
        for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value % size == 0:
                return f"{_amount(value / size)}{unit}"
    return _amount(value)


def wait_message(
    pod: Mapping[str, Any],
    local_queue: Mapping[str, Any],
    workloads: Iterable[Mapping[str, Any]],
    config: PlatformConfig,
) -> str:
    """The task log's line for a pod that waits for quota, e.g. ``waiting for quota in queue
    vision: 12 jobs ahead; vision uses 60 of 64 CPUs``."""
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    team = labels.get("airflow-platform/team", "?")
    queue = labels.get(QUEUE_LABEL, config.kueue.local_queue)
    ahead = jobs_ahead(metadata.get("name", ""), queue, workloads)
    parts = [f"waiting for quota in queue {team}: {ahead} job{'s' if ahead != 1 else ''} ahead"]
    quota = (config.teams[team].quota if team in config.teams else None) or {}
    flavor = config.flavors.get(labels.get("airflow-platform/flavor", ""))
    shown = ["cpu"]
    if flavor is not None and flavor.gpu is not None:
        shown.append(flavor.gpu.resource)
    uses = []
    for resource in shown:
        unit = "CPUs" if resource == "cpu" else resource
        used = _amount(_used(local_queue, resource))
        if resource in quota:
            uses.append(f"{used} of {_amount(parse_quantity(quota[resource]))} {unit}")
        else:
            uses.append(f"{used} {unit} (no quota of its own)")
    parts.append(f"{team} uses {', '.join(uses)}")
    return "; ".join(parts)


def read_wait_message(api_client: Any, pod: Mapping[str, Any], config: PlatformConfig) -> str:
    """``wait_message`` for ``pod``, reading its LocalQueue and Workloads from its namespace."""
    from kubernetes import client

    custom = client.CustomObjectsApi(api_client)
    metadata = pod["metadata"]
    namespace = metadata["namespace"]
    queue = (metadata.get("labels") or {}).get(QUEUE_LABEL, config.kueue.local_queue)
    local_queue = custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "localqueues", queue
    )
    workloads = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "workloads")
    return wait_message(pod, local_queue, workloads["items"], config)


def queue_summary(
    team: str, config: PlatformConfig, local_queue: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A team's quota and, when its LocalQueue could be read, what it uses and how many jobs
    wait and run (`airflow-platform queues` prints this)."""
    quota = config.teams[team].quota or {}
    summary: dict[str, Any] = {
        "team": team,
        "namespace": config.namespace_of(team),
        "quota": dict(quota),
    }
    if local_queue is not None:
        status = local_queue.get("status") or {}
        resources = sorted(
            {
                usage["name"]
                for flavor in status.get("flavorsReservation") or []
                for usage in flavor.get("resources") or []
            }
            | set(quota)
        )
        summary["uses"] = {r: _quantity(r, _used(local_queue, r)) for r in resources}
        summary["waiting"] = int(status.get("pendingWorkloads", 0))
        summary["admitted"] = int(status.get("admittedWorkloads", 0))
    return summary


def read_local_queue(api_client: Any, namespace: str, name: str) -> dict[str, Any] | None:
    """The LocalQueue ``name`` of ``namespace``, or ``None`` when it does not exist."""
    from kubernetes import client

    try:
        found: dict[str, Any] = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "localqueues", name
        )
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise
    return found
