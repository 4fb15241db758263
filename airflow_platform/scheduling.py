"""Why a job pod is not scheduled, in words a scientist understands.

The scheduler's FailedScheduling event counts nodes per reason ("0/6 nodes are available:
2 Insufficient nvidia.com/gpu, 4 node(s) didn't match Pod's node affinity/selector"). That is
precise but speaks of nodes and affinities; a scientist asked for a flavor. This module says
what the flavor asks for, what the largest node it may run on offers, and whether the job is
waiting for capacity or can never run as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubernetes.client import V1Node

from airflow_platform.config import Flavor, GpuNodes, format_memory, parse_cpu, parse_memory
from airflow_platform.quantity import parse_quantity

# The summary sentence ends at ". " (resource names such as nvidia.com/gpu contain dots).
_SUMMARY = re.compile(r"\d+/\d+ nodes are available:\s*(?P<reasons>.*?)(?:\.\s|\.?$)")
_REASON = re.compile(r"(?P<count>\d+)\s+(?P<reason>[^,]+)")


@dataclass(frozen=True, slots=True)
class _Offer:
    """What one node can give a pod: cores, bytes of memory, GPUs."""

    name: str
    cpu: float
    memory: int
    gpus: int


def scheduler_reasons(event_message: str) -> dict[str, int]:
    """The per-reason node counts of a FailedScheduling message (before its preemption part)."""
    match = _SUMMARY.search(event_message)
    if not match:
        return {}
    reasons: dict[str, int] = {}
    for part in _REASON.finditer(match["reasons"]):
        reasons[part["reason"].strip()] = int(part["count"])
    return reasons


def explain_unschedulable(
    event_message: str,
    flavor_name: str,
    flavor: Flavor,
    nodes: list[V1Node],
    gpu_nodes: GpuNodes | None = None,
) -> str:
    """A sentence or two for the scientist whose job pod the scheduler could not place.

    ``nodes`` are the cluster's nodes as the API returns them; only those the flavor may run
    on (GPU nodes of its product for a GPU flavor, the others for a CPU flavor) are compared.
    """
    marks = gpu_nodes or GpuNodes()
    gpu_resource = flavor.gpu.resource if flavor.gpu else "nvidia.com/gpu"
    eligible = [_offer(node, gpu_resource) for node in nodes if _may_run_on(node, flavor, marks)]
    kind = "GPU node" if flavor.gpu else "CPU node"
    if flavor.gpu and flavor.gpu.product:
        kind = f"{flavor.gpu.product} GPU node"
    asked = _describe(parse_cpu(flavor.cpu), parse_memory(flavor.memory), _gpus(flavor))
    scheduler = _scheduler_summary(event_message)
    head = f"job flavor '{flavor_name}' asks for {asked}"
    if not eligible:
        return (
            f"{head}, but the cluster has no {kind} at all, so the job cannot start. "
            f"Ask the platform team which flavors this cluster can run.{scheduler}"
        )
    largest = max(eligible, key=lambda offer: _closeness(offer, flavor))
    offers = _describe(largest.cpu, largest.memory, largest.gpus if flavor.gpu else 0)
    short = _shortfalls(largest, flavor)
    where = f"the largest {kind} ({largest.name}) offers {offers}"
    if short:
        return (
            f"{head}, but {where}: not enough {' or '.join(short)}. No {kind} in this cluster "
            f"can ever run this flavor; pick a smaller flavor or ask the platform team for "
            f"bigger nodes.{scheduler}"
        )
    if any(reason.startswith("Insufficient") for reason in scheduler_reasons(event_message)):
        return (
            f"{head}; {where}, which is enough, but every {kind} that fits is busy with other "
            f"jobs right now. The job starts as soon as capacity frees up.{scheduler}"
        )
    # Enough room but no placement: cordoned, tainted or unready nodes, which only the
    # platform team can change.
    return (
        f"{head}; {where}, which is enough, but none of them accepts the job right now. "
        f"Tell the platform team; the scheduler says why.{scheduler}"
    )


def _may_run_on(node: V1Node, flavor: Flavor, marks: GpuNodes) -> bool:
    labels = (node.metadata.labels if node.metadata else None) or {}
    if not flavor.gpu:
        return marks.label not in labels
    if marks.label not in labels:
        return False
    return flavor.gpu.product is None or labels.get(marks.product_label) == flavor.gpu.product


def _offer(node: V1Node, gpu_resource: str) -> _Offer:
    status = node.status
    allocatable = (status.allocatable if status else None) or {}
    # Node quantities come in the API's canonical form ("1k", "95500m", "16384Ki"), which the
    # flavor parsers do not accept; the client's parser reads them all.
    return _Offer(
        name=node.metadata.name,
        cpu=float(parse_quantity(allocatable.get("cpu", "0"))),
        memory=int(parse_quantity(allocatable.get("memory", "0"))),
        gpus=int(parse_quantity(allocatable.get(gpu_resource, "0"))),
    )


def _gpus(flavor: Flavor) -> int:
    return flavor.gpu.count if flavor.gpu else 0


def _closeness(offer: _Offer, flavor: Flavor) -> tuple[float, float]:
    # The node that comes nearest to fitting: its scarcest resource relative to the request
    # first, then total headroom, so "largest" means largest for this flavor.
    ratios = [offer.cpu / parse_cpu(flavor.cpu), offer.memory / parse_memory(flavor.memory)]
    if flavor.gpu:
        ratios.append(offer.gpus / flavor.gpu.count)
    return min(ratios), sum(ratios)


def _shortfalls(offer: _Offer, flavor: Flavor) -> list[str]:
    short = []
    if flavor.gpu and offer.gpus < flavor.gpu.count:
        short.append("GPUs")
    if offer.cpu < parse_cpu(flavor.cpu):
        short.append("CPUs")
    if offer.memory < parse_memory(flavor.memory):
        short.append("memory")
    return short


def _describe(cpu: float, memory: float, gpus: int) -> str:
    cores = f"{cpu:g} CPU" + ("" if cpu == 1 else "s")
    parts = [cores, f"{format_memory(memory)} memory"]
    if gpus:
        parts.insert(0, f"{gpus} GPU" + ("" if gpus == 1 else "s"))
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _scheduler_summary(event_message: str) -> str:
    reasons = scheduler_reasons(event_message)
    if not reasons:
        return ""
    detail = ", ".join(f"{count} {reason}" for reason, count in reasons.items())
    return f" (scheduler: {detail})"
