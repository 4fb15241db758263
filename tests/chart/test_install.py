"""The chart against a real API server: `helm install`, RBAC, `helm upgrade`, `helm uninstall`.

The control plane (tests/harness) is the real etcd, kube-apiserver, controller-manager and
scheduler, with kwok standing in for the kubelets: there is no container runtime, so pods never
really start. kwok marks long-running pods Running and run-to-completion pods (the migration
Job) Succeeded. Nothing here uses `helm install --wait`,
because no Deployment would ever become truly available; the tests assert on the objects the
API server accepted instead: every object of the manifest exists, every pod was admitted by the
PodSecurity plugin of namespaces enforcing `restricted`, and the authorizer answers the RBAC
questions through SubjectAccessReview.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.render import (
    CHART_DIR,
    COMPONENTS,
    VALUES_DIR,
    HelmError,
    executor_worker_pod,
    library_job_pod,
    run_helm,
)
from tests.harness.fixtures import RESTRICTED_LABELS, delete_namespace
from tests.harness.kube import wait_for
from tests.harness.tools import ToolMissingError, tool_path

pytestmark = pytest.mark.chart

RELEASE = "platform"
FULLNAME = f"{RELEASE}-airflow-platform"
GENERATED_SECRETS = {
    f"{FULLNAME}-fernet-key": "fernet-key",
    f"{FULLNAME}-jwt-secret": "jwt-secret",
    f"{FULLNAME}-api-secret-key": "api-secret-key",
    f"{FULLNAME}-ui-passwords": "passwords.json",
    f"{FULLNAME}-postgresql": "password",
}


TEAMS = ("analytics", "nlp", "vision")


@dataclass
class Release:
    """An installed release: where it lives and how to reach its cluster. ``jobs_namespace``
    is the workers' namespace, and the prefix of each team's jobs namespace."""

    namespace: str
    jobs_namespace: str
    env: dict[str, str]
    install_output: str
    api: Any

    def team_namespace(self, team: str) -> str:
        return f"{self.jobs_namespace}-{team}"

    @property
    def all_namespaces(self) -> list[str]:
        return [self.namespace, self.jobs_namespace, *map(self.team_namespace, TEAMS)]

    def helm(self, *args: str) -> str:
        return run_helm(*args, env=self.env, timeout=300)

    def set_args(self) -> list[str]:
        return ["--set", f"platform.policy.jobs_namespace={self.jobs_namespace}"]


def _kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    try:
        kubectl = str(tool_path("kubectl"))
    except ToolMissingError as err:
        pytest.fail(str(err), pytrace=False)
    proc = subprocess.run(
        [kubectl, *args], input=stdin, capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _create_namespace(core: Any, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": name, "labels": dict(RESTRICTED_LABELS)}})
    wait_for(
        lambda: any(
            sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items
        ),
        timeout=30,
        what=f"default service account in {name}",
    )
    return name


def _install(control_plane: Any, core: Any, prefix: str) -> Release:
    namespace = _create_namespace(core, prefix)
    release = Release(namespace, f"{namespace}-jobs", control_plane.env, "", None)
    release.install_output = release.helm(
        "install", RELEASE, str(CHART_DIR), "--namespace", namespace, "--timeout", "240s",
        *release.set_args(),
    )  # fmt: skip
    return release


def _cleanup(release: Release, core: Any) -> None:
    from kubernetes.client.exceptions import ApiException

    # The uninstall test has already uninstalled its release; that is not an error here.
    with contextlib.suppress(HelmError):
        release.helm("uninstall", RELEASE, "--namespace", release.namespace, "--timeout", "120s")
    for name in reversed(release.all_namespaces):
        try:
            delete_namespace(core, name)
        except ApiException as err:
            if err.status != 404:
                raise


@pytest.fixture(scope="module")
def release(control_plane: Any) -> Iterator[Release]:
    """The chart installed with its defaults into a fresh namespace enforcing `restricted`;
    the chart creates the jobs namespace. Uninstalled and both namespaces removed afterwards."""
    from kubernetes import client

    api = control_plane.api_client()
    core = client.CoreV1Api(api)
    installed = _install(control_plane, core, "chart-install")
    installed.api = api
    try:
        yield installed
    finally:
        _cleanup(installed, core)
        api.close()


def _manifest_objects(release: Release) -> list[dict[str, Any]]:
    manifest = release.helm("get", "manifest", RELEASE, "--namespace", release.namespace)
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def test_install_succeeds_and_tells_how_to_start(release: Release) -> None:
    """`helm install` returns deployed and NOTES.txt says
    how to reach the UI and submit a first job."""
    status = json.loads(release.helm("status", RELEASE, "-n", release.namespace, "-o", "json"))
    assert status["info"]["status"] == "deployed"
    notes = status["info"]["notes"]
    assert f"port-forward service/{FULLNAME}-api-server 8080:8080" in notes
    assert "airflow-platform submit" in notes
    assert "AIRFLOW_PLATFORM_API_URL=http://localhost:8080" in notes
    assert release.jobs_namespace in notes


def test_every_object_of_the_manifest_was_accepted(release: Release) -> None:
    """The API server holds every object Helm rendered, in both namespaces."""
    objects = _manifest_objects(release)
    assert len(objects) > 30
    items: list[dict[str, Any]] = []
    # kubectl reads objects of one namespace per call; cluster-scoped ones go with the first.
    for namespace in release.all_namespaces:
        group = [
            o for o in objects if o["metadata"].get("namespace", release.namespace) == namespace
        ]
        found = json.loads(
            _kubectl(
                release.env,
                "get",
                "-f",
                "-",
                "-o",
                "json",
                "-n",
                namespace,
                stdin=yaml.safe_dump_all(group),
            )
        )
        items += found["items"] if found.get("kind") == "List" else [found]
    want = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects}
    have = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in items}
    assert want == have


@pytest.mark.parametrize("component", [*COMPONENTS, "postgresql"])
def test_component_pods_are_admitted_under_restricted(release: Release, component: str) -> None:
    """The controllers created each component's pod in the `restricted` namespace: admission
    let it in (a refused pod would leave the workload with no pod and a FailedCreate event)."""
    from kubernetes import client

    core = client.CoreV1Api(release.api)
    selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}"

    def admitted() -> list[Any]:
        return core.list_namespaced_pod(release.namespace, label_selector=selector).items

    pods = wait_for(admitted, timeout=60, what=f"a {component} pod", interval=0.5)
    assert pods[0].spec.security_context.run_as_non_root is True
    events = core.list_namespaced_event(release.namespace).items
    refused = [e.message for e in events if e.reason == "FailedCreate" and component in e.message]
    assert not refused, refused


@pytest.mark.parametrize("team", [None, *TEAMS])
def test_namespaces_are_created_enforcing_restricted(release: Release, team: str | None) -> None:
    """The workers' and each team's namespace enforce `restricted`: a privileged pod is
    refused there."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(release.api)
    namespace = release.team_namespace(team) if team else release.jobs_namespace
    labels = core.read_namespace(namespace).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    privileged = {
        "metadata": {"name": "privileged"},
        "spec": {
            "containers": [
                {"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}
            ]
        },
    }
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(namespace, privileged, dry_run="All")
    assert err.value.status == 403
    assert "PodSecurity" in err.value.body


def _as_worker(release: Release) -> Any:
    """An API client with the token of the release's worker service account, as a worker pod
    holds it."""
    import copy

    from kubernetes import client

    core = client.CoreV1Api(release.api)
    token = core.create_namespaced_service_account_token(
        f"{FULLNAME}-worker", release.jobs_namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token
    configuration = copy.deepcopy(release.api.configuration)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    configuration.cert_file = configuration.key_file = None
    return client.ApiClient(configuration)


def _admit(release: Release, pod: dict[str, Any], namespace: str, api: Any = None) -> Any:
    from kubernetes import client

    core = client.CoreV1Api(api or release.api)
    pod = {**pod, "metadata": {**pod["metadata"], "name": f"probe-{secrets.token_hex(3)}"}}
    pod["metadata"].pop("namespace", None)
    # Server-side dry run: the full admission chain (ServiceAccount, PodSecurity, the admission
    # policy) judges the pod without leaving it behind.
    return core.create_namespaced_pod(namespace, pod, dry_run="All")


def test_executor_worker_pod_is_admitted_in_the_workers_namespace(
    release: Release, tmp_path: Path
) -> None:
    """The worker pod Airflow's KubernetesExecutor builds from the template the chart put in
    the cluster passes admission in the workers' namespace, under the chart's worker account."""
    from kubernetes import client

    core = client.CoreV1Api(release.api)
    configmap = core.read_namespaced_config_map(
        f"{FULLNAME}-airflow-config", release.jobs_namespace
    )
    pod = executor_worker_pod(
        configmap.data["pod_template_file.yaml"],
        "registry.internal/airflow-platform/airflow:0.1.0",
        release.jobs_namespace,
        tmp_path,
    )
    created = _admit(release, pod, release.jobs_namespace)
    assert created.spec.service_account_name == f"{FULLNAME}-worker"
    assert created.spec.containers[0].name == "base"


def _release_config(release: Release, tmp_path: Path) -> str:
    from kubernetes import client

    core = client.CoreV1Api(release.api)
    configmap = core.read_namespaced_config_map(f"{FULLNAME}-platform-config", release.namespace)
    config = yaml.safe_load(configmap.data["platform.yaml"])
    assert config["policy"]["jobs_namespace"] == release.jobs_namespace
    return yaml.safe_dump(config)


def test_library_job_pod_is_admitted_in_its_teams_namespace_from_a_worker(
    release: Release, tmp_path: Path
) -> None:
    """A job pod built by the library from the platform config the chart put in the cluster is
    admitted in its team's namespace when a worker creates it: PodSecurity, the job service
    account with no token, and the chart's admission policy all let it in."""
    pod = library_job_pod(_release_config(release, tmp_path), tmp_path)
    assert pod["metadata"]["namespace"] == release.team_namespace("vision")
    created = _admit(release, pod, release.team_namespace("vision"), _as_worker(release))
    assert created.spec.service_account_name == "airflow-platform-job"
    assert created.spec.automount_service_account_token is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": "docker.io/library/busybox:1.36"}, "is not under an allowed prefix"),
        ({"memory": "64Gi"}, "must request exactly flavor gpu-1x-24gb's cpu 8, memory 48Gi"),
        ({"namespace": "nlp"}, "the pod says team vision, but namespace"),
    ],
    ids=["image", "size", "team"],
)
def test_the_charts_admission_policy_refuses_a_workers_pod_off_the_rails(
    release: Release, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    """The worker's own credentials cannot create a pod that leaves the catalog or the
    policy, in any team's namespace: the API server says why."""
    from kubernetes.client.exceptions import ApiException

    pod = library_job_pod(_release_config(release, tmp_path), tmp_path)
    container = pod["spec"]["containers"][0]
    container["image"] = change.get("image", container["image"])
    if "memory" in change:
        container["resources"]["requests"]["memory"] = change["memory"]
        container["resources"]["limits"]["memory"] = change["memory"]
    namespace = release.team_namespace(change.get("namespace", "vision"))
    with pytest.raises(ApiException) as err:
        _admit(release, pod, namespace, _as_worker(release))
    assert err.value.status == 403
    assert "ValidatingAdmissionPolicy" in err.value.body
    assert message in json.loads(err.value.body)["message"]


# (service account, its namespace: "release", "workers" or a team, verb, resource, target
#  namespace: "release", "workers", a team or a literal name, allowed)
ACCESS = [
    ("scheduler", "release", "create", "pods", "workers", True),
    ("scheduler", "release", "watch", "pods", "workers", True),
    ("scheduler", "release", "delete", "pods", "workers", True),
    ("scheduler", "release", "get", "pods/log", "workers", True),
    ("scheduler", "release", "create", "pods", "vision", False),
    ("scheduler", "release", "create", "pods", "default", False),
    ("scheduler", "release", "create", "pods", "kube-system", False),
    ("scheduler", "release", "create", "pods", "release", False),
    ("scheduler", "release", "get", "secrets", "workers", False),
    ("triggerer", "release", "watch", "pods", "vision", True),
    ("triggerer", "release", "delete", "pods", "nlp", True),
    ("triggerer", "release", "get", "pods/log", "analytics", True),
    ("triggerer", "release", "create", "pods", "default", False),
    ("triggerer", "release", "get", "secrets", "vision", False),
    ("worker", "workers", "create", "pods", "vision", True),
    ("worker", "workers", "create", "pods", "nlp", True),
    ("worker", "workers", "create", "pods", "workers", False),
    ("worker", "workers", "create", "pods", "release", False),
    ("worker", "workers", "create", "pods", "default", False),
    ("worker", "workers", "get", "secrets", "vision", False),
    ("worker", "workers", "get", "secrets", "release", False),
    ("api-server", "release", "create", "pods", "vision", False),
    ("dag-processor", "release", "create", "pods", "vision", False),
    ("pod-cleanup", "release", "list", "pods", "workers", True),
    ("pod-cleanup", "release", "delete", "pods", "workers", True),
    ("pod-cleanup", "release", "delete", "pods", "vision", True),
    ("pod-cleanup", "release", "list", "pods", "analytics", True),
    ("pod-cleanup", "release", "create", "pods", "vision", False),
    ("pod-cleanup", "release", "get", "pods/log", "vision", False),
    ("pod-cleanup", "release", "delete", "pods", "release", False),
    ("pod-cleanup", "release", "delete", "pods", "default", False),
    ("pod-cleanup", "release", "get", "secrets", "workers", False),
    ("job", "vision", "get", "secrets", "vision", False),
    ("job", "vision", "get", "secrets", "nlp", False),
    ("job", "vision", "list", "secrets", "analytics", False),
    ("job", "nlp", "get", "secrets", "vision", False),
    ("job", "vision", "create", "pods", "vision", False),
    ("job", "vision", "get", "pods", "nlp", False),
    ("job", "vision", "get", "secrets", "release", False),
    ("job", "vision", "create", "pods", "default", False),
]


@pytest.mark.parametrize(
    ("account", "home", "verb", "resource", "where", "allowed"),
    ACCESS,
    ids=[f"{a}@{h}-{v}-{r}-in-{w}-{'yes' if ok else 'no'}" for a, h, v, r, w, ok in ACCESS],
)
def test_service_account_rights(
    release: Release, account: str, home: str, verb: str, resource: str, where: str, allowed: bool
) -> None:
    """The real authorizer, asked through SubjectAccessReview: pod rights for the pod
    launchers in the workers' and the teams' namespaces only, none anywhere else, no Secret
    for anyone, and nothing at all for a team's job service account — not in its own
    namespace, not in another team's."""
    from kubernetes import client

    spaces = {
        "release": release.namespace,
        "workers": release.jobs_namespace,
        **{team: release.team_namespace(team) for team in TEAMS},
    }
    sa_namespace = spaces[home]
    sa_name = "airflow-platform-job" if account == "job" else f"{FULLNAME}-{account}"
    group, _, sub = resource.partition("/")
    review = client.AuthorizationV1Api(release.api).create_subject_access_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{sa_namespace}:{sa_name}",
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}"],
                "resourceAttributes": {
                    "namespace": spaces.get(where, where),
                    "verb": verb,
                    "resource": group,
                    "subresource": sub,
                },
            },
        }
    )
    assert review.status.allowed is allowed, review.status.reason


