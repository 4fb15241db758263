"""airflow.cfg and the KubernetesExecutor's worker pod template."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import yaml

from tests.chart.pss import violations
from tests.chart.render import (
    COMPONENTS,
    FULLNAME,
    NAMESPACE,
    WORKERS_NAMESPACE,
    HelmError,
    airflow_cfg,
    by_kind,
    executor_worker_pod,
    find,
    render_chart,
    search,
)

pytestmark = pytest.mark.chart

CONFIGMAP = "templates/configmaps/airflow-configmap.yaml"


def _configmap(values: dict | None = None, namespace: str = NAMESPACE) -> dict:
    return find(
        render_chart(values, CONFIGMAP), "ConfigMap", f"{FULLNAME}-airflow-config", namespace
    )


def _cfg(values: dict | None = None) -> configparser.ConfigParser:
    return airflow_cfg(render_chart(values, CONFIGMAP))


def _worker(values: dict | None = None) -> dict:
    template = _configmap(values, WORKERS_NAMESPACE)["data"]["pod_template_file.yaml"]
    return yaml.safe_load(template)


def test_executor_is_kubernetes_executor_in_the_workers_namespace() -> None:
    """Tasks run as pods that the scheduler creates in the workers' namespace, from the
    template."""
    cfg = _cfg()
    assert cfg["core"]["executor"] == "KubernetesExecutor"
    assert cfg["kubernetes_executor"]["namespace"] == WORKERS_NAMESPACE
    assert cfg["kubernetes_executor"]["multi_namespace_mode"] == "False"
    assert (
        cfg["kubernetes_executor"]["pod_template_file"]
        == "/opt/airflow/pod_templates/pod_template_file.yaml"
    )


def test_execution_api_url_points_at_the_api_server_service() -> None:
    """Airflow 3 workers report through the api-server's Execution API: the URL names the
    release's Service, in its namespace, on the configured port."""
    url = _cfg({"apiServer": {"service": {"port": 9091}}})["core"]["execution_api_server_url"]
    assert url == f"http://{FULLNAME}-api-server.{NAMESPACE}.svc:9091/execution/"


def test_worker_pods_are_created_in_batches() -> None:
    """More than one worker pod per scheduler loop (Airflow's default of 1 throttles bursts)."""
    cfg = _cfg()
    assert int(cfg["kubernetes_executor"]["worker_pods_creation_batch_size"]) > 1
    cfg = _cfg({"workers": {"podsCreationBatchSize": 40}})
    assert cfg["kubernetes_executor"]["worker_pods_creation_batch_size"] == "40"


def test_jobs_namespace_follows_the_platform_policy() -> None:
    """One setting, platform.policy.jobs_namespace, moves the executor, the workers' Role,
    service account and ConfigMaps, and names every team's jobs namespace after it."""
    values = {"platform": {"policy": {"jobs_namespace": "ml-jobs"}}}
    docs = render_chart(values)
    assert _cfg(values)["kubernetes_executor"]["namespace"] == "ml-jobs"

    def objects_in(namespace: str) -> set[tuple[str, str]]:
        return {
            (d["kind"], d["metadata"]["name"])
            for d in docs
            if d["metadata"].get("namespace") == namespace
        }

    assert {
        ("Role", f"{FULLNAME}-pod-launcher"),
        ("RoleBinding", f"{FULLNAME}-pod-launcher"),
        ("ServiceAccount", f"{FULLNAME}-worker"),
        ("ConfigMap", f"{FULLNAME}-airflow-config"),
        ("ConfigMap", f"{FULLNAME}-platform-config"),
    } <= objects_in("ml-jobs")
    for team in ("analytics", "nlp", "vision"):
        assert {
            ("Role", f"{FULLNAME}-pod-launcher"),
            ("RoleBinding", f"{FULLNAME}-pod-launcher"),
            ("ServiceAccount", "airflow-platform-job"),
            ("NetworkPolicy", f"{FULLNAME}-jobs-deny-ingress"),
        } <= objects_in(f"ml-jobs-{team}")
    assert sorted(n["metadata"]["name"] for n in by_kind(docs, "Namespace")) == [
        "ml-jobs", "ml-jobs-analytics", "ml-jobs-nlp", "ml-jobs-vision"
    ]  # fmt: skip
    assert not [d for d in docs if d["metadata"].get("namespace", "").startswith("airflow-jobs")]


def test_airflow_config_values_merge_over_the_charts_settings() -> None:
    """airflowConfig adds settings and may override the chart's, section by section."""
    cfg = _cfg({"airflowConfig": {"core": {"parallelism": 64}, "celery": {"x": "y"}}})
    assert cfg["core"]["parallelism"] == "64"
    assert cfg["core"]["executor"] == "KubernetesExecutor"
    assert cfg["celery"]["x"] == "y"


@pytest.mark.parametrize("component", COMPONENTS)
def test_changing_airflow_config_rolls_the_component(component: str) -> None:
    """An airflowConfig change alters the airflow.cfg checksum on every component's pods."""

    def checksum(values: dict | None) -> str:
        deployment = render_chart(values, f"templates/{component}/deployment.yaml")[0]
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/airflow-config"]

    assert checksum({"airflowConfig": {"core": {"parallelism": 7}}}) != checksum(None)


