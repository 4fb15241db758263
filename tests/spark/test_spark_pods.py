"""The driver and executor pod templates and the conf that sizes them (no cluster needed)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from airflow_platform import spark
from airflow_platform.cli import app
from airflow_platform.config import PlatformConfig, parse_memory
from airflow_platform.dagfactory import operator_class
from airflow_platform.kerberos import KEYTAB_VOLUME
from airflow_platform.operators.job import JobOperator, PolicyViolation
from airflow_platform.operators.spark import SparkJobOperator
from airflow_platform.pods import pod_to_dict
from airflow_platform.spec.models import JobSpec
from tests.chart.pss import violations
from tests.kerberos.kdc import Kdc
from tests.kerberos.platform import kerberized_config_data
from tests.kerberos.secrets import keytab_leaks

pytestmark = pytest.mark.spark

JOB: dict[str, Any] = {
    "name": "embed-images",
    "team": "vision",
    "resource_flavor": "cpu-4gb",
    "docker_image": "registry.internal/vision/spark-embed:4.2.0",
    "execution_time": "2 hours",
    "kerberos": True,
    "spark": {
        "application": "embed.py",
        "executor_flavor": "gpu-1x-24gb",
        "executors": 2,
        "conf": {"spark.executor.memoryOverhead": "4g"},
    },
}


@pytest.fixture
def config() -> PlatformConfig:
    """Kerberos for analytics and vision; vision may run GPU executors."""
    data = kerberized_config_data("EXAMPLE.COM", "[libdefaults]\n  default_realm = EXAMPLE.COM\n")
    data["teams"]["vision"]["spark"] = {"max_executors": 4, "executor_flavors": ["gpu-1x-24gb"]}
    return PlatformConfig.model_validate(data)


def _templates(config: PlatformConfig, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    job = JobSpec.model_validate({**JOB, **overrides})
    driver, executor = spark.pod_templates(job, config)
    return pod_to_dict(driver), pod_to_dict(executor)


def test_gpu_executor_flavor_puts_gpus_in_executor_limits_and_places_on_gpu_nodes(
    config: PlatformConfig,
) -> None:
    """Executors of a GPU flavor keep the GPUs (Spark adds CPU and memory), require a GPU
    node of the product and tolerate the taint; the CPU driver keeps off GPU nodes."""
    driver, executor = _templates(config)
    (container,) = executor["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    terms = executor["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    keys = {e["key"]: e for e in terms[0]["matchExpressions"]}
    assert keys["nvidia.com/gpu.product"]["values"] == ["NVIDIA-A10G"]
    assert executor["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    driver_terms = driver["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert driver_terms[0]["matchExpressions"][0]["operator"] == "DoesNotExist"


@pytest.mark.parametrize("role", ["driver", "executor"])
def test_heap_plus_overhead_is_exactly_the_flavor_memory(config: PlatformConfig, role: str) -> None:
    """Spark sizes each pod as memory + memoryOverhead: the platform makes that the flavor's
    memory, carving a spec's overhead out of it rather than adding it."""
    job = JobSpec.model_validate(JOB)
    conf = spark.spark_conf(job, config)
    flavor = config.flavors[job.resource_flavor if role == "driver" else "gpu-1x-24gb"]
    heap = int(conf[f"spark.{role}.memory"].removesuffix("m"))
    overhead = int(conf[f"spark.{role}.memoryOverhead"].removesuffix("m"))
    assert (heap + overhead) * 2**20 == parse_memory(flavor.memory)
    if role == "executor":
        assert overhead == 4096


def test_only_the_driver_mounts_the_keytab_and_an_api_token(config: PlatformConfig) -> None:
    """The driver needs its service account's token to create executors and the keytab to
    log in; executors get neither."""
    driver, executor = _templates(config)
    assert driver["spec"]["automountServiceAccountToken"] is True
    assert driver["spec"]["serviceAccountName"] == config.spark.driver_service_account
    assert executor["spec"]["automountServiceAccountToken"] is False
    assert KEYTAB_VOLUME in {v["name"] for v in driver["spec"]["volumes"]}
    assert KEYTAB_VOLUME not in {v["name"] for v in executor["spec"]["volumes"]}
    (container,) = driver["spec"]["containers"]
    assert "command" not in container  # the image's entrypoint runs the Spark driver