def _secret_bytes(release: Release) -> dict[str, bytes]:
    from kubernetes import client

    core = client.CoreV1Api(release.api)
    return {
        name: base64.b64decode(core.read_namespaced_secret(name, release.namespace).data[key])
        for name, key in GENERATED_SECRETS.items()
    }


def test_upgrade_keeps_generated_secrets_byte_for_byte(release: Release) -> None:
    """`helm upgrade` with a changed flavor and an added UI user re-renders every template, yet
    the fernet key, JWT secret, API secret key, database password and existing UI passwords stay
    exactly as generated at install; the changed platform config rolls the components, and the
    migration runs again in a new Job."""
    from kubernetes import client

    apps = client.AppsV1Api(release.api)

    def checksum() -> str:
        deployment = apps.read_namespaced_deployment(f"{FULLNAME}-scheduler", release.namespace)
        return deployment.spec.template.metadata.annotations["checksum/platform-config"]

    batch = client.BatchV1Api(release.api)

    def migration_jobs() -> list[str]:
        selector = (
            f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=migrate-database"
        )
        jobs = batch.list_namespaced_job(release.namespace, label_selector=selector).items
        return sorted(j.metadata.name for j in jobs if not j.metadata.deletion_timestamp)

    jobs_before = migration_jobs()
    assert len(jobs_before) == 1, jobs_before
    before, checksum_before = _secret_bytes(release), checksum()
    release.helm(
        "upgrade", RELEASE, str(CHART_DIR), "--namespace", release.namespace, "--timeout", "240s",
        *release.set_args(),
        "--set", "platform.flavors.cpu-2gb.memory=3Gi",
        "--set", "auth.users={admin:admin,bob:viewer}",
    )  # fmt: skip
    after = _secret_bytes(release)
    ui = f"{FULLNAME}-ui-passwords"
    assert {k: v for k, v in after.items() if k != ui} == {
        k: v for k, v in before.items() if k != ui
    }
    old_ui, new_ui = json.loads(before[ui]), json.loads(after[ui])
    assert new_ui["admin"] == old_ui["admin"]
    assert set(new_ui) == {"admin", "bob"}
    assert checksum() != checksum_before
    # The upgrade migrates again, in a Job of a new name (a Job's pod template is immutable);
    # Helm removed the install's Job.
    wait_for(
        lambda: len(migration_jobs()) == 1 and migration_jobs() != jobs_before,
        timeout=30,
        what="the upgrade's migration Job replacing the install's",
        interval=0.5,
    )


