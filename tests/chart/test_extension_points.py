"""Extension points: what a platform team adds to the components' and the worker pods' pods
(env, volumes, sidecars, labels, placement, cloud identity), the api-server's Service, Ingress
and HTTPRoute; and that none of it can loosen Pod Security `restricted`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.pss import violations
from tests.chart.render import (
    CHART_DIR,
    COMPONENTS,
    FULLNAME,
    NAMESPACE,
    VALUES_DIR,
    WORKERS_NAMESPACE,
    HelmError,
    by_kind,
    executor_worker_pod,
    find,
    render_chart,
    run_helm,
    search,
)

pytestmark = pytest.mark.chart

EXTENDED = VALUES_DIR / "extension-points.yaml"
EXTENDED_VALUES = yaml.safe_load(EXTENDED.read_text())
VALUES_KEY = {
    "api-server": "apiServer",
    "scheduler": "scheduler",
    "dag-processor": "dagProcessor",
    "triggerer": "triggerer",
    "worker": "workers",
}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
SIZED = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "10m", "memory": "16Mi"}}


def _pod(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    """The pod template (metadata and spec) of a component, or the workers' pod template."""
    if component == "worker":
        configmap = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
        template: dict[str, Any] = yaml.safe_load(configmap["data"]["pod_template_file.yaml"])
        return template
    pod: dict[str, Any] = find(docs, "Deployment", f"{FULLNAME}-{component}")["spec"]["template"]
    return pod


def _extended_pods() -> dict[str, dict[str, Any]]:
    docs = render_chart(values_files=[EXTENDED])
    return {component: _pod(docs, component) for component in VALUES_KEY}


@pytest.mark.parametrize("component", VALUES_KEY)
def test_extra_env_volumes_and_containers_reach_the_pod(component: str) -> None:
    """extraEnv and extraEnvFrom reach the main container after the chart's own environment,
    extraVolumes and extraVolumeMounts are added to the chart's, extraInitContainers run after
    the chart's own init containers, extraContainers sit beside the main one."""
    values = EXTENDED_VALUES[VALUES_KEY[component]]
    spec = _extended_pods()[component]["spec"]
    main = spec["containers"][0]
    assert main["name"] == ("base" if component == "worker" else component)
    names = [e["name"] for e in main["env"]]
    assert names[-2:] == ["HTTPS_PROXY", "EXTRA_FROM_SECRET"]
    assert "AIRFLOW_PLATFORM_CONFIG" in names[:-2]
    assert main["envFrom"] == values["extraEnvFrom"]
    assert main["volumeMounts"][-3:] == values["extraVolumeMounts"]
    assert {"airflow-config", "platform-config"} <= {v["name"] for v in spec["volumes"]}
    assert spec["volumes"][-3:] == values["extraVolumes"]
    assert [c["name"] for c in spec["containers"][1:]] == ["extra-sidecar"]
    init = [c["name"] for c in spec.get("initContainers", [])]
    assert init[-2:] == ["extra-init", "extra-native-sidecar"]
    if component != "worker":
        assert init[0] == "wait-for-migrations"  # the chart's own come first


@pytest.mark.parametrize("component", VALUES_KEY)
def test_extra_containers_get_the_restricted_security_context(component: str) -> None:
    """Every container from values carries the chart's `restricted` security context, and the
    pod as a whole passes the checker."""
    spec = _extended_pods()[component]["spec"]
    extras = [
        c
        for c in [*spec.get("initContainers", []), *spec["containers"]]
        if c["name"].startswith("extra-")
    ]
    assert len(extras) == 3
    for container in extras:
        assert container["securityContext"] == RESTRICTED_CONTAINER, container["name"]
    assert violations(spec) == []


@pytest.mark.parametrize("component", VALUES_KEY)
def test_pod_labels_are_added_but_never_replace_the_charts_own(component: str) -> None:
    """podLabels reach the pods; a podLabel named like one of the chart's labels loses, so the
    Deployment's selector and the NetworkPolicies still select the pods."""
    metadata = _extended_pods()[component]["metadata"]
    assert metadata["labels"]["cost-centre"] == "platform"
    assert metadata["labels"]["app.kubernetes.io/component"] == component
    assert metadata["annotations"]["example.com/owner"] == "platform-team"


