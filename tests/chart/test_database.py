"""The metadata database: embedded PostgreSQL by default, an external one for production, the
migration Job, and every component waiting for the migrated schema."""

from __future__ import annotations

import pytest

from tests.chart.render import (
    COMPONENTS,
    FULLNAME,
    NAMESPACE,
    VALUES_DIR,
    by_kind,
    find,
    render_chart,
    search,
)

pytestmark = pytest.mark.chart

EXTERNAL = {
    "postgresql": {"enabled": False},
    "externalDatabase": {
        "host": "pg.example.internal",
        "port": 6432,
        "db": "af",
        "user": "af_user",
        "passwordSecret": {"name": "pg-secret", "key": "pw"},
        "sslMode": "require",
    },
}


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"]}


def test_embedded_postgresql_is_a_statefulset_with_a_claim() -> None:
    """The default database keeps its data in a PVC from volumeClaimTemplates."""
    docs = render_chart(None, "templates/postgresql/statefulset.yaml")
    sts = find(docs, "StatefulSet", f"{FULLNAME}-postgresql", NAMESPACE)
    claim = search("spec.volumeClaimTemplates[0]", sts)
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.internal/airflow-platform/postgresql:0.1.0"
    assert _env(container)["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        f"{FULLNAME}-postgresql"
    )
    assert container["readinessProbe"]
    assert container["livenessProbe"]


def test_embedded_postgresql_storage_values() -> None:
    """Size and StorageClass of the claim come from values."""
    values = {"postgresql": {"persistence": {"size": "50Gi", "storageClassName": "fast"}}}
    sts = render_chart(values, "templates/postgresql/statefulset.yaml")[0]
    claim = search("spec.volumeClaimTemplates[0].spec", sts)
    assert claim["storageClassName"] == "fast"
    assert claim["resources"]["requests"]["storage"] == "50Gi"


def test_components_connect_to_the_embedded_database_service() -> None:
    """The connection URL names the embedded Service, user and database."""
    docs = render_chart()
    scheduler = find(docs, "Deployment", f"{FULLNAME}-scheduler")
    url = _env(scheduler["spec"]["template"]["spec"]["containers"][0])[
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    ]["value"]
    assert url == (
        f"postgresql+psycopg2://airflow:$(DATABASE_PASSWORD)@{FULLNAME}-postgresql:5432/airflow"
    )
    service = find(docs, "Service", f"{FULLNAME}-postgresql")
    assert service["spec"]["ports"][0]["port"] == 5432


def test_external_database_replaces_the_embedded_one() -> None:
    """With an external database no PostgreSQL objects are rendered and every component and
    the migration Job connect to the given host with the named password Secret."""
    docs = render_chart(EXTERNAL)
    assert not [d for d in docs if "postgresql" in d["metadata"]["name"]]
    expected = "postgresql+psycopg2://af_user:$(DATABASE_PASSWORD)@pg.example.internal:6432/af?sslmode=require"
    containers = [
        c
        for d in docs
        if d["kind"] in ("Deployment", "Job")
        # the statsd-exporter (monitoring) is no Airflow component and has no database
        and d["metadata"]["labels"]["app.kubernetes.io/component"] != "statsd-exporter"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert len(containers) == len(COMPONENTS) + 1
    for container in containers:
        env = _env(container)
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]["value"] == expected
        assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "pg-secret",
            "key": "pw",
        }


def _migration_job(values: dict | None = None) -> dict:
    docs = render_chart(values, "templates/migrate/job.yaml")
    assert len(docs) == 1
    return docs[0]


