"""Spark's own Kubernetes client submits the platform's Spark job to the real API server.

spark-submit (from the pyspark package) runs in cluster mode against the control-plane harness
with the platform's conf and pod templates; the driver pod it creates is checked as the API
server stored it, in a namespace enforcing Pod Security `restricted` (so admission itself
proves the pod meets the standard). kwok plays the kubelet, so the driver never runs: the
submission stops waiting once the driver pod exists.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_platform import spark
from airflow_platform.config import PlatformConfig, parse_memory
from airflow_platform.kerberos import KEYTAB_VOLUME
from airflow_platform.operators.job import PolicyViolation
from airflow_platform.pods import RunContext
from airflow_platform.spec.models import JobSpec
from tests.harness.controlplane import ControlPlane
from tests.harness.kube import wait_for
from tests.kerberos.kdc import Kdc
from tests.kerberos.platform import kerberized_config_data
from tests.kerberos.secrets import keytab_leaks

pytestmark = [pytest.mark.spark, pytest.mark.cluster]

JOB: dict[str, Any] = {
    "name": "trip-summary",
    "team": "analytics",
    "resource_flavor": "cpu-2gb",
    "docker_image": "registry.internal/analytics/spark-etl:4.2.0",
    "execution_time": "30 minutes",
    "kerberos": True,
    "spark": {
        "application": "etl.py",
        "arguments": ["--input", "data/trips.csv"],
        "executor_flavor": "cpu-4gb",
        "executors": 2,
    },
}


@pytest.fixture
def spark_namespace(restricted_namespace: str, core_v1: Any, kdc: Kdc) -> str:
    """The jobs namespace as the chart and the platform team leave it: the Spark drivers'
    service account, the krb5.conf ConfigMap and the team's keytab Secret (real keytab)."""
    core_v1.create_namespaced_service_account(
        restricted_namespace, {"metadata": {"name": "airflow-platform-spark"}}
    )
    core_v1.create_namespaced_config_map(
        restricted_namespace,
        {
            "metadata": {"name": "airflow-platform-krb5"},
            "data": {"krb5.conf": kdc.krb5_conf_text()},
        },
    )
    keytab = kdc.keytabs["svc-analytics"].read_bytes()
    core_v1.create_namespaced_secret(
        restricted_namespace,
        {
            "metadata": {"name": "analytics-keytab"},
            "data": {"keytab": base64.b64encode(keytab).decode()},
        },
    )
    return restricted_namespace


def _config(
    kdc: Kdc, plane: ControlPlane, namespace: str, max_executors: int = 4
) -> PlatformConfig:
    data = kerberized_config_data(kdc.realm, kdc.krb5_conf_text(), max_executors)
    data["teams"]["analytics"]["namespace"] = namespace
    data["spark"] = {"master": f"k8s://{plane.server}"}
    return PlatformConfig.model_validate(data)


