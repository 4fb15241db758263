"""Task logs: read from a running task's worker pod, and from an object store once it is gone."""

from __future__ import annotations

import configparser
from typing import Any

import pytest
from jmespath import search

from tests.chart.render import FULLNAME, NAMESPACE, HelmError, find, render_chart

pytestmark = pytest.mark.chart
REMOTE = {
    "logs": {
        "remote": {"baseFolder": "s3://airflow-logs/tasks", "connectionSecretName": "logs-store"}
    }
}


def _airflow_cfg(docs: list[dict[str, Any]]) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(
        find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", NAMESPACE)["data"]["airflow.cfg"]
    )
    return cfg


def test_remote_task_logs_are_off_by_default() -> None:
    cfg = _airflow_cfg(render_chart())
    assert not cfg.has_option("logging", "remote_logging")


def test_remote_task_logs_go_to_the_store_through_the_connection_secret() -> None:
    """airflow.cfg names the folder and the connection; every Airflow container and the worker
    pod template read the connection from the Secret, never from a ConfigMap."""
    docs = render_chart(REMOTE)
    cfg = _airflow_cfg(docs)
    assert cfg.get("logging", "remote_logging") == "True"
    assert cfg.get("logging", "remote_base_log_folder") == "s3://airflow-logs/tasks"
    assert cfg.get("logging", "remote_log_conn_id") == "airflow_platform_logs"
    env_ref = {"secretKeyRef": {"name": "logs-store", "key": "connection"}}
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        deployment = find(docs, "Deployment", f"{FULLNAME}-{component}", NAMESPACE)
        env = search("spec.template.spec.containers[0].env", deployment)
        assert {"name": "AIRFLOW_CONN_AIRFLOW_PLATFORM_LOGS", "valueFrom": env_ref} in env
    template = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", NAMESPACE)["data"]
    assert "AIRFLOW_CONN_AIRFLOW_PLATFORM_LOGS" in template["pod_template_file.yaml"]
    assert "logs-store" in template["pod_template_file.yaml"]


def test_a_log_folder_without_its_connection_is_refused_with_what_to_set() -> None:
    with pytest.raises(HelmError, match=r"logs\.remote\.connectionSecretName"):
        render_chart({"logs": {"remote": {"baseFolder": "s3://airflow-logs/tasks"}}})


def test_api_server_may_read_worker_pods_and_their_logs_and_nothing_more() -> None:
    """The log-reader Role: get/list pods and get pods/log, in the workers' namespace only,
    bound to the api-server's service account."""
    docs = render_chart(
        None, ["templates/rbac/log-reader-role.yaml", "templates/rbac/log-reader-rolebinding.yaml"]
    )
    role = find(docs, "Role", f"{FULLNAME}-log-reader")
    assert role["metadata"]["namespace"] != NAMESPACE
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]
    binding = find(docs, "RoleBinding", f"{FULLNAME}-log-reader")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{FULLNAME}-api-server", "namespace": NAMESPACE}
    ]