def test_uninstall_leaves_only_the_database_claim(control_plane: Any) -> None:
    """`helm uninstall` removes every object of a release, in both namespaces and the jobs
    namespace itself, except the documented one: the embedded PostgreSQL's PVC, kept by the
    StatefulSet's claim semantics so that a reinstall finds its data. Its own release, so that
    the other tests' release stays installed."""
    from kubernetes import client

    api = control_plane.api_client()
    core = client.CoreV1Api(api)
    installed = _install(control_plane, core, "chart-uninstall")
    installed.api = api
    pvc = f"data-{FULLNAME}-postgresql-0"
    try:
        wait_for(
            lambda: (
                pvc
                in [
                    c.metadata.name
                    for c in core.list_namespaced_persistent_volume_claim(installed.namespace).items
                ]
            ),
            timeout=60,
            what="the StatefulSet's PVC",
            interval=0.5,
        )
        installed.helm(
            "uninstall", RELEASE, "--namespace", installed.namespace, "--wait", "--timeout", "120s"
        )
        kinds = _kubectl(
            installed.env, "api-resources", "--verbs=list", "--namespaced", "-o", "name"
        )
        kinds = ",".join(k for k in kinds.split() if k not in ("events", "events.events.k8s.io"))

        def leftovers() -> list[str]:
            out = _kubectl(
                installed.env, "get", kinds, "-n", installed.namespace,
                "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name",
            )  # fmt: skip
            return sorted(out.split())

        left: list[str] = []

        def only_the_claim_left() -> bool:
            left[:] = leftovers()
            return left == [f"persistentvolumeclaim/{pvc}"]

        try:
            wait_for(only_the_claim_left, timeout=90, what="only the PVC left", interval=1)
        except TimeoutError:
            pytest.fail(f"helm uninstall left behind: {left}")
        # Secrets carry the label too, but say so plainly: no key outlives the release.
        assert not core.list_namespaced_secret(installed.namespace).items

        def chart_namespaces_gone() -> bool:
            names = {n.metadata.name for n in core.list_namespace().items}
            return not names.intersection(installed.all_namespaces[1:])

        wait_for(chart_namespaces_gone, timeout=90, what="the jobs namespaces deleted", interval=1)
    finally:
        _cleanup(installed, core)
        api.close()