def _submit(
    job: JobSpec, config: PlatformConfig, plane: ControlPlane, env: dict[str, str], tmp: Path
) -> subprocess.CompletedProcess[str]:
    context = RunContext(
        dag_id="trip-summary", task_id="trip-summary", run_id="manual__1", try_number=1
    )
    spark.write_templates(job, config, tmp, context)
    command = spark.submit_command(job, config, tmp, context)
    # The harness has no kubelet: stop waiting once the driver pod is created.
    command[1:1] = ["--conf", "spark.kubernetes.submission.waitAppCompletion=false"]
    return subprocess.run(
        command,
        env={**env, "KUBECONFIG": str(plane.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=tmp,
    )


def test_cluster_mode_submission_creates_the_platform_driver_pod(
    control_plane: ControlPlane,
    core_v1: Any,
    spark_namespace: str,
    kdc: Kdc,
    spark_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """The driver pod has the flavor's memory and CPU, the platform's labels, the deadline,
    the keytab read-only with mode 0400, the krb5.conf ConfigMap and Spark's Kerberos conf;
    nothing shows the keytab's bytes (output, pod, Spark's conf ConfigMap)."""
    config = _config(kdc, control_plane, spark_namespace)
    job = JobSpec.model_validate(JOB)
    result = _submit(job, config, control_plane, spark_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    pods = wait_for(
        lambda: (
            core_v1.list_namespaced_pod(spark_namespace, label_selector="spark-role=driver").items
        ),
        timeout=60,
        what="the Spark driver pod",
    )
    (driver,) = pods
    pod = core_v1.api_client.sanitize_for_serialization(driver)
    spec = pod["spec"]
    (container,) = spec["containers"]
    # the flavor's resources: memory request = limit = the flavor's; CPU request
    flavor = config.flavors["cpu-2gb"]
    assert parse_memory(container["resources"]["requests"]["memory"]) == parse_memory(flavor.memory)
    assert parse_memory(container["resources"]["limits"]["memory"]) == parse_memory(flavor.memory)
    assert container["resources"]["requests"]["cpu"] == flavor.cpu
    # labels, deadline, placement, security
    labels = pod["metadata"]["labels"]
    assert labels["airflow-platform/team"] == "analytics"
    assert labels["airflow-platform/job"] == "trip-summary"
    assert labels["airflow-platform/flavor"] == "cpu-2gb"
    assert labels["airflow-platform/dag"] == "trip-summary"
    assert labels["app.kubernetes.io/component"] == "spark-driver"
    assert spec["activeDeadlineSeconds"] == 1800
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["serviceAccountName"] == "airflow-platform-spark"
    # the keytab: the team's Secret, mode 0400, mounted read-only where spark.kerberos.keytab says
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[KEYTAB_VOLUME]["secret"]["secretName"] == "analytics-keytab"
    assert volumes[KEYTAB_VOLUME]["secret"]["defaultMode"] == 0o400
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == KEYTAB_VOLUME]
    assert mount["readOnly"] is True
    # the krb5.conf ConfigMap, mounted by Spark at /etc/krb5.conf
    assert any(
        (v.get("configMap") or {}).get("name") == "airflow-platform-krb5" for v in spec["volumes"]
    )
    assert any(m["mountPath"] == "/etc/krb5.conf" for m in container["volumeMounts"])
    # Spark's conf as the driver reads it
    conf_maps = core_v1.list_namespaced_config_map(spark_namespace).items
    spark_conf = "\n".join(
        value for cm in conf_maps for value in (cm.data or {}).values() if "spark.kerberos" in value
    )
    assert f"spark.kerberos.principal={kdc.principal('svc-analytics')}" in spark_conf.replace(
        "\\", ""
    )
    assert "spark.kerberos.keytab=local\\:///etc/airflow-platform/keytab/keytab" in spark_conf or (
        "spark.kerberos.keytab=local:///etc/airflow-platform/keytab/keytab" in spark_conf
    )
    # no keytab bytes anywhere the user or Spark shows things
    keytab = kdc.keytabs["svc-analytics"].read_bytes()
    shown = result.stdout + result.stderr + yaml.safe_dump(pod) + spark_conf
    assert keytab_leaks(shown, keytab) == []
    # Spark created no Secret of its own: the keytab was never uploaded
    secrets = [s.metadata.name for s in core_v1.list_namespaced_secret(spark_namespace).items]
    assert secrets == ["analytics-keytab"]


def test_policy_refuses_executors_over_the_team_cap_before_submitting(
    control_plane: ControlPlane,
    core_v1: Any,
    spark_namespace: str,
    kdc: Kdc,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Asking for 9 executors with a cap of 4 fails in the operator, naming the cap; no pod,
    Service or ConfigMap of Spark's reaches the namespace."""
    from airflow_platform.operators.spark import SparkJobOperator

    config = _config(kdc, control_plane, spark_namespace, max_executors=4)
    config_file = tmp_path / "platform.yaml"
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_none=True)))
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(config_file))
    job = JobSpec.model_validate({**JOB, "spark": {**JOB["spark"], "executors": 9}})
    with pytest.raises(PolicyViolation, match=r"9 executors is over team analytics's cap of 4"):
        SparkJobOperator(task_id="trip-summary", job=job, config=config)
    assert core_v1.list_namespaced_pod(spark_namespace).items == []
    assert [c.metadata.name for c in core_v1.list_namespaced_config_map(spark_namespace).items] == [
        "airflow-platform-krb5",
        "kube-root-ca.crt",
    ]


def test_a_cap_lowered_after_parsing_refuses_the_task_before_submitting(
    control_plane: ControlPlane,
    core_v1: Any,
    spark_namespace: str,
    kdc: Kdc,
    spark_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The DAG was parsed under a cap of 4; at task start the catalog says 2: the task fails
    with the policy's message and spark-submit never runs (no pod reaches the namespace)."""
    from airflow_platform.operators.spark import SparkJobOperator

    job = JobSpec.model_validate({**JOB, "spark": {**JOB["spark"], "executors": 3}})
    parsed_under = _config(kdc, control_plane, spark_namespace, max_executors=4)
    operator = SparkJobOperator(task_id="trip-summary", job=job, config=parsed_under)
    today = _config(kdc, control_plane, spark_namespace, max_executors=2)
    config_file = tmp_path / "platform.yaml"
    config_file.write_text(yaml.safe_dump(today.model_dump(mode="json", exclude_none=True)))
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(config_file))
    monkeypatch.setenv("AIRFLOW_PLATFORM_BACKEND", "kubernetes")
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    monkeypatch.setenv("PATH", spark_env["PATH"])
    with pytest.raises(PolicyViolation, match=r"3 executors is over team analytics's cap of 2"):
        operator.execute({"run_id": "manual__1", "ti": None})
    assert core_v1.list_namespaced_pod(spark_namespace).items == []
