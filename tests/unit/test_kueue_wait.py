"""The task log's line for a job waiting for quota, from the objects Kueue keeps in the team's
namespace (the shapes the kueue tests read from the real Kueue)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_platform.config import parse_config
from airflow_platform.kueue import is_waiting_for_quota, jobs_ahead, wait_message

pytestmark = pytest.mark.unit

CONFIG = parse_config(
    b"""
teams: {vision: {quota: {cpu: "64", nvidia.com/gpu: "8"}}, nlp: {}}
flavors:
  cpu-2gb: {cpu: "1", memory: 2Gi}
  gpu-1x: {cpu: "8", memory: 48Gi, gpu: {count: 1}}
policy: {allowed_images: ["registry.internal/"]}
kueue: {enabled: true}
""",
    "platform.yaml",
)


def _pod(name: str, team: str = "vision", flavor: str = "cpu-2gb", gated: bool = True) -> Any:
    return {
        "metadata": {
            "name": name,
            "labels": {
                "airflow-platform/team": team,
                "airflow-platform/flavor": flavor,
                "kueue.x-k8s.io/queue-name": "airflow-platform",
            },
        },
        "spec": {"schedulingGates": [{"name": "kueue.x-k8s.io/admission"}] if gated else []},
    }


def _workload(pod: str, created: str, reserved: bool = False) -> Any:
    return {
        "metadata": {
            "creationTimestamp": created,
            "ownerReferences": [{"kind": "Pod", "name": pod}],
        },
        "spec": {"queueName": "airflow-platform"},
        "status": {
            "conditions": [{"type": "QuotaReserved", "status": "True" if reserved else "False"}]
        },
    }


LOCAL_QUEUE = {
    "status": {
        "flavorsReservation": [
            {"name": "cpu", "resources": [{"name": "cpu", "total": "60"}]},
            {"name": "gpu", "resources": [{"name": "nvidia.com/gpu", "total": "6"}]},
        ]
    }
}
WORKLOADS = [
    _workload("running", "2026-12-02T10:00:00Z", reserved=True),
    _workload("first", "2026-12-02T10:00:01Z"),
    _workload("second", "2026-12-02T10:00:02Z"),
    _workload("mine", "2026-12-02T10:00:03Z"),
]


def test_only_a_pod_behind_kueues_gate_is_waiting_for_quota() -> None:
    assert is_waiting_for_quota(_pod("mine"))
    assert not is_waiting_for_quota(_pod("mine", gated=False))


def test_jobs_ahead_are_the_waiting_ones_queued_earlier() -> None:
    assert jobs_ahead("mine", "airflow-platform", WORKLOADS) == 2
    assert jobs_ahead("first", "airflow-platform", WORKLOADS) == 0
    assert jobs_ahead("mine", "another-queue", WORKLOADS) == 0


@pytest.mark.parametrize(
    ("pod", "line"),
    [
        (
            _pod("mine"),
            "waiting for quota in queue vision: 2 jobs ahead; vision uses 60 of 64 CPUs",
        ),
        (
            _pod("first", flavor="gpu-1x"),
            "waiting for quota in queue vision: 0 jobs ahead; "
            "vision uses 60 of 64 CPUs, 6 of 8 nvidia.com/gpu",
        ),
        (
            _pod("mine", team="nlp"),
            "waiting for quota in queue nlp: 2 jobs ahead; nlp uses 60 CPUs (no quota of its own)",
        ),
    ],
)
def test_the_wait_line_names_the_queue_the_jobs_ahead_and_the_teams_use(
    pod: Any, line: str
) -> None:
    assert wait_message(pod, LOCAL_QUEUE, WORKLOADS, CONFIG) == line