def test_install_with_external_database_and_named_secrets(control_plane: Any) -> None:
    """The production shape (tests/chart/values/external-database.yaml): the migration Job runs
    against the external database's Secret, the chart generates no Secret of its
    own, and every component still comes up admitted under `restricted`."""
    from kubernetes import client

    api = control_plane.api_client()
    core = client.CoreV1Api(api)
    namespace = _create_namespace(core, "chart-external-db")
    installed = Release(namespace, f"{namespace}-jobs", control_plane.env, "", api)
    named = {
        "airflow-db": {"pg-password": "from-the-dba"},
        "airflow-fernet": {"fernet-key": "x" * 43 + "="},
        "airflow-jwt": {"jwt-secret": "jwt"},
        "airflow-api-key": {"api-secret-key": "api"},
        "airflow-ui-passwords": {"passwords.json": '{"admin": "pw"}'},
    }
    try:
        for name, data in named.items():
            core.create_namespaced_secret(
                namespace, {"metadata": {"name": name}, "stringData": data}
            )
        installed.helm(
            "install", RELEASE, str(CHART_DIR), "--namespace", namespace, "--timeout", "240s",
            "--values", str(VALUES_DIR / "external-database.yaml"), *installed.set_args(),
        )  # fmt: skip
        # Helm's own release record aside, only the Secrets named in values exist.
        secrets_in_namespace = [
            s.metadata.name
            for s in core.list_namespaced_secret(namespace).items
            if s.type != "helm.sh/release.v1"
        ]
        assert sorted(secrets_in_namespace) == sorted(named)
        assert not client.AppsV1Api(api).list_namespaced_stateful_set(namespace).items
        for component in COMPONENTS:
            selector = (
                f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}"
            )
            wait_for(
                lambda selector=selector: (
                    core.list_namespaced_pod(namespace, label_selector=selector).items
                ),
                timeout=60,
                what=f"a {component} pod",
                interval=0.5,
            )
    finally:
        _cleanup(installed, core)
        api.close()
