"""auth.manager: Airflow's simple auth manager by default, the FAB auth manager for production.

That the installed api-server really authenticates FAB users (and refuses a user of one team
submitting as another) is proven on the real node in tests/platform/test_install.py."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.chart.render import (
    FULLNAME,
    NAMESPACE,
    VALUES_DIR,
    WORKERS_NAMESPACE,
    HelmError,
    airflow_cfg,
    by_kind,
    find,
    render_chart,
    search,
)

pytestmark = pytest.mark.chart

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
FAB_VALUES = VALUES_DIR / "fab-auth.yaml"


def _pod_spec(docs: list[dict[str, Any]], kind: str, name_part: str) -> Any:
    (found,) = [d for d in by_kind(docs, kind) if name_part in d["metadata"]["name"]]
    return found["spec"]["template"]["spec"]


def _secret_names(docs: list[dict[str, Any]]) -> set[str]:
    return {d["metadata"]["name"] for d in by_kind(docs, "Secret")}


def test_the_default_is_the_simple_auth_manager_with_generated_passwords() -> None:
    docs = render_chart()
    core = airflow_cfg(docs)["core"]
    assert core["auth_manager"].endswith(".SimpleAuthManager")
    assert core["simple_auth_manager_users"] == "admin:admin"
    assert f"{FULLNAME}-ui-passwords" in _secret_names(docs)
    assert f"{FULLNAME}-fab-admin" not in _secret_names(docs)


def test_fab_configures_every_component_and_drops_the_simple_managers_settings() -> None:
    docs = render_chart(values_files=[FAB_VALUES])
    cfg = airflow_cfg(docs)
    assert cfg["core"]["auth_manager"] == FAB
    assert cfg["fab"]["config_file"] == "/opt/airflow/fab/webserver_config.py"
    assert not [o for o in cfg["core"] if o.startswith("simple_auth_manager")]
    # Workers read the same airflow.cfg (rails.caller_roles asks it which manager is in use).
    workers = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
    assert f"auth_manager = {FAB}" in workers["data"]["airflow.cfg"]
    assert f"{FULLNAME}-ui-passwords" not in _secret_names(docs)


def test_the_fab_config_file_is_the_platform_teams_and_the_api_server_reads_it() -> None:
    docs = render_chart(values_files=[FAB_VALUES])
    configmap = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", NAMESPACE)
    assert "AUTH_TYPE = AUTH_LDAP" in configmap["data"]["webserver_config.py"]
    spec = _pod_spec(docs, "Deployment", "api-server")
    mount = search("containers[0].volumeMounts[?subPath=='webserver_config.py'] | [0]", spec)
    assert mount == {
        "name": "airflow-config",
        "mountPath": "/opt/airflow/fab/webserver_config.py",
        "subPath": "webserver_config.py",
        "readOnly": True,
    }
    assert spec["containers"][0]["args"] == ["sh", "-c", "exec airflow api-server --port 8080"]
    assert not [v for v in spec["volumes"] if v["name"].startswith("ui-passwords")]


def test_a_changed_fab_config_rolls_the_api_server() -> None:
    def checksum(config: str) -> str:
        values = {"auth": {"manager": "fab", "fab": {"webserverConfig": config}}}
        deployment = render_chart(values, "templates/api-server/deployment.yaml")[0]
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/fab-config"]

    assert checksum("AUTH_TYPE = 1\n") != checksum("AUTH_TYPE = 2\n")


def test_the_migration_job_creates_the_first_admin_from_a_secret_never_from_values() -> None:
    """`airflow db migrate` under the FAB manager (so FAB's tables are migrated), then `airflow
    users create` of the first Admin, its password from the named Secret's env var only."""
    docs = render_chart(values_files=[FAB_VALUES])
    (container,) = _pod_spec(docs, "Job", "migrate")["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["AIRFLOW__CORE__AUTH_MANAGER"]["value"] == FAB
    assert env["FAB_ADMIN_USERNAME"]["value"] == "platform-admin"
    assert env["FAB_ADMIN_EMAIL"]["value"] == "platform-admin@example.com"
    assert env["FAB_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "airflow-admin",
        "key": "password",
    }
    script = container["args"][2]
    assert script.startswith("airflow db migrate && airflow users create --role Admin")
    assert '--password "$FAB_ADMIN_PASSWORD"' in script
    assert f"{FULLNAME}-fab-admin" not in _secret_names(docs)  # the named Secret is used


def test_the_first_admins_password_is_generated_when_no_secret_is_named() -> None:
    docs = render_chart({"auth": {"manager": "fab"}})
    secret = find(docs, "Secret", f"{FULLNAME}-fab-admin", NAMESPACE)
    assert len(base64.b64decode(secret["data"]["password"])) >= 24
    (container,) = _pod_spec(docs, "Job", "migrate")["containers"]
    ref = {e["name"]: e for e in container["env"]}["FAB_ADMIN_PASSWORD"]["valueFrom"]
    assert ref["secretKeyRef"]["name"] == f"{FULLNAME}-fab-admin"


def test_the_simple_managers_migration_job_runs_only_the_migration() -> None:
    (container,) = _pod_spec(render_chart(), "Job", "migrate")["containers"]
    assert container["args"] == ["airflow", "db", "migrate"]
    assert not [e for e in container["env"] if e["name"].startswith("FAB_")]


def test_an_unknown_auth_manager_is_refused_with_its_key() -> None:
    with pytest.raises(HelmError, match=r"/auth/manager"):
        render_chart({"auth": {"manager": "ldap"}})
