"""The Kueue harness itself: the pinned controller runs, its webhooks gate the pods of the jobs
namespaces only, and a missing binary is a failure that names the install command."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.harness import tools
from tests.harness.kube import wait_for
from tests.harness.kueue import Kueue

pytestmark = pytest.mark.kueue

GROUP, VERSION = "kueue.x-k8s.io", "v1beta2"


def _obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def _pod(namespace: str, name: str, queue: str | None) -> dict[str, Any]:
    labels = {"kueue.x-k8s.io/queue-name": queue} if queue else {}
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "base",
                    "image": "registry.internal/x:1",
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                }
            ],
        },
    }


def test_kueue_binary_is_the_pinned_version() -> None:
    out = subprocess.run(
        [tools.tool_path("kueue"), "--help"], capture_output=True, text=True, check=False
    )
    assert "-config" in out.stdout + out.stderr
    assert tools.tool_path("kueue").parent.name == f"kueue-{tools.versions()['KUEUE_VERSION']}"


def test_pods_of_a_jobs_namespace_are_gated_until_admitted_and_others_are_left_alone(
    kueue: Kueue, kube_client: Any, core_v1: Any
) -> None:
    custom = client.CustomObjectsApi(kube_client)
    team_ns, other_ns = "kueue-harness-team", "kueue-harness-other"
    core_v1.create_namespace(
        {"metadata": {"name": team_ns, "labels": {"airflow-platform/team": "harness"}}}
    )
    core_v1.create_namespace({"metadata": {"name": other_ns}})
    custom.create_cluster_custom_object(
        GROUP, VERSION, "resourceflavors", _obj("ResourceFlavor", "harness-cpu", {})
    )
    custom.create_cluster_custom_object(
        GROUP,
        VERSION,
        "clusterqueues",
        _obj(
            "ClusterQueue",
            "harness",
            {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": ["cpu", "memory"],
                        "flavors": [
                            {
                                "name": "harness-cpu",
                                "resources": [
                                    {"name": "cpu", "nominalQuota": "1"},
                                    {"name": "memory", "nominalQuota": "1Gi"},
                                ],
                            }
                        ],
                    }
                ],
            },
        ),
    )
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        team_ns,
        "localqueues",
        _obj("LocalQueue", "q", {"clusterQueue": "harness"}),
    )
    try:
        # The webhook gates the pod at creation, before Kueue has looked at it.
        created = core_v1.create_namespaced_pod(team_ns, _pod(team_ns, "queued", "q"))
        gates = [g.name for g in created.spec.scheduling_gates or []]
        assert "kueue.x-k8s.io/admission" in gates
        wait_for(
            lambda: core_v1.read_namespaced_pod("queued", team_ns).status.phase == "Succeeded",
            timeout=60,
            what="the queued pod admitted and finished",
        )
        untouched = core_v1.create_namespaced_pod(other_ns, _pod(other_ns, "plain", "q"))
        assert not untouched.spec.scheduling_gates
    finally:
        for ns in (team_ns, other_ns):
            core_v1.delete_collection_namespaced_pod(ns, grace_period_seconds=0)
        custom.delete_namespaced_custom_object(GROUP, VERSION, team_ns, "localqueues", "q")
        custom.delete_cluster_custom_object(GROUP, VERSION, "clusterqueues", "harness")
        custom.delete_cluster_custom_object(GROUP, VERSION, "resourceflavors", "harness-cpu")
        for ns in (team_ns, other_ns):
            core_v1.delete_namespace(ns)


def test_a_missing_kueue_binary_fails_naming_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_PLATFORM_TOOLS", str(tmp_path))
    with pytest.raises(tools.ToolMissingError, match="make tools"):
        tools.tool_path("kueue")
