"""Kueue from the catalog: a ResourceFlavor per kind of node, a ClusterQueue per team with its
quota, a LocalQueue in each team's jobs namespace, and the platform config telling the pod
builder to label job pods with it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from airflow_platform.config import parse_config
from tests.chart.render import (
    FULLNAME,
    NAMESPACE,
    TEAM_NAMESPACES,
    VALUES_DIR,
    HelmError,
    by_kind,
    find,
    render_chart,
)

pytestmark = pytest.mark.chart

KUEUE_VALUES = VALUES_DIR / "kueue.yaml"
TEMPLATES = [
    "templates/kueue/resourceflavor.yaml",
    "templates/kueue/clusterqueue.yaml",
    "templates/kueue/localqueue.yaml",
]


def _kueue_docs() -> list[dict[str, Any]]:
    return render_chart(show_only=TEMPLATES, values_files=[KUEUE_VALUES])


def _quotas(queue: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (flavor["name"], resource["name"]): {k: v for k, v in resource.items() if k != "name"}
        for group in queue["spec"]["resourceGroups"]
        for flavor in group["flavors"]
        for resource in flavor["resources"]
    }


def test_kueue_is_off_by_default_and_the_namespaces_keep_their_resource_quotas() -> None:
    docs = render_chart(
        {"platform": {"teams": {"vision": {"quota": {"cpu": "8"}}}}},
        show_only=["templates/jobs/resourcequota.yaml"],
    )
    assert [d["kind"] for d in docs] == ["ResourceQuota"]
    with pytest.raises(HelmError, match="could not find template"):
        render_chart(show_only=TEMPLATES)


def test_a_resource_flavor_per_kind_of_node_with_the_gpu_labels_and_taint() -> None:
    flavors = {d["metadata"]["name"]: d["spec"] for d in by_kind(_kueue_docs(), "ResourceFlavor")}
    taint = [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    assert flavors == {
        f"{FULLNAME}-cpu": {},
        f"{FULLNAME}-gpu-nvidia-a10g": {
            "nodeLabels": {"nvidia.com/gpu.product": "NVIDIA-A10G"},
            "nodeTaints": taint,
        },
        f"{FULLNAME}-gpu-nvidia-h100-80gb-hbm3": {
            "nodeLabels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            "nodeTaints": taint,
        },
    }


def test_each_team_has_a_cluster_queue_with_its_quota_in_one_cohort() -> None:
    docs = _kueue_docs()
    queues = by_kind(docs, "ClusterQueue")
    assert sorted(q["metadata"]["name"] for q in queues) == [
        f"{FULLNAME}-{team}" for team in ("analytics", "nlp", "vision")
    ]
    assert {q["spec"]["cohortName"] for q in queues} == {FULLNAME}
    vision = _quotas(find(docs, "ClusterQueue", f"{FULLNAME}-vision"))
    assert vision[(f"{FULLNAME}-cpu", "cpu")] == {"nominalQuota": "64", "borrowingLimit": "16"}
    assert vision[(f"{FULLNAME}-cpu", "memory")] == {"nominalQuota": "256Gi"}
    for product in ("nvidia-a10g", "nvidia-h100-80gb-hbm3"):
        assert vision[(f"{FULLNAME}-gpu-{product}", "nvidia.com/gpu")] == {
            "nominalQuota": "8",
            "borrowingLimit": "0",
        }
    analytics = _quotas(find(docs, "ClusterQueue", f"{FULLNAME}-analytics"))
    # A resource the quota does not name is none of the team's own (it may still borrow).
    assert analytics[(f"{FULLNAME}-gpu-nvidia-a10g", "nvidia.com/gpu")] == {"nominalQuota": "0"}


def test_a_teams_cluster_queue_serves_only_its_jobs_namespace() -> None:
    queue = find(_kueue_docs(), "ClusterQueue", f"{FULLNAME}-nlp")
    assert queue["spec"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": TEAM_NAMESPACES["nlp"]}
    }


def test_preemption_queueing_and_fair_sharing_come_from_values() -> None:
    docs = render_chart(
        {
            "kueue": {
                "enabled": True,
                "queueingStrategy": "StrictFIFO",
                "preemption": {"reclaimWithinCohort": "Never"},
                "fairSharingWeight": "2",
                "cohort": "research",
            }
        },
        show_only="templates/kueue/clusterqueue.yaml",
    )
    spec = docs[0]["spec"]
    assert spec["queueingStrategy"] == "StrictFIFO"
    assert spec["preemption"] == {"reclaimWithinCohort": "Never", "withinClusterQueue": "Never"}
    assert spec["fairSharing"] == {"weight": "2"}
    assert spec["cohortName"] == "research"


def test_a_local_queue_in_each_teams_namespace_points_at_its_cluster_queue() -> None:
    queues = by_kind(_kueue_docs(), "LocalQueue")
    assert {
        q["metadata"]["namespace"]: (q["metadata"]["name"], q["spec"]["clusterQueue"])
        for q in queues
    } == {ns: ("airflow-platform", f"{FULLNAME}-{team}") for team, ns in TEAM_NAMESPACES.items()}


def test_the_platform_config_turns_the_queue_label_on_and_no_resource_quota_is_rendered() -> None:
    docs = render_chart(values_files=[KUEUE_VALUES])
    assert not by_kind(docs, "ResourceQuota")
    text = find(docs, "ConfigMap", f"{FULLNAME}-platform-config", NAMESPACE)["data"][
        "platform.yaml"
    ]
    config = parse_config(text.encode(), "platform.yaml")
    assert config.kueue.enabled
    assert config.kueue.local_queue == "airflow-platform"
    assert config.kueue.max_wait.total_seconds() == 24 * 3600
    assert yaml.safe_load(text)["teams"]["vision"]["borrowing_limit"] == {
        "cpu": "16",
        "nvidia.com/gpu": "0",
    }


def test_kueue_under_platform_is_refused_because_the_chart_sets_it() -> None:
    with pytest.raises(HelmError, match="kueue"):
        render_chart({"platform": {"kueue": {"enabled": True}}})


def test_with_kueue_the_launchers_may_read_the_teams_queues_and_workloads_only() -> None:
    """The task log's waiting line reads the team's LocalQueue and Workloads: get and list, in
    the jobs namespaces, nothing else of Kueue's and nothing in the workers' namespace."""
    docs = render_chart(
        show_only="templates/rbac/pod-launcher-role.yaml", values_files=[KUEUE_VALUES]
    )
    for role in by_kind(docs, "Role"):
        kueue_rules = [r for r in role["rules"] if r["apiGroups"] == ["kueue.x-k8s.io"]]
        if role["metadata"]["namespace"] in TEAM_NAMESPACES.values():
            assert kueue_rules == [
                {
                    "apiGroups": ["kueue.x-k8s.io"],
                    "resources": ["localqueues", "workloads"],
                    "verbs": ["get", "list"],
                }
            ]
        else:
            assert kueue_rules == []
