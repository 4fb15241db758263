"""Where the real kube-scheduler puts job pods on the simulated nodes of
tests/data/cluster/nodes.yaml (3 CPU, 1 high-memory, 2 tainted 4-GPU nodes). kwok stands in
for the kubelets and the container runtime; scheduling and binding are the real thing."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.utils import parse_quantity

from airflow_platform.config import Flavor, Gpu, load_config
from airflow_platform.scheduling import explain_unschedulable
from tests.cluster.jobpods import is_gpu_flavor, job_pod, restricted_filler_pod
from tests.harness.kube import (
    KEEP_RUNNING,
    create_pods,
    list_pods,
    node_kinds,
    wait_for,
    warning_events,
)

pytestmark = pytest.mark.cluster

KEEP = {KEEP_RUNNING: "true"}
CPU_FLAVORS = ["cpu-2gb", "cpu-4gb", "cpu-16gb", "ram-64gb"]
# Eight single-GPU pods fill both 4-GPU nodes exactly in any order; a 4-GPU pod among them
# could find the GPUs spread over both nodes and wait forever, which is real behaviour but
# not what these tests are about.
MIXED_200 = {"gpu-1x-24gb": 8, "cpu-2gb": 80, "cpu-4gb": 60, "cpu-16gb": 32, "ram-64gb": 20}


def _bound(
    api_client: Any, namespace: str, count: int, timeout: float = 120
) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        pods = list_pods(api_client, namespace)
        if len(pods) == count and all(p["spec"].get("nodeName") for p in pods):
            return pods
        return None

    return wait_for(check, timeout=timeout, what=f"{count} pods bound in {namespace}", interval=0.2)


def _flavor_of(pod: dict[str, Any]) -> str:
    flavor: str = pod["metadata"]["labels"]["airflow-platform/flavor"]
    return flavor


def _unschedulable(core_v1: Any, namespace: str, name: str) -> bool:
    pod = core_v1.read_namespaced_pod(name, namespace)
    conditions = pod.status.conditions or []
    return any(
        c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
        for c in conditions
    )


@pytest.fixture
def untainted_gpu_nodes(core_v1: Any, kube_client: Any) -> Iterator[list[str]]:
    """The GPU nodes without their taint for one test, restored afterwards."""
    gpu_nodes = [n for n, kind in node_kinds(kube_client).items() if kind == "gpu"]
    saved = {
        name: kube_client.sanitize_for_serialization(core_v1.read_node(name).spec.taints)
        for name in gpu_nodes
    }
    for name in gpu_nodes:
        core_v1.patch_node(name, {"spec": {"taints": []}})
    try:
        yield gpu_nodes
    finally:
        for name, taints in saved.items():
            core_v1.patch_node(name, {"spec": {"taints": taints}})


def test_gpu_flavor_pods_bind_only_to_gpu_nodes(
    kube_client: Any, restricted_namespace: str
) -> None:
    """A 4-GPU pod, then four 1-GPU pods, are all bound by the scheduler to GPU nodes: the
    GPU flavors' node affinity and toleration lead them there and nowhere else."""
    ns = restricted_namespace
    create_pods(kube_client, ns, [job_pod("gpu-4x-96gb", "gpu4-0", annotations=KEEP)])
    _bound(kube_client, ns, 1)
    create_pods(
        kube_client, ns, [job_pod("gpu-1x-24gb", f"gpu1-{i}", annotations=KEEP) for i in range(4)]
    )
    pods = _bound(kube_client, ns, 5)
    kinds = node_kinds(kube_client)
    placed = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods}
    assert {kinds[node] for node in placed.values()} == {"gpu"}, placed
    # The 4-GPU pod filled its node, so the single-GPU pods all went to the other one.
    assert {placed[f"gpu1-{i}"] for i in range(4)} == {n for n in kinds if kinds[n] == "gpu"} - {
        placed["gpu4-0"]
    }