@pytest.mark.parametrize("values", [None, EXTERNAL], ids=["embedded", "external"])
def test_migration_job_is_part_of_the_release_not_a_hook(values: dict | None) -> None:
    """`airflow db migrate` is a plain Job of the manifest, not a Helm hook: Helm runs
    post-install hooks only after `helm install --wait` has seen every Deployment Ready, and
    the components cannot be Ready before the migration (they wait for it), so a post-install
    hook deadlocked `--wait` with the embedded database. As part of the manifest it starts with
    the database and the components, and `--wait-for-jobs` waits for it."""
    job = _migration_job(values)
    assert job["kind"] == "Job"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["airflow", "db", "migrate"]
    assert not any(k.startswith("helm.sh/hook") for k in job["metadata"].get("annotations", {}))
    assert job["metadata"]["name"].startswith(f"{FULLNAME}-migrate-")
    assert len(job["metadata"]["name"]) <= 63  # it becomes the pods' job-name label


def test_no_hook_runs_before_the_components_can_become_ready() -> None:
    """No pre- or post-install hook of the release starts a pod (the `helm test` Pod aside), so
    nothing `--wait` waits for depends on a hook that runs after it."""
    hooked = [
        f"{d['kind']}/{d['metadata']['name']}: {d['metadata']['annotations']['helm.sh/hook']}"
        for d in render_chart()
        if "helm.sh/hook" in (d["metadata"].get("annotations") or {})
        and d["metadata"]["annotations"]["helm.sh/hook"] != "test"
    ]
    assert not hooked, hooked


def test_migration_job_is_renamed_when_its_spec_changes() -> None:
    """A Job's pod template is immutable, so a new image (a new Airflow, a new schema) makes a
    Job of a new name, which `helm upgrade` creates while deleting the old one; the same values
    render the same name, so `helm template` (GitOps) does not churn it."""
    same = _migration_job()["metadata"]["name"]
    assert _migration_job()["metadata"]["name"] == same
    newer = {"images": {"airflow": {"tag": "0.2.0"}}}
    assert _migration_job(newer)["metadata"]["name"] != same
    assert _migration_job(EXTERNAL)["metadata"]["name"] != same


def test_migration_job_needs_no_rights() -> None:
    """It mounts nothing of the release, names no release ServiceAccount and mounts no token:
    all it needs is the database."""
    spec = _migration_job(EXTERNAL)["spec"]["template"]["spec"]
    assert not spec.get("volumes")
    assert "serviceAccountName" not in spec
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_waits_for_the_migrated_schema(component: str) -> None:
    """An init container blocks the component until `airflow db check-migrations` passes."""
    values = {"waitForMigrations": {"timeoutSeconds": 77}}
    deployment = render_chart(values, f"templates/{component}/deployment.yaml")[0]
    init = search(
        "spec.template.spec.initContainers[?name=='wait-for-migrations'] | [0]", deployment
    )
    assert init["args"] == ["airflow", "db", "check-migrations", "--migration-wait-timeout=77"]
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in _env(init)


def test_external_host_alone_selects_the_external_database() -> None:
    """Setting externalDatabase.host is enough: the embedded PostgreSQL is left out without
    also turning postgresql.enabled off, and a bare Secret name means key `password`."""
    values = {"externalDatabase": {"host": "pg.example.internal", "passwordSecret": "pg-secret"}}
    docs = render_chart(values)
    assert not by_kind(docs, "StatefulSet")
    scheduler = find(docs, "Deployment", f"{FULLNAME}-scheduler")
    env = _env(scheduler["spec"]["template"]["spec"]["containers"][0])
    assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "pg-secret",
        "key": "password",
    }
    assert (
        "@pg.example.internal:5432/airflow?" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]["value"]
    )
    job = _migration_job(values)
    assert (
        "@pg.example.internal:5432/airflow?"
        in _env(job["spec"]["template"]["spec"]["containers"][0])[
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
        ]["value"]
    )


def test_production_values_file_renders_no_embedded_database() -> None:
    """The production scenario (external database, every key from a named Secret) renders no
    StatefulSet and generates no Secret at all."""
    docs = render_chart(values_files=[VALUES_DIR / "external-database.yaml"])
    assert not by_kind(docs, "StatefulSet")
    assert not by_kind(docs, "Secret")
