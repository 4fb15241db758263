"""Job pods against the real API server's PodSecurity admission (Pod Security Standard
`restricted`). kwok stands in for the kubelet and container runtime of the nodes the admitted
pods land on; admission itself is the real kube-apiserver."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from airflow_platform.config import load_config
from tests.cluster.jobpods import job_pod
from tests.harness.fixtures import delete_namespace
from tests.harness.kube import wait_for

pytestmark = pytest.mark.cluster

DEFAULT_FLAVORS = load_config().flavor_names()


@pytest.mark.parametrize("flavor", DEFAULT_FLAVORS)
def test_every_default_flavor_pod_is_admitted_under_pss_restricted(
    flavor: str, core_v1: Any, restricted_namespace: str
) -> None:
    """The pod builder's pod for each default flavor is accepted by the real API server in a
    namespace that enforces PSS `restricted`, with no warnings downgraded to audit."""
    created = core_v1.create_namespaced_pod(restricted_namespace, job_pod(flavor, f"job-{flavor}"))
    assert created.metadata.uid
    assert created.spec.security_context.run_as_non_root is True
    assert created.metadata.labels["airflow-platform/flavor"] == flavor


def _privileged(pod: dict[str, Any]) -> None:
    container = pod["spec"]["containers"][0]["securityContext"]
    container["privileged"] = True
    # The API refuses privileged together with allowPrivilegeEscalation=false before
    # admission runs; drop it so the pod reaches PodSecurity.
    del container["allowPrivilegeEscalation"]


def _run_as_root(pod: dict[str, Any]) -> None:
    pod["spec"]["securityContext"]["runAsNonRoot"] = False
    pod["spec"]["securityContext"]["runAsUser"] = 0
    pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = False


def _host_network(pod: dict[str, Any]) -> None:
    pod["spec"]["hostNetwork"] = True


def _added_capability(pod: dict[str, Any]) -> None:
    pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]


BREAKAGES: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("privileged", _privileged, ["privileged", "allowPrivilegeEscalation != false"]),
    ("run-as-root", _run_as_root, ["runAsNonRoot != true", "runAsUser=0"]),
    ("host-network", _host_network, ["host namespaces", "hostNetwork=true"]),
    ("net-admin", _added_capability, ["unrestricted capabilities", "NET_ADMIN"]),
]


@pytest.mark.parametrize(
    ("breakage", "reasons"),
    [pytest.param(fn, reasons, id=name) for name, fn, reasons in BREAKAGES],
)
def test_pod_breaking_pss_restricted_is_refused_with_the_reason(
    breakage: Callable[[dict[str, Any]], None],
    reasons: list[str],
    core_v1: Any,
    restricted_namespace: str,
) -> None:
    """A job pod changed by hand to break `restricted` is refused (403) by PodSecurity
    admission, and the refusal names the broken rule."""
    pod = job_pod("cpu-2gb", "broken")
    breakage(pod)
    with pytest.raises(ApiException) as refused:
        core_v1.create_namespaced_pod(restricted_namespace, pod)
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    for reason in reasons:
        assert reason in message, message
    assert not core_v1.list_namespaced_pod(restricted_namespace).items


def test_same_privileged_pod_is_admitted_where_pss_is_not_enforced(core_v1: Any) -> None:
    """The privileged pod refused above is admitted in a namespace without enforcement, so the
    refusal comes from PSS `restricted` and not from another check of the API server."""
    name = "pss-not-enforced"
    core_v1.create_namespace(
        {"metadata": {"name": name, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    )
    try:
        pod = job_pod("cpu-2gb", "privileged")
        _privileged(pod)
        wait_for(
            lambda: core_v1.list_namespaced_service_account(name).items,
            timeout=30,
            what="default service account",
        )
        created = core_v1.create_namespaced_pod(name, pod)
        assert created.spec.containers[0].security_context.privileged is True
    finally:
        delete_namespace(core_v1, name)