def test_cpu_and_ram_flavor_pods_never_bind_to_gpu_nodes_even_when_those_are_emptiest(
    core_v1: Any, kube_client: Any, restricted_namespace: str, untainted_gpu_nodes: list[str]
) -> None:
    """With every CPU and high-memory node 80 % full and the GPU nodes empty and untainted,
    a pod without the platform's affinity lands on a GPU node (so the scheduler does prefer
    them), yet every CPU and RAM flavor pod from the pod builder lands on a non-GPU node."""
    ns = restricted_namespace
    kinds = node_kinds(kube_client)
    fillers = []
    for node in core_v1.list_node().items:
        if kinds[node.metadata.name] == "gpu":
            continue
        allocatable = node.status.allocatable
        cpu = int(parse_quantity(allocatable["cpu"]) * 8 // 10)
        memory = f"{int(parse_quantity(allocatable['memory']) * 8 // 10) // 2**20}Mi"
        fillers.append(
            restricted_filler_pod(
                f"filler-{node.metadata.name}", node.metadata.name, str(cpu), memory
            )
        )
    create_pods(kube_client, ns, fillers)
    _bound(kube_client, ns, len(fillers))

    control = restricted_filler_pod("no-affinity", "", "1", "2Gi")
    del control["spec"]["nodeName"]
    create_pods(kube_client, ns, [control])
    pods = _bound(kube_client, ns, len(fillers) + 1)
    control_node = next(
        p["spec"]["nodeName"] for p in pods if p["metadata"]["name"] == "no-affinity"
    )
    assert kinds[control_node] == "gpu", "the scheduler should prefer the empty GPU nodes"

    flavor_pods = [job_pod(f, f"{f}-{i}", annotations=KEEP) for f in CPU_FLAVORS for i in range(5)]
    create_pods(kube_client, ns, flavor_pods)
    pods = _bound(kube_client, ns, len(fillers) + 1 + len(flavor_pods))
    landed = {
        p["metadata"]["name"]: kinds[p["spec"]["nodeName"]]
        for p in pods
        if p["metadata"].get("labels", {}).get("airflow-platform/flavor")
    }
    assert len(landed) == len(flavor_pods)
    assert set(landed.values()) <= {"cpu", "highmem"}, landed


def test_gpu_request_larger_than_any_node_stays_pending_and_is_explained(
    core_v1: Any, kube_client: Any, restricted_namespace: str
) -> None:
    """A flavor asking for 8 GPUs (nodes have 4) stays Pending with reason Unschedulable, and
    explain_unschedulable turns the scheduler's real FailedScheduling event into a message
    naming the flavor, what it asks for and what the largest GPU node offers."""
    ns = restricted_namespace
    config = load_config()
    big = Flavor(cpu="64", memory="384Gi", gpu=Gpu(count=8, product="NVIDIA-A10G"))
    config = config.model_copy(update={"flavors": {**config.flavors, "gpu-8x-192gb": big}})
    create_pods(kube_client, ns, [job_pod("gpu-8x-192gb", "too-big", config=config)])
    wait_for(lambda: _unschedulable(core_v1, ns, "too-big"), timeout=30, what="PodScheduled=False")
    events = wait_for(
        lambda: warning_events(kube_client, ns, "too-big", "FailedScheduling"),
        timeout=30,
        what="a FailedScheduling event",
    )
    pod = core_v1.read_namespaced_pod("too-big", ns)
    assert pod.status.phase == "Pending"
    assert pod.spec.node_name is None
    assert "Insufficient nvidia.com/gpu" in events[-1]

    message = explain_unschedulable(events[-1], "gpu-8x-192gb", big, core_v1.list_node().items)
    print(f"\nscheduler: {events[-1]}\nexplained: {message}")
    assert "job flavor 'gpu-8x-192gb' asks for 8 GPUs, 64 CPUs and 384Gi memory" in message
    assert "the largest NVIDIA-A10G GPU node (gpu-" in message
    assert "offers 4 GPUs, 96 CPUs and 384Gi memory: not enough GPUs" in message
    assert "can ever run this flavor" in message


def test_gpu_job_waiting_for_busy_gpus_is_explained_and_starts_when_they_free_up(
    core_v1: Any, kube_client: Any, restricted_namespace: str
) -> None:
    """With both GPU nodes taken by 4-GPU jobs, a 1-GPU job is Unschedulable; the explanation
    says it fits but the GPUs are busy, and the scheduler binds it once one job is gone."""
    ns = restricted_namespace
    create_pods(
        kube_client, ns, [job_pod("gpu-4x-96gb", f"big-{i}", annotations=KEEP) for i in range(2)]
    )
    _bound(kube_client, ns, 2)
    create_pods(kube_client, ns, [job_pod("gpu-1x-24gb", "waits", annotations=KEEP)])
    wait_for(lambda: _unschedulable(core_v1, ns, "waits"), timeout=30, what="PodScheduled=False")
    events = wait_for(
        lambda: warning_events(kube_client, ns, "waits", "FailedScheduling"),
        timeout=30,
        what="a FailedScheduling event",
    )
    config = load_config()
    message = explain_unschedulable(
        events[-1], "gpu-1x-24gb", config.flavors["gpu-1x-24gb"], core_v1.list_node().items
    )
    print(f"\nscheduler: {events[-1]}\nexplained: {message}")
    assert "job flavor 'gpu-1x-24gb' asks for 1 GPU, 8 CPUs and 48Gi memory" in message
    assert "which is enough, but every NVIDIA-A10G GPU node that fits is busy" in message
    assert "starts as soon as capacity frees up" in message

    core_v1.delete_namespaced_pod("big-0", ns, grace_period_seconds=0)
    pods = _bound(kube_client, ns, 2, timeout=60)
    assert {p["metadata"]["name"] for p in pods} == {"big-1", "waits"}


def test_200_mixed_job_pods_submitted_at_once_all_bind_to_the_right_kind_of_node(
    kube_client: Any, restricted_namespace: str
) -> None:
    """200 job pods of every CPU flavor and the 1-GPU flavor, created concurrently, are all
    bound by the real scheduler: GPU flavors on GPU nodes, the rest on CPU or high-memory
    nodes. The binding time is printed."""
    ns = restricted_namespace
    pods = [
        job_pod(flavor, f"{flavor}-{i}", annotations=KEEP)
        for flavor, count in MIXED_200.items()
        for i in range(count)
    ]
    assert len(pods) == 200
    random.Random(200).shuffle(pods)
    started = time.monotonic()
    try:
        create_pods(kube_client, ns, pods)
    except ApiException as err:
        pytest.fail(f"the API server refused a job pod: {err.status} {err.body}")
    submitted = time.monotonic() - started
    bound = _bound(kube_client, ns, len(pods))
    elapsed = time.monotonic() - started
    print(
        f"\n200 mixed job pods: submitted in {submitted:.1f} s, all bound in {elapsed:.1f} s "
        f"({len(pods) / elapsed:.0f} pods/s)",
        file=sys.stderr,
    )
    kinds = node_kinds(kube_client)
    wrong = [
        (p["metadata"]["name"], p["spec"]["nodeName"])
        for p in bound
        if (kinds[p["spec"]["nodeName"]] == "gpu") != is_gpu_flavor(_flavor_of(p))
    ]
    assert not wrong, f"pods on the wrong kind of node: {wrong}"
    used = {kinds[p["spec"]["nodeName"]] for p in bound}
    assert {"gpu", "cpu"} <= used
