"""NetworkPolicies: job and worker pods take no ingress; each component only what it needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.chart.render import (
    FULLNAME,
    NAMESPACE,
    TEAM_NAMESPACES,
    WORKERS_NAMESPACE,
    by_kind,
    find,
    library_job_pod,
    render_chart,
)

pytestmark = pytest.mark.chart


def _policy(name: str, namespace: str = NAMESPACE, values: dict | None = None) -> dict:
    return find(render_chart(values), "NetworkPolicy", name, namespace)


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics, enough for the operators the chart uses."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        value = labels.get(expr["key"])
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
    return True


def test_job_pods_take_no_ingress_in_any_teams_namespace(tmp_path: Path) -> None:
    """Each team's namespace has a deny-all policy that selects every pod there, a job pod as
    the library builds it included."""
    docs = render_chart()
    platform = find(docs, "ConfigMap", f"{FULLNAME}-platform-config", WORKERS_NAMESPACE)
    job_pod = library_job_pod(platform["data"]["platform.yaml"], tmp_path)
    for namespace in TEAM_NAMESPACES.values():
        policy = find(docs, "NetworkPolicy", f"{FULLNAME}-jobs-deny-ingress", namespace)
        assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}
        assert _selects(policy["spec"]["podSelector"], job_pod["metadata"]["labels"])


def test_worker_pods_take_no_ingress(tmp_path: Path) -> None:
    """The workers' namespace denies ingress to a worker pod as the executor starts it."""
    docs = render_chart()
    policy = find(docs, "NetworkPolicy", f"{FULLNAME}-workers-deny-ingress", WORKERS_NAMESPACE)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == []
    worker = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
    worker_pod = yaml.safe_load(worker["data"]["pod_template_file.yaml"])
    assert _selects(policy["spec"]["podSelector"], worker_pod["metadata"]["labels"])


def test_workers_policy_spares_components_sharing_the_namespace() -> None:
    """When workers run in the release namespace the deny policy still leaves the api-server
    be."""
    values = {
        "platform": {"policy": {"jobs_namespace": NAMESPACE}},
        "jobs": {"createNamespace": False},
    }
    policy = _policy(f"{FULLNAME}-workers-deny-ingress", NAMESPACE, values)
    api_server = {"app.kubernetes.io/component": "api-server"}
    assert not _selects(policy["spec"]["podSelector"], api_server)


@pytest.mark.parametrize("component", ["scheduler", "dag-processor"])
def test_components_nobody_calls_take_no_ingress(component: str) -> None:
    """Scheduler and dag-processor serve nobody over the network."""
    policy = _policy(f"{FULLNAME}-{component}")
    assert policy["spec"]["ingress"] == []
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component


def test_api_server_takes_ingress_on_its_port_only() -> None:
    """Users and worker pods reach the api-server on its service port, nothing else."""
    policy = _policy(f"{FULLNAME}-api-server", values={"apiServer": {"service": {"port": 8443}}})
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 8443, "protocol": "TCP"}]}]


def test_triggerer_takes_log_requests_from_the_api_server_only() -> None:
    """The triggerer's log port is open to the api-server's pods alone."""
    (rule,) = _policy(f"{FULLNAME}-triggerer")["spec"]["ingress"]
    assert rule["ports"] == [{"port": 8794, "protocol": "TCP"}]
    assert [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rule["from"]
    ] == ["api-server"]


def test_database_takes_connections_from_airflow_components_only() -> None:
    """PostgreSQL accepts 5432 from the four components, the migration Job and the db-clean
    CronJob, not job pods."""
    (rule,) = _policy(f"{FULLNAME}-postgresql")["spec"]["ingress"]
    assert rule["ports"] == [{"port": 5432, "protocol": "TCP"}]
    allowed = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rule["from"]
    }
    assert allowed == {
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "migrate-database",
        "db-clean",
    }


def test_network_policies_can_be_turned_off() -> None:
    """Clusters without an enforcing CNI can leave them out."""
    assert not by_kind(render_chart({"networkPolicies": {"enabled": False}}), "NetworkPolicy")


def _admits(rule: dict, namespace: str, labels: dict[str, str], home: str, port: int) -> bool:
    """Whether one ingress rule lets a pod (its namespace and labels) in on a UDP port, for a
    policy living in namespace `home` (a peer without namespaceSelector means that one)."""
    if not any(p["port"] == port and p["protocol"] == "UDP" for p in rule.get("ports", [])):
        return False
    if "from" not in rule:
        return True
    namespace_labels = {"kubernetes.io/metadata.name": namespace}
    for peer in rule["from"]:
        in_namespace = (
            _selects(peer["namespaceSelector"], namespace_labels)
            if "namespaceSelector" in peer
            else namespace == home
        )
        if in_namespace and _selects(peer.get("podSelector") or {}, labels):
            return True
    return False


def _worker_pod_labels(docs: list[dict]) -> dict[str, str]:
    worker = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
    labels: dict[str, str] = yaml.safe_load(worker["data"]["pod_template_file.yaml"])["metadata"][
        "labels"
    ]
    return labels


def test_worker_pods_reach_statsd_exporter_on_udp_9125() -> None:
    """A worker pod in the workers' namespace, labelled as the executor starts it, may send
    StatsD (its ti.finish metric) to the statsd-exporter in the release namespace, at the
    address its airflow.cfg names; a job pod or a stranger's pod there may not."""
    docs = render_chart()
    policy = find(docs, "NetworkPolicy", f"{FULLNAME}-statsd-exporter", NAMESPACE)
    rules = policy["spec"]["ingress"]

    def admitted(namespace: str, labels: dict[str, str]) -> bool:
        return any(_admits(rule, namespace, labels, NAMESPACE, 9125) for rule in rules)

    worker = _worker_pod_labels(docs)
    assert admitted(WORKERS_NAMESPACE, worker)
    assert admitted(NAMESPACE, {"app.kubernetes.io/instance": "release"})
    assert not admitted(WORKERS_NAMESPACE, {"app": "stranger"})
    assert not admitted(TEAM_NAMESPACES["vision"], worker)
    worker_cfg = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
    assert (
        f"statsd_host = {FULLNAME}-statsd-exporter.{NAMESPACE}.svc"
        in (worker_cfg["data"]["airflow.cfg"])
    )
    # The workers' own policy restricts ingress only, so nothing stops the packets leaving.
    workers = find(docs, "NetworkPolicy", f"{FULLNAME}-workers-deny-ingress", WORKERS_NAMESPACE)
    assert workers["spec"]["policyTypes"] == ["Ingress"]
