"""SparkJobOperator end to end against the real API server: guard, pod templates, the
apache.spark provider's hook running pyspark's spark-submit in cluster mode, Spark's own
Kubernetes client creating the driver, and the wait for it to finish (kwok plays the kubelet:
the driver "runs" for a second and exits 0)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_platform.config import PlatformConfig, parse_memory
from airflow_platform.kerberos import KEYTAB_VOLUME
from airflow_platform.operators.spark import SparkJobOperator
from airflow_platform.spec.models import JobSpec
from tests.harness.controlplane import ControlPlane
from tests.kerberos.kdc import Kdc
from tests.kerberos.platform import kerberized_config_data
from tests.kerberos.secrets import keytab_leaks

pytestmark = [pytest.mark.spark, pytest.mark.cluster]

JOB: dict[str, Any] = {
    "name": "trip-summary",
    "team": "analytics",
    "resource_flavor": "cpu-4gb",
    "docker_image": "registry.internal/analytics/trip-summary:4.2.0",
    "execution_time": "20 minutes",
    "kerberos": True,
    "spark": {
        "application": "trip_summary/etl.py",
        "arguments": ["--input", "trip_summary/data/trips.csv"],
        "executor_flavor": "cpu-16gb",
        "executors": 3,
        "conf": {"spark.driver.memoryOverhead": "1g"},
    },
}


@pytest.fixture
def operator_env(
    control_plane: ControlPlane,
    core_v1: Any,
    restricted_namespace: str,
    kdc: Kdc,
    spark_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> PlatformConfig:
    """The jobs namespace set up as the chart leaves it, and the worker's environment: the
    platform config (master = the harness's API server), the kubeconfig, pyspark's spark-submit."""
    ns = restricted_namespace
    core_v1.create_namespaced_service_account(ns, {"metadata": {"name": "airflow-platform-spark"}})
    core_v1.create_namespaced_config_map(
        ns,
        {
            "metadata": {"name": "airflow-platform-krb5"},
            "data": {"krb5.conf": kdc.krb5_conf_text()},
        },
    )
    keytab = kdc.keytabs["svc-analytics"].read_bytes()
    core_v1.create_namespaced_secret(
        ns,
        {
            "metadata": {"name": "analytics-keytab"},
            "data": {"keytab": base64.b64encode(keytab).decode()},
        },
    )
    data = kerberized_config_data(kdc.realm, kdc.krb5_conf_text())
    data["teams"]["analytics"]["namespace"] = ns
    data["spark"] = {"master": f"k8s://{control_plane.server}"}
    config_file = tmp_path / "platform.yaml"
    config_file.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(config_file))
    monkeypatch.setenv("AIRFLOW_PLATFORM_BACKEND", "kubernetes")
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    monkeypatch.setenv("PATH", spark_env["PATH"])
    return PlatformConfig.model_validate(data)


def test_operator_submits_waits_and_leaves_no_keytab_in_logs_or_xcom(
    operator_env: PlatformConfig,
    core_v1: Any,
    restricted_namespace: str,
    kdc: Kdc,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The task succeeds once the driver exits 0; the driver pod it made has the driver
    flavor's memory (overhead carved out of it), its labels and the keytab volume; the task
    returns nothing for XCom, and its log holds no keytab bytes."""
    job = JobSpec.model_validate(JOB)
    operator = SparkJobOperator(task_id="trip-summary", job=job, config=operator_env)
    xcom = operator.execute({"run_id": "manual__2026-11-24", "ti": None})
    assert xcom is None
    (driver,) = core_v1.list_namespaced_pod(
        restricted_namespace, label_selector="spark-role=driver"
    ).items
    pod = core_v1.api_client.sanitize_for_serialization(driver)
    assert pod["status"]["phase"] == "Succeeded"
    (container,) = pod["spec"]["containers"]
    memory = container["resources"]["limits"]["memory"]
    assert parse_memory(memory) == parse_memory(operator_env.flavors["cpu-4gb"].memory)
    assert pod["metadata"]["labels"]["airflow-platform/flavor"] == "cpu-4gb"
    assert pod["metadata"]["labels"]["airflow-platform/task"] == "trip-summary"
    assert pod["spec"]["activeDeadlineSeconds"] == 1200
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes[KEYTAB_VOLUME]["secret"]["defaultMode"] == 0o400
    args = " ".join(container.get("args") or [])
    assert "trip_summary/etl.py" in args
    captured = capfd.readouterr()
    logs = captured.out + captured.err
    assert "Spark-Submit cmd" in logs
    assert "exit code: 0" in logs
    assert keytab_leaks(logs + yaml.safe_dump(pod), kdc.keytabs["svc-analytics"].read_bytes()) == []