def test_no_secret_lands_in_the_config_map() -> None:
    """Keys and the database password come from Secrets as environment, never airflow.cfg."""
    text = _configmap()["data"]["airflow.cfg"]
    for word in ("fernet_key", "jwt_secret", "secret_key", "sql_alchemy_conn"):
        assert word not in text


@pytest.mark.parametrize("component", COMPONENTS)
def test_components_get_keys_and_database_from_secrets(component: str) -> None:
    """Each component reads the fernet key, JWT secret and API secret key from Secrets, and
    builds the connection URL from the password Secret."""
    deployment = render_chart(None, f"templates/{component}/deployment.yaml")[0]
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AIRFLOW__CORE__FERNET_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{FULLNAME}-fernet-key",
        "key": "fernet-key",
    }
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "jwt-secret"
    assert env["AIRFLOW__API__SECRET_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "api-secret-key"
    assert "$(DATABASE_PASSWORD)" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]["value"]
    names = list(env)
    # The kubelet expands $(VAR) only from variables defined earlier in the list.
    assert names.index("DATABASE_PASSWORD") < names.index("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")


def test_worker_pod_template_runs_base_container_as_worker() -> None:
    """The executor needs the main container named `base`; workers use their own account and
    are sized by workers.resources."""
    resources = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "3Gi"}}
    pod = _worker({"workers": {"resources": resources}})
    assert pod["kind"] == "Pod"
    assert pod["spec"]["serviceAccountName"] == f"{FULLNAME}-worker"
    assert pod["spec"]["restartPolicy"] == "Never"
    base = search("spec.containers[?name=='base'] | [0]", pod)
    assert base["resources"] == resources
    assert base["image"] == "registry.internal/airflow-platform/airflow:0.1.0"


def test_worker_pods_need_no_secret_from_the_release_namespace() -> None:
    """Worker pods live in the jobs namespace, so they may reference only what exists there:
    the two ConfigMaps the chart renders in that namespace, and no Secret."""
    docs = render_chart()
    pod = _worker()
    in_jobs_ns = {
        d["metadata"]["name"]
        for d in by_kind(docs, "ConfigMap")
        if d["metadata"]["namespace"] == WORKERS_NAMESPACE
    }
    for volume in pod["spec"]["volumes"]:
        assert "secret" not in volume
        assert volume["configMap"]["name"] in in_jobs_ns
    assert not [e for e in pod["spec"]["containers"][0]["env"] if "valueFrom" in e]


@pytest.mark.parametrize(("launch", "token"), [(True, True), (False, False)])
def test_worker_token_only_when_workers_launch_job_pods(launch: bool, token: bool) -> None:
    """A worker gets an API token only when it creates job pods itself."""
    values = {"workers": {"launchJobPods": launch}}
    assert _worker(values)["spec"]["automountServiceAccountToken"] is token
    docs = render_chart(values, "templates/workers/serviceaccount.yaml")
    account = find(docs, "ServiceAccount", f"{FULLNAME}-worker", WORKERS_NAMESPACE)
    assert account["automountServiceAccountToken"] is token


def test_workers_in_the_release_namespace_render_each_config_map_once() -> None:
    """With jobs_namespace equal to the release namespace (workers beside the components)
    nothing is rendered twice, and only the teams' namespaces are created."""
    values = {"platform": {"policy": {"jobs_namespace": NAMESPACE}}}
    docs = render_chart(values)
    names = [(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in docs]
    assert len(names) == len(set(names))
    assert sorted(n["metadata"]["name"] for n in by_kind(docs, "Namespace")) == [
        f"{NAMESPACE}-analytics", f"{NAMESPACE}-nlp", f"{NAMESPACE}-vision"
    ]  # fmt: skip


def test_a_team_namespace_may_not_be_the_release_namespace() -> None:
    """The admission policy would hold Airflow's own pods to the job rules there."""
    values = {"platform": {"teams": {"vision": {"namespace": NAMESPACE}}}}
    with pytest.raises(HelmError, match=r"team vision's jobs namespace is the release namespace"):
        render_chart(values)


def test_executor_builds_a_restricted_worker_pod_from_the_template(tmp_path: Path) -> None:
    """Airflow's own PodGenerator turns the template into a worker pod that still meets
    `restricted`, keeps the `base` container and the chart's image, and runs the task command."""
    docs = render_chart()
    configmap = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
    pod = executor_worker_pod(
        configmap["data"]["pod_template_file.yaml"],
        "registry.internal/airflow-platform/airflow:0.1.0",
        WORKERS_NAMESPACE,
        tmp_path,
    )
    assert violations(pod["spec"]) == []
    base = pod["spec"]["containers"][0]
    assert base["name"] == "base"
    assert base["args"][:3] == ["python", "-m", "airflow.sdk.execution_time.execute_workload"]
    assert pod["metadata"]["namespace"] == WORKERS_NAMESPACE
