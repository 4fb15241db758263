"""The admission policy generated from the platform config, on the real API server.

The ValidatingAdmissionPolicy and its binding come from `airflow_platform.admission` for a
config of four teams; each team's jobs namespace is made as the chart makes it (Pod Security
`restricted` enforced, the job service account), except the `sandbox` team's, which enforces no
Pod Security, so that the policy's own host and privilege rules are seen refusing without the
PodSecurity plugin refusing first. A "worker" service account is granted pod rights in every
jobs namespace, as the chart grants the Airflow workers; every pod below is sent with its
token (from the TokenRequest API), so these are the refusals any worker's code would meet.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from airflow_platform import spark
from airflow_platform.admission import policy_binding, validating_admission_policy
from airflow_platform.config import PlatformConfig, load_config, parse_config
from airflow_platform.pods import RunContext, build_pod, pod_to_dict
from airflow_platform.spec.models import JobSpec
from tests.harness.controlplane import ControlPlane
from tests.harness.fixtures import RESTRICTED_LABELS, delete_namespace
from tests.harness.kube import wait_for

pytestmark = pytest.mark.cluster

WORKER = "worker"


@dataclass
class Setup:
    config: PlatformConfig
    workers_namespace: str
    worker: Any  # an ApiClient authenticated as the worker service account
    admin: Any


def _config(prefix: str) -> PlatformConfig:
    data = yaml.safe_load(yaml.safe_dump(load_config().model_dump(mode="json", exclude_none=True)))
    data["teams"]["sandbox"] = {}
    data["policy"]["jobs_namespace"] = prefix
    data["policy"]["service_account"] = "airflow-platform-job"
    data["policy"]["allowed_images"] = ["registry.internal", "ghcr.io/acme/train"]
    data["artifacts"] = {
        "endpoint": "http://store.example:8333",
        "bucket": "artifacts",
        "credentials_secret": "artifacts-store",
        # Outside the allowed prefixes: the policy admits the transfer image by name.
        "image": "platform.example/airflow-platform/airflow:0.1.0",
    }
    return parse_config(yaml.safe_dump(data).encode(), "test-platform.yaml")


def _token_client(plane: ControlPlane, namespace: str, account: str) -> Any:
    from kubernetes import client

    core = client.CoreV1Api(plane.api_client())
    token = core.create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    configuration = copy.deepcopy(core.api_client.configuration)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    configuration.cert_file = configuration.key_file = None
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def setup(control_plane: ControlPlane) -> Iterator[Setup]:
    from kubernetes import client

    admin = control_plane.api_client()
    core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
    admission = client.AdmissionregistrationV1Api(admin)
    prefix = f"adm-{secrets.token_hex(3)}"
    config = _config(prefix)
    name = f"{prefix}-jobs"
    created = [prefix, *config.jobs_namespaces().values()]
    try:
        core.create_namespace({"metadata": {"name": prefix, "labels": dict(RESTRICTED_LABELS)}})
        core.create_namespaced_service_account(prefix, {"metadata": {"name": WORKER}})
        for team, namespace in config.jobs_namespaces().items():
            labels = {} if team == "sandbox" else dict(RESTRICTED_LABELS)
            core.create_namespace({"metadata": {"name": namespace, "labels": labels}})
            for account in ("airflow-platform-job", config.spark.driver_service_account):
                core.create_namespaced_service_account(
                    namespace,
                    {"metadata": {"name": account}, "automountServiceAccountToken": False},
                )
            rbac.create_namespaced_role(
                namespace,
                {
                    "metadata": {"name": "pod-launcher"},
                    "rules": [
                        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get"]}
                    ],
                },
            )
            rbac.create_namespaced_role_binding(
                namespace,
                {
                    "metadata": {"name": "pod-launcher"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": "pod-launcher",
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": WORKER, "namespace": prefix}],
                },
            )
        admission.create_validating_admission_policy(validating_admission_policy(config, name))
        admission.create_validating_admission_policy_binding(policy_binding(config, name))
        state = Setup(config, prefix, _token_client(control_plane, prefix, WORKER), admin)
        _wait_until_enforced(state)
        yield state
    finally:
        for delete in (
            lambda: admission.delete_validating_admission_policy_binding(name),
            lambda: admission.delete_validating_admission_policy(name),
        ):
            _ignore_missing(delete)
        for namespace in created:
            _ignore_missing(lambda namespace=namespace: delete_namespace(core, namespace))
        admin.close()


def _ignore_missing(call: Callable[[], Any]) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        call()
    except ApiException as err:
        if err.status != 404:
            raise


def _job(team: str, flavor: str = "cpu-2gb", **fields: Any) -> JobSpec:
    return JobSpec.model_validate(
        {
            "name": "probe",
            "team": team,
            "resource_flavor": flavor,
            "docker_image": "registry.internal/tests/job:1.0",
            "execution_time": "10 minutes",
            "execution_script": "python -c 'print(42)'",
            **fields,
        }
    )


def _library_pod(setup: Setup, team: str = "vision", **fields: Any) -> dict[str, Any]:
    return pod_to_dict(build_pod(_job(team, **fields), setup.config))


def _create(setup: Setup, pod: dict[str, Any], *, as_admin: bool = False) -> Any:
    """Creates ``pod`` in its namespace (server-side dry run: the whole admission chain)."""
    from kubernetes import client

    pod = copy.deepcopy(pod)
    pod["metadata"]["name"] = f"probe-{secrets.token_hex(3)}"
    namespace = pod["metadata"].pop("namespace")
    api = client.CoreV1Api(setup.admin if as_admin else setup.worker)
    return api.create_namespaced_pod(namespace, pod, dry_run="All")


def _refusal(setup: Setup, pod: dict[str, Any], **kwargs: Any) -> str:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as err:
        _create(setup, pod, **kwargs)
    assert err.value.status in (403, 422), err.value.body
    return str(json.loads(err.value.body)["message"])


def _wait_until_enforced(setup: Setup) -> None:
    """The API server loads a new policy within a few seconds: wait until it refuses."""
    from kubernetes.client.exceptions import ApiException

    bad = _library_pod(setup)
    bad["metadata"]["labels"] = {}

    def refused() -> bool:
        try:
            _create(setup, bad)
        except ApiException as err:
            return "ValidatingAdmissionPolicy" in err.body
        return False

    wait_for(refused, timeout=30, what="the admission policy to be enforced", interval=0.5)


@pytest.mark.parametrize(
    ("team", "fields"),
    [
        ("vision", {}),
        ("vision", {"resource_flavor": "gpu-4x-96gb"}),
        ("nlp", {"resource_flavor": "gpu-1x-24gb"}),
        ("analytics", {"kerberos": True}),
    ],
    ids=["cpu", "four-gpus", "gpu-for-nlp", "kerberos"],
)
def test_a_pod_built_by_the_library_is_admitted(
    setup: Setup, team: str, fields: dict[str, Any]
) -> None:
    created = _create(setup, _library_pod(setup, team, **fields))
    assert created.metadata.namespace == setup.config.namespace_of(team)


def test_a_pod_with_its_artifact_transfer_containers_is_admitted(setup: Setup) -> None:
    """In a run, the pod fetches its upstream outputs and keeps its own (two containers of
    the platform's, at their fixed size, in the transfer image); beside Kerberos too."""
    context = RunContext(
        dag_id="handoff", task_id="second", run_id="manual__1", try_number=2,
        upstream_artifacts={"first": "runs/handoff/manual__1/first/1/"},
    )  # fmt: skip
    pod = pod_to_dict(build_pod(_job("analytics", kerberos=True), setup.config, context))
    names = [c["name"] for c in pod["spec"]["initContainers"]]
    assert names == ["artifacts-fetch", "artifacts-keep", "kerberos-init", "kerberos-renew"]
    _create(setup, pod)
    pod["spec"]["initContainers"][1]["resources"]["limits"]["memory"] = "1Gi"
    assert "only init containers are the platform's own" in _refusal(setup, pod)


def test_spark_driver_and_executor_pods_as_spark_sizes_them_are_admitted(setup: Setup) -> None:
    """Spark writes memory as heap + overhead in Mi (4096Mi for a 4Gi flavor): the policy
    compares quantities, not strings."""
    job = _job(
        "analytics",
        execution_script=None,
        spark={"application": "etl.py", "executor_flavor": "cpu-4gb", "executors": 2},
    )
    for pod in spark.pod_templates(job, setup.config):
        body = pod_to_dict(pod)
        (container,) = body["spec"]["containers"]
        memory = body["metadata"]["labels"]["airflow-platform/flavor"].removeprefix("cpu-")
        mebibytes = int(memory.removesuffix("gb")) * 1024
        container["resources"]["requests"]["memory"] = f"{mebibytes}Mi"
        container["resources"]["limits"]["memory"] = f"{mebibytes}Mi"
        container["image"] = job.docker_image
        body["metadata"]["name"] = "spark-probe"
        _create(setup, body)


def _without_labels(pod: dict[str, Any]) -> None:
    del pod["metadata"]["labels"]["airflow-platform/team"]


def _other_team(pod: dict[str, Any]) -> None:
    pod["metadata"]["labels"]["airflow-platform/team"] = "nlp"


def _image(image: str) -> Callable[[dict[str, Any]], None]:
    def change(pod: dict[str, Any]) -> None:
        pod["spec"]["containers"][0]["image"] = image

    return change


def _resources(*where: str, name: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(pod: dict[str, Any]) -> None:
        for part in where:
            pod["spec"]["containers"][0]["resources"][part][name] = value

    return change


def _second_container(pod: dict[str, Any]) -> None:
    extra = copy.deepcopy(pod["spec"]["containers"][0])
    extra["name"] = "miner"
    pod["spec"]["containers"].append(extra)


def _init_container(pod: dict[str, Any]) -> None:
    init = copy.deepcopy(pod["spec"]["containers"][0])
    init["name"] = "setup"
    pod["spec"]["initContainers"] = [init]


BROKEN = [
    ("no-team-label", _without_labels, "must carry the platform's labels airflow-platform/team"),
    ("other-team", _other_team, "the pod says team nlp, but namespace {ns} is team vision's"),
    (
        "image-elsewhere",
        _image("docker.io/library/busybox:1.36"),
        "image docker.io/library/busybox:1.36 is not under an allowed prefix",
    ),
    (
        "image-prefix-boundary",
        _image("registry.internal.evil.io/tests/job:1.0"),
        "image registry.internal.evil.io/tests/job:1.0 is not under an allowed prefix",
    ),
    (
        "image-repository-boundary",
        _image("ghcr.io/acme/trainer:1.0"),
        "image ghcr.io/acme/trainer:1.0 is not under an allowed prefix",
    ),
    (
        "more-memory",
        _resources("requests", "limits", name="memory", value="3Gi"),
        "container base must request exactly flavor cpu-2gb's cpu 1, memory 2Gi",
    ),
    (
        "a-cpu-limit",
        _resources("limits", name="cpu", value="1"),
        "container base must request exactly flavor cpu-2gb's cpu 1, memory 2Gi",
    ),
    (
        "a-gpu-on-a-cpu-flavor",
        _resources("requests", "limits", name="nvidia.com/gpu", value="1"),
        "container base must request exactly flavor cpu-2gb's",
    ),
    ("a-second-container", _second_container, "a job pod has one container, named base"),
    ("an-init-container", _init_container, "only init containers are the platform's own"),
]


@pytest.mark.parametrize(
    ("change", "message"), [(c, m) for _, c, m in BROKEN], ids=[i for i, _, _ in BROKEN]
)
def test_a_worker_cannot_create_a_pod_that_breaks_a_rule(
    setup: Setup, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    pod = _library_pod(setup)
    change(pod)
    refusal = _refusal(setup, pod)
    assert "ValidatingAdmissionPolicy" in refusal
    assert message.format(ns=setup.config.namespace_of("vision")) in refusal


def test_a_flavor_the_team_may_not_use_is_refused(setup: Setup) -> None:
    """nlp may not use gpu-4x-96gb: a pod sized and labelled for it is refused in nlp's
    namespace, though vision's accepts the same pod."""
    pod = _library_pod(setup, "vision", resource_flavor="gpu-4x-96gb")
    pod["metadata"]["labels"]["airflow-platform/team"] = "nlp"
    pod["metadata"]["namespace"] = setup.config.namespace_of("nlp")
    assert "flavor gpu-4x-96gb is not one of team nlp's flavors" in _refusal(setup, pod)


def _host_network(pod: dict[str, Any]) -> None:
    pod["spec"]["hostNetwork"] = True


def _host_path(pod: dict[str, Any]) -> None:
    pod["spec"]["volumes"].append({"name": "root", "hostPath": {"path": "/"}})


def _privileged(pod: dict[str, Any]) -> None:
    context = pod["spec"]["containers"][0]["securityContext"]
    context.update({"privileged": True, "allowPrivilegeEscalation": True})


def _capability(pod: dict[str, Any]) -> None:
    pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]


def _escalation(pod: dict[str, Any]) -> None:
    del pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"]


HOST = [
    ("host-network", _host_network, "may not use the node's network, PID or IPC namespace"),
    ("host-path", _host_path, "may not mount a folder of the node (hostPath)"),
    ("privileged", _privileged, "may not be privileged"),
    ("capability", _capability, "may not be privileged, add capabilities"),
    ("escalation", _escalation, "allowPrivilegeEscalation must be false"),
]


@pytest.mark.parametrize(
    ("change", "message"), [(c, m) for _, c, m in HOST], ids=[i for i, _, _ in HOST]
)
def test_host_access_and_privilege_are_refused_without_pod_security(
    setup: Setup, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    """In the sandbox team's namespace no Pod Security is enforced; the policy still refuses."""
    pod = _library_pod(setup, "sandbox")
    _create(setup, pod)  # as built, admitted there
    change(pod)
    refusal = _refusal(setup, pod)
    assert "ValidatingAdmissionPolicy" in refusal
    assert message in refusal


def test_the_policy_binds_whoever_creates_the_pod(setup: Setup) -> None:
    """Even the cluster admin's own pod is held to it in a jobs namespace."""
    pod = _library_pod(setup)
    _image("docker.io/library/busybox:1.36")(pod)
    assert "is not under an allowed prefix" in _refusal(setup, pod, as_admin=True)


def test_outside_the_jobs_namespaces_the_policy_does_not_apply(setup: Setup) -> None:
    """The workers' own namespace is not a jobs namespace: its worker pods are not job pods."""
    pod = _library_pod(setup)
    pod["metadata"]["namespace"] = setup.workers_namespace
    pod["metadata"]["labels"] = {}
    pod["spec"]["serviceAccountName"] = None
    created = _create(setup, pod, as_admin=True)
    assert created.metadata.namespace == setup.workers_namespace
