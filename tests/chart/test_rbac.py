"""RBAC: pod rights in the jobs namespace only, for the scheduler, the triggerer and (when they
launch job pods) the workers; job pods hold none. The install tests ask the real authorizer."""

from __future__ import annotations

import pytest

from tests.chart.render import FULLNAME, JOBS_NAMESPACE, NAMESPACE, by_kind, find, render_chart

pytestmark = pytest.mark.chart


def test_pod_launcher_role_lives_in_the_jobs_namespace_only() -> None:
    """One namespaced Role, and no ClusterRole or ClusterRoleBinding anywhere in the chart."""
    docs = render_chart()
    roles = by_kind(docs, "Role")
    assert [(r["metadata"]["name"], r["metadata"]["namespace"]) for r in roles] == [
        (f"{FULLNAME}-pod-launcher", JOBS_NAMESPACE)
    ]
    assert not by_kind(docs, "ClusterRole")
    assert not by_kind(docs, "ClusterRoleBinding")


def test_pod_launcher_role_grants_pods_and_logs_and_nothing_else() -> None:
    """Create, watch and delete pods, read their logs and events: no secrets, no exec."""
    role = find(render_chart(), "Role", f"{FULLNAME}-pod-launcher")
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


@pytest.mark.parametrize(
    ("launch", "subjects"),
    [
        (
            True,
            [
                ("scheduler", NAMESPACE),
                ("triggerer", NAMESPACE),
                ("worker", JOBS_NAMESPACE),
            ],
        ),
        (False, [("scheduler", NAMESPACE), ("triggerer", NAMESPACE)]),
    ],
    ids=["workers-launch-job-pods", "workers-do-not"],
)
def test_role_is_bound_to_the_pod_launching_service_accounts(launch: bool, subjects: list) -> None:
    """Exactly these service accounts may launch pods; the api-server, the dag-processor and the
    job pods are never bound."""
    binding = find(
        render_chart({"workers": {"launchJobPods": launch}}),
        "RoleBinding",
        f"{FULLNAME}-pod-launcher",
    )
    assert binding["metadata"]["namespace"] == JOBS_NAMESPACE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": f"{FULLNAME}-pod-launcher",
    }
    assert [(s["name"], s["namespace"]) for s in binding["subjects"]] == [
        (f"{FULLNAME}-{name}", ns) for name, ns in subjects
    ]


def test_job_service_account_has_no_token_and_no_binding() -> None:
    """Job pods run scientists' code under an account nothing is granted to."""
    docs = render_chart()
    account = find(docs, "ServiceAccount", "airflow-platform-job", JOBS_NAMESPACE)
    assert account["automountServiceAccountToken"] is False
    for binding in by_kind(docs, "RoleBinding"):
        assert "airflow-platform-job" not in [s["name"] for s in binding["subjects"]]


def test_job_service_account_name_comes_from_the_platform_policy() -> None:
    """The library puts policy.service_account on job pods; the chart creates that account."""
    docs = render_chart({"platform": {"policy": {"service_account": "ml-job-runner"}}})
    assert find(docs, "ServiceAccount", "ml-job-runner", JOBS_NAMESPACE)


def test_jobs_namespace_enforces_restricted_pod_security() -> None:
    """The chart-created jobs namespace refuses any pod that is not `restricted`."""
    namespace = find(
        render_chart(None, "templates/jobs/namespace.yaml"), "Namespace", JOBS_NAMESPACE
    )
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"


def test_existing_jobs_namespace_is_not_created() -> None:
    """jobs.createNamespace=false leaves the namespace to whoever manages it."""
    assert not by_kind(render_chart({"jobs": {"createNamespace": False}}), "Namespace")
