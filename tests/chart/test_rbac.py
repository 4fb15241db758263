"""RBAC: pod rights in the workers' namespace for the scheduler, and in each team's jobs
namespace for the triggerer and (when they launch job pods) the workers; job pods hold none.
The install tests ask the real authorizer."""

from __future__ import annotations

import pytest

from tests.chart.render import (
    FULLNAME,
    NAMESPACE,
    TEAM_NAMESPACES,
    WORKERS_NAMESPACE,
    by_kind,
    find,
    render_chart,
)

pytestmark = pytest.mark.chart


def test_pod_launcher_roles_live_in_the_workers_and_jobs_namespaces_only() -> None:
    """One namespaced Role per namespace the platform's pods run in, and no ClusterRole or
    ClusterRoleBinding anywhere in the chart."""
    docs = render_chart()
    roles = by_kind(docs, "Role")
    assert sorted((r["metadata"]["name"], r["metadata"]["namespace"]) for r in roles) == sorted(
        [
            *(
                (f"{FULLNAME}-pod-launcher", ns)
                for ns in [WORKERS_NAMESPACE, *TEAM_NAMESPACES.values()]
            ),
            (f"{FULLNAME}-log-reader", WORKERS_NAMESPACE),
            # the pod-cleanup CronJob's list-and-delete Roles (tests/chart/test_maintenance.py)
            *(
                (f"{FULLNAME}-pod-cleanup", ns)
                for ns in [WORKERS_NAMESPACE, *TEAM_NAMESPACES.values()]
            ),
        ]
    )
    assert not by_kind(docs, "ClusterRole")
    assert not by_kind(docs, "ClusterRoleBinding")


@pytest.mark.parametrize("namespace", [WORKERS_NAMESPACE, *TEAM_NAMESPACES.values()])
def test_pod_launcher_role_grants_pods_and_logs_and_nothing_else(namespace: str) -> None:
    """Create, watch and delete pods, read their logs and events: no secrets, no exec."""
    role = find(render_chart(), "Role", f"{FULLNAME}-pod-launcher", namespace)
    grants = {
        (res, verb) for rule in role["rules"] for res in rule["resources"] for verb in rule["verbs"]
    }
    assert {
        ("pods", "create"),
        ("pods", "watch"),
        ("pods", "delete"),
        ("pods/log", "get"),
    } <= grants
    assert {res for res, _ in grants} == {"pods", "pods/log", "events"}
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    assert not [g for g in grants if g[0] == "events" and g[1] not in ("get", "list", "watch")]


def _subjects(docs: list[dict], namespace: str) -> list[tuple[str, str]]:
    binding = find(docs, "RoleBinding", f"{FULLNAME}-pod-launcher", namespace)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": f"{FULLNAME}-pod-launcher",
    }
    return [(s["name"], s["namespace"]) for s in binding["subjects"]]


@pytest.mark.parametrize(
    ("launch", "subjects"),
    [
        (True, [("triggerer", NAMESPACE), ("worker", WORKERS_NAMESPACE)]),
        (False, [("triggerer", NAMESPACE)]),
    ],
    ids=["workers-launch-job-pods", "workers-do-not"],
)
def test_roles_are_bound_to_the_pod_launching_service_accounts(
    launch: bool, subjects: list
) -> None:
    """The scheduler launches worker pods in the workers' namespace only; job pods are
    launched by workers and watched by the triggerer, in the teams' namespaces only. The
    api-server, the dag-processor and the job pods are never bound."""
    docs = render_chart({"workers": {"launchJobPods": launch}})
    assert _subjects(docs, WORKERS_NAMESPACE) == [(f"{FULLNAME}-scheduler", NAMESPACE)]
    for namespace in TEAM_NAMESPACES.values():
        assert _subjects(docs, namespace) == [(f"{FULLNAME}-{n}", ns) for n, ns in subjects]


def test_every_team_has_a_job_service_account_with_no_token_and_no_binding() -> None:
    """Job pods run scientists' code under an account nothing is granted to, one per team."""
    docs = render_chart()
    for namespace in TEAM_NAMESPACES.values():
        account = find(docs, "ServiceAccount", "airflow-platform-job", namespace)
        assert account["automountServiceAccountToken"] is False
    for binding in by_kind(docs, "RoleBinding"):
        assert "airflow-platform-job" not in [s["name"] for s in binding["subjects"]]


def test_job_service_account_name_comes_from_the_platform_policy() -> None:
    """The library puts policy.service_account on job pods; the chart creates that account."""
    docs = render_chart({"platform": {"policy": {"service_account": "ml-job-runner"}}})
    for namespace in TEAM_NAMESPACES.values():
        assert find(docs, "ServiceAccount", "ml-job-runner", namespace)


@pytest.mark.parametrize("namespace", [WORKERS_NAMESPACE, *TEAM_NAMESPACES.values()])
def test_chart_namespaces_enforce_restricted_pod_security(namespace: str) -> None:
    """The workers' and every team's namespace refuse any pod that is not `restricted`."""
    docs = render_chart()
    labels = find(docs, "Namespace", namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"


def test_a_team_namespace_carries_its_team_and_may_be_named_in_the_config() -> None:
    docs = render_chart({"platform": {"teams": {"vision": {"namespace": "cv-batch"}}}})
    assert find(docs, "Namespace", "cv-batch")["metadata"]["labels"]["airflow-platform/team"] == (
        "vision"
    )
    assert find(docs, "ServiceAccount", "airflow-platform-job", "cv-batch")


def test_existing_namespaces_are_not_created() -> None:
    """jobs.createNamespace=false leaves every namespace to whoever manages them."""
    assert not by_kind(render_chart({"jobs": {"createNamespace": False}}), "Namespace")


def test_a_team_quota_becomes_its_namespaces_resource_quota() -> None:
    quota = {"cpu": 64, "memory": "256Gi", "nvidia.com/gpu": 8}
    docs = render_chart({"platform": {"teams": {"vision": {"quota": quota}}}})
    (found,) = by_kind(docs, "ResourceQuota")
    assert found["metadata"]["namespace"] == TEAM_NAMESPACES["vision"]
    assert found["spec"]["hard"] == {
        "requests.cpu": "64",
        "requests.memory": "256Gi",
        "requests.nvidia.com/gpu": "8",
    }