@pytest.mark.parametrize("component", VALUES_KEY)
def test_placement_values_of_a_component_replace_the_global_ones(component: str) -> None:
    """A component's affinity and priorityClassName replace scheduling's; its
    topologySpreadConstraints are its own; the other pods keep scheduling's."""
    key = VALUES_KEY[component]
    own = EXTENDED_VALUES[key]
    global_affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["system"]}]}
                ]
            }
        }
    }
    values = {
        "scheduling": {"affinity": global_affinity, "priorityClassName": "platform"},
        key: {
            "affinity": own["affinity"],
            "priorityClassName": own["priorityClassName"],
            "topologySpreadConstraints": own["topologySpreadConstraints"],
        },
    }
    docs = render_chart(values)
    spec = _pod(docs, component)["spec"]
    assert spec["affinity"] == own["affinity"]
    assert spec["priorityClassName"] == f"airflow-{component}"
    assert spec["topologySpreadConstraints"] == own["topologySpreadConstraints"]
    for other in VALUES_KEY:
        if other != component:
            other_spec = _pod(docs, other)["spec"]
            assert other_spec["affinity"] == global_affinity, other
            assert other_spec["priorityClassName"] == "platform", other
            assert "topologySpreadConstraints" not in other_spec, other


def test_worker_extensions_survive_the_executors_pod_generator(tmp_path: Path) -> None:
    """The KubernetesExecutor of Airflow 3.3.2 builds worker pods from the template: the extra
    env, volumes, sidecars, labels and placement reach the pod it creates."""
    docs = render_chart(values_files=[EXTENDED])
    configmap = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
    pod = executor_worker_pod(
        configmap["data"]["pod_template_file.yaml"],
        "registry.internal/airflow-platform/airflow:0.1.0",
        WORKERS_NAMESPACE,
        tmp_path,
    )
    spec = pod["spec"]
    assert spec["containers"][0]["name"] == "base"
    assert "HTTPS_PROXY" in [e["name"] for e in spec["containers"][0]["env"]]
    assert [c["name"] for c in spec["containers"]] == ["base", "extra-sidecar"]
    assert [c["name"] for c in spec["initContainers"]] == ["extra-init", "extra-native-sidecar"]
    assert {"extra-config", "scratch", "cloud-token"} <= {v["name"] for v in spec["volumes"]}
    assert pod["metadata"]["labels"]["cost-centre"] == "platform"
    assert spec["priorityClassName"] == "airflow-worker"
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert violations(spec) == []


@pytest.mark.parametrize("component", VALUES_KEY)
def test_service_account_annotations_bind_a_cloud_identity(component: str) -> None:
    """serviceAccount.annotations (e.g. eks.amazonaws.com/role-arn) reach the component's and
    the workers' ServiceAccount, and nothing else of the account changes."""
    docs = render_chart(values_files=[EXTENDED])
    namespace = WORKERS_NAMESPACE if component == "worker" else NAMESPACE
    account = find(docs, "ServiceAccount", f"{FULLNAME}-{component}", namespace)
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/airflow-{component}"
    }
    plain = find(render_chart(), "ServiceAccount", f"{FULLNAME}-{component}", namespace)
    assert "annotations" not in plain["metadata"]
    assert account["automountServiceAccountToken"] == plain["automountServiceAccountToken"]


def test_api_server_service_annotations() -> None:
    """apiServer.service.annotations reach the Service, e.g. for an internal load balancer."""
    service = find(
        render_chart(values_files=[EXTENDED]), "Service", f"{FULLNAME}-api-server", NAMESPACE
    )
    assert service["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true"
    }


def test_ingress_routes_each_host_to_the_api_server() -> None:
    """The Ingress sends every host's paths (`/` when none are given) to the api-server's
    named port, with the given class, TLS and annotations."""
    ingress = find(
        render_chart(values_files=[EXTENDED]), "Ingress", f"{FULLNAME}-api-server", NAMESPACE
    )
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["airflow.example.internal"], "secretName": "airflow-tls"}]
    backend = {"service": {"name": f"{FULLNAME}-api-server", "port": {"name": "api"}}}
    assert spec["rules"] == [
        {
            "host": host,
            "http": {"paths": [{"path": path, "pathType": "Prefix", "backend": backend}]},
        }
        for host, path in (("airflow.example.internal", "/"), ("api.example.internal", "/api"))
    ]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "internal"}


def test_http_route_attaches_the_api_server_to_a_gateway() -> None:
    """The HTTPRoute attaches to the given Gateway listener and sends the path prefix to the
    api-server's Service port."""
    route = find(
        render_chart(values_files=[EXTENDED]), "HTTPRoute", f"{FULLNAME}-api-server", NAMESPACE
    )
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    spec = route["spec"]
    assert spec["parentRefs"] == [
        {"name": "public", "namespace": "gateways", "sectionName": "https"}
    ]
    assert spec["hostnames"] == ["airflow.example.internal"]
    assert spec["rules"] == [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": f"{FULLNAME}-api-server", "port": 8080}],
        }
    ]


def test_ingress_and_http_route_are_off_by_default() -> None:
    """Nothing is exposed outside the cluster unless asked for."""
    docs = render_chart()
    assert not by_kind(docs, "Ingress")
    assert not by_kind(docs, "HTTPRoute")


