"""The metadata database: embedded PostgreSQL by default, an external one for production, the
migration hook Job, and every component waiting for the migrated schema."""

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


def test_migration_job_runs_db_migrate_as_a_hook() -> None:
    """`airflow db migrate` runs as a Helm hook before every upgrade; a succeeded Job is removed
    so that nothing of it outlives the release."""
    job = render_chart(None, "templates/migrate/job.yaml")[0]
    assert job["kind"] == "Job"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["airflow", "db", "migrate"]
    annotations = job["metadata"]["annotations"]
    assert "pre-upgrade" in annotations["helm.sh/hook"].split(",")
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"


@pytest.mark.parametrize(
    ("values", "install_hook"),
    [(None, "post-install"), (EXTERNAL, "pre-install")],
    ids=["embedded", "external"],
)
def test_migration_runs_before_install_unless_the_database_is_in_the_release(
    values: dict | None, install_hook: str
) -> None:
    """An external database is migrated before any component exists; the embedded one cannot
    be (it is created with the release), so its first migration runs right after install while
    the components wait in their init containers."""
    job = render_chart(values, "templates/migrate/job.yaml")[0]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == f"{install_hook},pre-upgrade"


def test_migration_job_uses_nothing_a_pre_install_hook_cannot_see() -> None:
    """Pre-install hooks run before the release's objects exist, so the Job mounts no
    ConfigMap, names no release ServiceAccount and mounts no token."""
    job = render_chart(EXTERNAL, "templates/migrate/job.yaml")[0]
    spec = job["spec"]["template"]["spec"]
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
    job = render_chart(values, "templates/migrate/job.yaml")[0]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_production_values_file_renders_no_embedded_database() -> None:
    """The production scenario (external database, every key from a named Secret) renders no
    StatefulSet and generates no Secret at all."""
    docs = render_chart(values_files=[VALUES_DIR / "external-database.yaml"])
    assert not by_kind(docs, "StatefulSet")
    assert not by_kind(docs, "Secret")