@pytest.mark.parametrize("kerberos", [True, False])
def test_templates_meet_pod_security_restricted(config: PlatformConfig, kerberos: bool) -> None:
    """Both templates meet the Pod Security Standard `restricted`."""
    driver, executor = _templates(config, kerberos=kerberos)
    assert violations(driver["spec"]) == []
    assert violations(executor["spec"]) == []


def test_spark_kerberos_conf_points_at_the_mounted_keytab_never_uploads(
    config: PlatformConfig,
) -> None:
    """spark.kerberos.keytab is a local:// path (spark-submit neither reads nor uploads it)."""
    conf = spark.spark_conf(JobSpec.model_validate(JOB), config, template_dir=Path("/t"))
    assert conf["spark.kerberos.principal"] == "svc-vision@EXAMPLE.COM"
    assert conf["spark.kerberos.keytab"] == "local:///etc/airflow-platform/keytab/keytab"
    assert conf["spark.kubernetes.kerberos.krb5.configMapName"] == "airflow-platform-krb5"
    assert conf["spark.kubernetes.driver.podTemplateFile"] == "/t/driver-pod-template.yaml"


def test_the_factory_picks_the_spark_operator_for_spark_jobs(config: PlatformConfig) -> None:
    """A job with `spark:` becomes a SparkJobOperator, any other job a JobOperator."""
    job = JobSpec.model_validate(JOB)
    assert operator_class(job) is SparkJobOperator
    plain = job.model_copy(update={"spark": None, "execution_script": "python x.py"})
    assert operator_class(plain) is JobOperator


def test_operator_refuses_spark_submit_arguments_and_over_cap_jobs(config: PlatformConfig) -> None:
    """spark-submit's own arguments are not open to a DAG; the executor cap is checked at parse."""
    job = JobSpec.model_validate(JOB)
    with pytest.raises(TypeError, match="does not take conf, num_executors"):
        SparkJobOperator(task_id="t", job=job, config=config, conf={}, num_executors=50)
    big = JobSpec.model_validate({**JOB, "spark": {**JOB["spark"], "executors": 5}})
    with pytest.raises(PolicyViolation, match="5 executors is over team vision's cap of 4"):
        SparkJobOperator(task_id="t", job=big, config=config)


def test_operator_deadline_is_execution_time_plus_the_startup_allowance(
    config: PlatformConfig,
) -> None:
    """Airflow gives up after execution_time + the driver flavor's startup allowance + 30 s;
    the pods' own activeDeadlineSeconds end them first."""
    job = JobSpec.model_validate(JOB)
    operator = SparkJobOperator(task_id="t", job=job, config=config)
    startup = config.flavors["cpu-4gb"].startup_allowance
    assert operator.execution_timeout == job.execution_time + startup + timedelta(seconds=30)
    driver, executor = _templates(config)
    assert driver["spec"]["activeDeadlineSeconds"] == 7200
    assert executor["spec"]["activeDeadlineSeconds"] == 7200


def test_render_of_a_spark_job_shows_submission_and_templates_without_keytab_bytes(
    kdc: Kdc, tmp_path: Path
) -> None:
    """`render` of the example prints the conf and both templates; the keytab appears by
    Secret name and mount path only."""
    config_file = tmp_path / "platform.yaml"
    config_file.write_text(yaml.safe_dump(kerberized_config_data(kdc.realm, kdc.krb5_conf_text())))
    result = CliRunner().invoke(
        app, ["render", "--config", str(config_file), "jobs/analytics/trip-summary.yaml"]
    )
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.stdout))
    submission, driver, executor = docs
    assert submission["conf"]["spark.executor.instances"] == "2"
    assert submission["conf"]["spark.kerberos.principal"] == kdc.principal("svc-analytics")
    assert driver["metadata"]["labels"]["app.kubernetes.io/component"] == "spark-driver"
    assert executor["metadata"]["labels"]["app.kubernetes.io/component"] == "spark-executor"
    assert "analytics-keytab" in result.stdout
    assert keytab_leaks(result.output, kdc.keytabs["svc-analytics"].read_bytes()) == []
