"""The four Airflow components, each in its own template folder: Deployment, ServiceAccount,
PodDisruptionBudget, labels, images, probes and scheduling values."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.chart.render import (
    COMPONENTS,
    FULLNAME,
    NAMESPACE,
    find,
    pod_specs,
    render_chart,
    search,
)

pytestmark = pytest.mark.chart

VALUES_KEY = {
    "api-server": "apiServer",
    "scheduler": "scheduler",
    "dag-processor": "dagProcessor",
    "triggerer": "triggerer",
}
ARGS = {
    "api-server": [
        "sh",
        "-c",
        "cp /opt/airflow/auth-secret/passwords.json /opt/airflow/auth/passwords.json"
        " && exec airflow api-server --port 8080",
    ],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
}


def _deployment(component: str, values: dict | None = None) -> dict:
    docs = render_chart(values, f"templates/{component}/deployment.yaml")
    assert len(docs) == 1
    return docs[0]


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_runs_its_airflow_command_from_the_platform_image(component: str) -> None:
    """Each Deployment runs its own `airflow` subcommand in the platform image."""
    deployment = _deployment(component)
    assert deployment["metadata"]["name"] == f"{FULLNAME}-{component}"
    assert deployment["metadata"]["namespace"] == NAMESPACE
    container = search("spec.template.spec.containers[0]", deployment)
    assert container["name"] == component
    assert container["args"] == ARGS[component]
    assert container["image"] == "registry.internal/airflow-platform/airflow:0.1.0"


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_carries_the_recommended_labels(component: str) -> None:
    """app.kubernetes.io/* labels on the object and its pods; the selector uses the stable ones."""
    deployment = _deployment(component)
    for labels in (
        deployment["metadata"]["labels"],
        deployment["spec"]["template"]["metadata"]["labels"],
    ):
        assert labels["app.kubernetes.io/name"] == "airflow-platform"
        assert labels["app.kubernetes.io/instance"] == "release"
        assert labels["app.kubernetes.io/component"] == component
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "3.3.2"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "airflow-platform",
        "app.kubernetes.io/instance": "release",
        "app.kubernetes.io/component": component,
    }


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_has_liveness_and_readiness_probes(component: str) -> None:
    """Every component is restarted when it hangs and taken out of service until ready."""
    container = search("spec.template.spec.containers[0]", _deployment(component))
    for probe in ("livenessProbe", "readinessProbe"):
        assert container.get(probe), f"{component} lacks {probe}"


def test_api_server_probes_its_health_endpoint() -> None:
    """The api-server is probed over HTTP on Airflow 3's monitor endpoint."""
    probe = search("spec.template.spec.containers[0].readinessProbe", _deployment("api-server"))
    assert probe["httpGet"] == {"path": "/api/v2/monitor/health", "port": "api"}


def test_scheduler_probes_its_health_check_server() -> None:
    """The scheduler's own health server (enabled in airflow.cfg) answers its probes."""
    probe = search("spec.template.spec.containers[0].livenessProbe", _deployment("scheduler"))
    assert probe["httpGet"] == {"path": "/health", "port": "health"}


@pytest.mark.parametrize(
    ("component", "job_type"), [("dag-processor", "DagProcessorJob"), ("triggerer", "TriggererJob")]
)
def test_components_without_http_are_probed_by_jobs_check(component: str, job_type: str) -> None:
    """Components with no HTTP health endpoint are probed by `airflow jobs check --local`."""
    probe = search("spec.template.spec.containers[0].livenessProbe", _deployment(component))
    assert probe["exec"]["command"] == [
        "airflow",
        "jobs",
        "check",
        "--job-type",
        job_type,
        "--local",
    ]


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_values_reach_the_pods(component: str) -> None:
    """replicas, resources, nodeSelector, tolerations and pod annotations come from values."""
    key = VALUES_KEY[component]
    values = {
        key: {
            "replicas": 3,
            "resources": {
                "requests": {"cpu": "3", "memory": "3Gi"},
                "limits": {"cpu": "4", "memory": "5Gi"},
            },
            "nodeSelector": {"pool": "system"},
            "tolerations": [{"key": "system", "operator": "Exists", "effect": "NoSchedule"}],
            "podAnnotations": {"team": "platform"},
        }
    }
    deployment = _deployment(component, values)
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 3
    assert spec["containers"][0]["resources"] == values[key]["resources"]
    assert spec["nodeSelector"] == {"pool": "system"}
    assert spec["tolerations"] == values[key]["tolerations"]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["team"] == "platform"


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_has_a_pod_disruption_budget(component: str) -> None:
    """A PDB selects the component's pods; turning it off in values removes it."""
    docs = render_chart(None, f"templates/{component}/poddisruptionbudget.yaml")
    pdb = find(docs, "PodDisruptionBudget", f"{FULLNAME}-{component}")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == component
    off = {VALUES_KEY[component]: {"podDisruptionBudget": {"enabled": False, "maxUnavailable": 1}}}
    docs = render_chart(off)
    assert not [
        d for d in docs if d["kind"] == "PodDisruptionBudget" and component in d["metadata"]["name"]
    ]


@pytest.mark.parametrize(
    ("component", "token"),
    [("api-server", True), ("scheduler", True), ("dag-processor", False), ("triggerer", True)],
)
def test_only_components_that_use_the_kubernetes_api_mount_a_token(
    component: str, token: bool
) -> None:
    """The scheduler and triggerer launch and watch pods, the api-server reads running tasks'
    logs; the dag-processor gets no token at all."""
    deployment = _deployment(component)
    spec = deployment["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == f"{FULLNAME}-{component}"
    assert spec["automountServiceAccountToken"] is token
    docs = render_chart(None, f"templates/{component}/serviceaccount.yaml")
    assert (
        find(docs, "ServiceAccount", f"{FULLNAME}-{component}")["automountServiceAccountToken"]
        is token
    )


def test_job_operators_and_their_triggers_reach_the_api_from_inside_the_cluster() -> None:
    """A deferred JobOperator's trigger runs in the triggerer, which has no kubeconfig: both it
    and the worker pods read an in-cluster `kubernetes_default` connection."""
    docs = render_chart()
    env = search(
        "spec.template.spec.containers[0].env",
        find(docs, "Deployment", f"{FULLNAME}-triggerer", NAMESPACE),
    )
    conn = {e["name"]: e.get("value") for e in env}["AIRFLOW_CONN_KUBERNETES_DEFAULT"]
    assert json.loads(conn) == {"conn_type": "kubernetes", "extra": {"in_cluster": True}}
    template = yaml.safe_load(
        find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", NAMESPACE)["data"][
            "pod_template_file.yaml"
        ]
    )
    worker_env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
    assert json.loads(worker_env["AIRFLOW_CONN_KUBERNETES_DEFAULT"]) == json.loads(conn)


def test_the_triggerer_records_an_address_the_api_server_can_read_its_logs_from() -> None:
    """While a task is deferred the api-server reads its trigger's log from the triggerer's
    log server at the hostname the triggerer recorded; a Deployment pod's name resolves
    nowhere, so the triggerer records its IP. Its extraEnv comes after and may override."""
    extra = {"name": "EXTRA", "value": "1"}
    env = search(
        "spec.template.spec.containers[0].env",
        _deployment("triggerer", {"triggerer": {"extraEnv": [extra]}}),
    )
    names = [e["name"] for e in env]
    assert {e["name"]: e.get("value") for e in env}["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == (
        "airflow.utils.net.get_host_ip_address"
    )
    assert names.index("AIRFLOW__CORE__HOSTNAME_CALLABLE") < names.index("EXTRA")
    for component in ("api-server", "scheduler", "dag-processor"):
        other = search("spec.template.spec.containers[0].env", _deployment(component))
        assert "AIRFLOW__CORE__HOSTNAME_CALLABLE" not in {e["name"] for e in other}


def test_api_server_service_exposes_the_api_port() -> None:
    """The Service the UI, the CLI and worker pods use points at the api-server's named port."""
    service = render_chart(
        {"apiServer": {"service": {"port": 9090, "type": "LoadBalancer"}}},
        "templates/api-server/service.yaml",
    )[0]
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["ports"] == [
        {"name": "api", "port": 9090, "targetPort": "api", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "api-server"


def test_api_server_mounts_the_ui_passwords() -> None:
    """The simple auth manager reads its users' passwords from the Secret, copied at start to
    a writable in-memory folder (it opens the file for writing, to lock it)."""
    spec = _deployment("api-server")["spec"]["template"]["spec"]
    volume = search("volumes[?name=='ui-passwords'] | [0]", spec)
    assert volume["secret"]["secretName"] == f"{FULLNAME}-ui-passwords"
    mount = search("containers[0].volumeMounts[?name=='ui-passwords'] | [0]", spec)
    assert mount == {
        "name": "ui-passwords",
        "mountPath": "/opt/airflow/auth-secret",
        "readOnly": True,
    }
    writable = search("containers[0].volumeMounts[?name=='ui-passwords-file'] | [0]", spec)
    assert writable["mountPath"] == "/opt/airflow/auth"
    assert search("volumes[?name=='ui-passwords-file'] | [0].emptyDir.medium", spec) == "Memory"


def test_image_values_change_every_airflow_container() -> None:
    """One images.airflow setting moves every Airflow container, init containers included."""
    values = {
        "images": {
            "airflow": {
                "repository": "ghcr.io/acme/airflow",
                "tag": "9.9.9",
                "pullPolicy": "Always",
            }
        }
    }
    for component in COMPONENTS:
        spec = _deployment(component, values)["spec"]["template"]["spec"]
        for container in spec["initContainers"] + spec["containers"]:
            assert container["image"] == "ghcr.io/acme/airflow:9.9.9"
            assert container["imagePullPolicy"] == "Always"


def test_scheduling_places_every_pod_of_the_release() -> None:
    """`scheduling` reaches every pod the chart can start (components, PostgreSQL,
    statsd-exporter, the migration Job, the workers' pod template); a component's own
    nodeSelector is merged over it and its tolerations added."""
    toleration = {"key": "system", "operator": "Exists", "effect": "NoSchedule"}
    own = {"key": "db", "operator": "Exists", "effect": "NoSchedule"}
    affinity = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 1,
                    "podAffinityTerm": {
                        "topologyKey": "topology.kubernetes.io/zone",
                        "labelSelector": {"matchLabels": {"app": "x"}},
                    },
                }
            ]
        }
    }
    docs = render_chart(
        {
            "scheduling": {
                "nodeSelector": {"pool": "system"},
                "tolerations": [toleration],
                "affinity": affinity,
                "priorityClassName": "platform-critical",
            },
            "postgresql": {"nodeSelector": {"disk": "ssd"}, "tolerations": [own]},
        }
    )
    specs = pod_specs(docs)
    assert len(specs) >= 8, sorted(specs)
    for origin, spec in specs.items():
        assert spec["priorityClassName"] == "platform-critical", origin
        assert spec["affinity"] == affinity, origin
        if "postgresql" in origin:
            assert spec["nodeSelector"] == {"pool": "system", "disk": "ssd"}, origin
            assert spec["tolerations"] == [toleration, own], origin
        else:
            assert spec["nodeSelector"] == {"pool": "system"}, origin
            assert spec["tolerations"] == [toleration], origin