MISSING = {
    "ingress without hosts": (
        {"apiServer": {"ingress": {"enabled": True}}},
        "apiServer.ingress.enabled needs at least one entry in apiServer.ingress.hosts",
    ),
    "route without gateway": (
        {"apiServer": {"httpRoute": {"enabled": True}}},
        "apiServer.httpRoute.enabled needs apiServer.httpRoute.parentRefs",
    ),
}


@pytest.mark.parametrize(("values", "message"), MISSING.values(), ids=MISSING.keys())
def test_exposure_without_its_target_fails_with_the_fix(values: dict, message: str) -> None:
    """An Ingress with no host or a route with no Gateway would route nothing: refused."""
    with pytest.raises(HelmError) as err:
        render_chart(values)
    assert message in str(err.value)


def _container(**extra: Any) -> dict[str, Any]:
    return {"name": "extra", "image": "registry.internal/x:1", "resources": SIZED, **extra}


# (values, where the schema's refusal points): each a way to loosen the pods from values.
LOOSENING = {
    "sidecar with its own securityContext": (
        {"scheduler": {"extraContainers": [_container(securityContext={"privileged": True})]}},
        "additional properties 'securityContext' not allowed",
    ),
    "worker init container running as root": (
        {"workers": {"extraInitContainers": [_container(securityContext={"runAsUser": 0})]}},
        "additional properties 'securityContext' not allowed",
    ),
    "hostPath volume": (
        {"apiServer": {"extraVolumes": [{"name": "host", "hostPath": {"path": "/"}}]}},
        "additional properties 'hostPath' not allowed",
    ),
    "host port": (
        {
            "triggerer": {
                "extraContainers": [
                    _container(ports=[{"containerPort": 80, "hostPort": 80, "protocol": "TCP"}])
                ]
            }
        },
        "additional properties 'hostPort' not allowed",
    ),
    "unsized sidecar": (
        {"dagProcessor": {"extraContainers": [{"name": "x", "image": "registry.internal/x:1"}]}},
        "missing property 'resources'",
    ),
    "typo in a volume mount": (
        {"workers": {"extraVolumeMounts": [{"name": "x", "mountpath": "/x"}]}},
        "additional properties 'mountpath' not allowed",
    ),
}


@pytest.mark.parametrize(("values", "message"), LOOSENING.values(), ids=LOOSENING.keys())
def test_schema_refuses_what_would_loosen_or_break_a_pod(values: dict, message: str) -> None:
    """The extension points take Kubernetes types closed by the schema and pruned to what
    `restricted` admits, so a privileged sidecar or a hostPath volume fails `helm install`
    naming the key."""
    with pytest.raises(HelmError) as err:
        render_chart(values)
    assert message in str(err.value)


def test_templates_replace_a_containers_security_context_even_without_the_schema() -> None:
    """Rendered with schema validation skipped, a privileged root sidecar still comes out with
    the chart's `restricted` security context: the templates never copy a container's own."""
    loose = {"privileged": True, "runAsUser": 0, "allowPrivilegeEscalation": True}
    values = {
        component: {
            "extraContainers": [_container(securityContext=loose)],
            "extraInitContainers": [_container(name="extra-init", securityContext=loose)],
        }
        for component in ("scheduler", "workers")
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        file.write(json.dumps(values))
        file.flush()
        text = run_helm(
            "template", "release", str(CHART_DIR), "--namespace", NAMESPACE,
            "--skip-schema-validation", "--values", file.name,
        )  # fmt: skip
    docs = [d for d in yaml.safe_load_all(text) if d]
    for component in ("scheduler", "worker"):
        spec = _pod(docs, component)["spec"]
        extras = [c for c in [*spec["initContainers"], *spec["containers"]] if "extra" in c["name"]]
        assert len(extras) == 2
        for container in extras:
            assert container["securityContext"] == RESTRICTED_CONTAINER
        assert violations(spec) == []


def test_extension_points_are_empty_by_default() -> None:
    """Out of the box no pod has anything a platform team did not ask for."""
    docs = render_chart()
    for component in COMPONENTS:
        spec = _pod(docs, component)["spec"]
        assert [c["name"] for c in spec["containers"]] == [component]
        assert [c["name"] for c in spec["initContainers"]] == ["wait-for-migrations"]
        assert "envFrom" not in spec["containers"][0]
        assert "topologySpreadConstraints" not in spec
    worker = _pod(docs, "worker")["spec"]
    assert [c["name"] for c in worker["containers"]] == ["base"]
    assert "initContainers" not in worker
    assert search("metadata.annotations", _pod(docs, "worker")) is None
