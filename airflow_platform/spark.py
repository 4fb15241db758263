"""Spark jobs: the spark-submit invocation and the driver and executor pod templates.

A spec's ``spark:`` block names the application, the executor flavor and count; everything
else comes from here. Spark runs in Kubernetes cluster mode: ``spark-submit`` (in the Airflow
worker, through the apache.spark provider) asks the API server for a driver pod, and the driver
asks for its executors. Both pods start from templates made by ``build_pod`` — so they carry the
platform's labels, PSS ``restricted`` security contexts, GPU placement and the deadline from
``execution_time`` — and Spark's own conf sizes them so that each pod's memory is exactly its
flavor's (heap + overhead; the overhead is carved out of the flavor, never added to it).

With ``kerberos: true`` the team's keytab Secret is mounted read-only (0400) into the driver
only, and ``spark.kerberos.principal`` / ``spark.kerberos.keytab`` (a ``local://`` path, so
spark-submit never reads or uploads the keytab) make the driver log in and obtain and renew
delegation tokens itself; the realm's ``krb5.conf`` comes from the ConfigMap the chart renders.
"""

from __future__ import annotations

import math
import sys
from importlib import resources
from pathlib import Path

import yaml
from kubernetes.client import V1Pod

from airflow_platform import kerberos
from airflow_platform.config import Flavor, PlatformConfig, parse_cpu, parse_memory
from airflow_platform.pods import (
    CONTAINER_NAME,
    LABEL_PREFIX,
    RunContext,
    build_pod,
    label_value,
    pod_to_yaml,
)
from airflow_platform.spec.models import JobSpec, SparkSpec

DRIVER_TEMPLATE = "driver-pod-template.yaml"
EXECUTOR_TEMPLATE = "executor-pod-template.yaml"
MIN_OVERHEAD_MIB = 384
OVERHEAD_FACTOR = 0.10
LOCAL_KEYTAB_ENV = "AIRFLOW_PLATFORM_KEYTAB"
"""For `run --local` of a Spark job with ``kerberos: true``: the path of a keytab on this
machine (the cluster uses the team's Secret instead)."""


def spark_of(job: JobSpec) -> SparkSpec:
    """The job's ``spark:`` block; a ``ValueError`` for a job without one."""
    if job.spark is None:
        raise ValueError(f"job {job.name} has no `spark:` block")
    return job.spark


def role_job(job: JobSpec, role: str, flavor: str) -> JobSpec:
    """The job as ``build_pod`` sees one Spark pod: its flavor, a placeholder command (Spark
    sets the container's own), no Kerberos containers (Spark logs in by itself)."""
    return job.model_copy(
        update={
            "resource_flavor": flavor,
            "execution_script": [f"spark-{role}"],
            "kerberos": False,
            "spark": None,
        }
    )


def _mib(quantity: str) -> int:
    """A Spark memory size (``512m``, ``2g``, ``384``: MiB when unitless) in MiB.

    Spark's JVM size format, not a Kubernetes quantity: to ``parse_quantity`` ``512m`` is half
    a byte and ``384`` bytes, so the Kubernetes parser cannot serve here (flavor memory, a
    Kubernetes quantity, goes through it in ``config.parse_memory``)."""
    text = quantity.strip().lower()
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    for suffix in ("kb", "mb", "gb", "tb", "k", "m", "g", "t"):
        if text.endswith(suffix):
            return math.ceil(float(text[: -len(suffix)]) * units[suffix[0]])
    return math.ceil(float(text))


def memory_split(flavor: Flavor, overhead: str | None = None) -> tuple[int, int]:
    """(heap, overhead) in MiB whose sum is the flavor's memory: the pod's request and limit."""
    total = parse_memory(flavor.memory) // 2**20
    extra = _mib(overhead) if overhead else max(MIN_OVERHEAD_MIB, int(total * OVERHEAD_FACTOR))
    if extra >= total:
        raise ValueError(
            f"a memory overhead of {extra}Mi leaves no heap in a flavor of {flavor.memory}"
        )
    return total - extra, extra


def resource_name(job: JobSpec, context: RunContext | None = None) -> str:
    """The prefix of the driver's and executors' names (Spark allows at most 47 characters);
    runs of the same job get distinct prefixes from their context."""
    suffix = context.suffix() if context else None
    return f"{job.name[:38].rstrip('-')}-{suffix}" if suffix else job.name[:47].rstrip("-")


def _role_conf(role: str, flavor: Flavor, overhead: str | None) -> dict[str, str]:
    heap, extra = memory_split(flavor, overhead)
    cores = parse_cpu(flavor.cpu)
    task_slots = max(1, math.floor(cores)) if role == "executor" else max(1, math.ceil(cores))
    return {
        f"spark.{role}.memory": f"{heap}m",
        f"spark.{role}.memoryOverhead": f"{extra}m",
        f"spark.{role}.cores": str(task_slots),
        f"spark.kubernetes.{role}.request.cores": flavor.cpu,
    }


def spark_conf(
    job: JobSpec,
    config: PlatformConfig,
    context: RunContext | None = None,
    *,
    template_dir: Path | None = None,
) -> dict[str, str]:
    """Every ``--conf`` of the cluster-mode submission (the spec's allowlisted conf first,
    the platform's over it). ``template_dir`` holds the files :func:`write_templates` wrote."""
    spark = spark_of(job)
    name = resource_name(job, context)
    conf = dict(spark.conf)
    conf.update(
        {
            "spark.app.name": job.name,
            "spark.submit.deployMode": "cluster",
            "spark.executor.instances": str(spark.executors),
            "spark.dynamicAllocation.enabled": "false",
            "spark.kubernetes.namespace": (context.namespace if context else None)
            or config.namespace_of(job.team),
            "spark.kubernetes.container.image": job.docker_image,
            "spark.kubernetes.authenticate.driver.serviceAccountName": (
                config.spark.driver_service_account
            ),
            "spark.kubernetes.driver.pod.name": f"{name}-driver",
            "spark.kubernetes.executor.podNamePrefix": name,
            "spark.kubernetes.driver.podTemplateContainerName": CONTAINER_NAME,
            "spark.kubernetes.executor.podTemplateContainerName": CONTAINER_NAME,
            "spark.kubernetes.submission.waitAppCompletion": "true",
            "spark.kubernetes.executor.deleteOnTermination": "true",
        }
    )
    conf.update(
        _role_conf(
            "driver",
            config.flavors[job.resource_flavor],
            spark.conf.get("spark.driver.memoryOverhead"),
        )
    )
    conf.update(
        _role_conf(
            "executor",
            config.flavors[spark.executor_flavor],
            spark.conf.get("spark.executor.memoryOverhead"),
        )
    )
    if template_dir is not None:
        conf["spark.kubernetes.driver.podTemplateFile"] = str(template_dir / DRIVER_TEMPLATE)
        conf["spark.kubernetes.executor.podTemplateFile"] = str(template_dir / EXECUTOR_TEMPLATE)
    if job.kerberos:
        entry, realm = kerberos.team_kerberos(job.team, config)
        conf.update(
            {
                "spark.kerberos.principal": entry.principal,
                "spark.kerberos.keytab": f"local://{kerberos.KEYTAB_PATH}",
                "spark.kubernetes.kerberos.krb5.configMapName": realm.krb5_conf_configmap,
                "spark.hadoop.hadoop.security.authentication": "kerberos",
            }
        )
    return conf


def application_uri(job: JobSpec, config: PlatformConfig) -> str:
    """The application inside the image: ``local://<application_dir>/<application>``."""
    return f"local://{config.spark.application_dir.rstrip('/')}/{spark_of(job).application}"


def pod_templates(
    job: JobSpec, config: PlatformConfig, context: RunContext | None = None
) -> tuple[V1Pod, V1Pod]:
    """(driver, executor) pod templates: ``build_pod`` pods of each role's flavor.

    Spark keeps their labels, security contexts, placement, volumes, env and deadline, and
    sets the container's command, CPU and memory itself (from :func:`spark_conf`); GPUs stay
    in the limits the template gives.
    """
    spark = spark_of(job)
    driver = build_pod(role_job(job, "driver", job.resource_flavor), config, context)
    executor = build_pod(role_job(job, "executor", spark.executor_flavor), config, context)
    for pod, role in ((driver, "driver"), (executor, "executor")):
        pod.metadata.name = None
        pod.metadata.labels["app.kubernetes.io/component"] = f"spark-{role}"
        pod.metadata.labels[f"{LABEL_PREFIX}/job"] = label_value(job.name)
        (container,) = pod.spec.containers
        container.command = None  # the image's entrypoint runs the driver or the executor
    # The driver creates and watches its executors through the API: it mounts its service
    # account's token. Executors mount none.
    driver.spec.service_account_name = config.spark.driver_service_account
    driver.spec.automount_service_account_token = True
    if job.kerberos:
        entry, _ = kerberos.team_kerberos(job.team, config)
        driver.spec.volumes = [*(driver.spec.volumes or []), kerberos.keytab_volume(entry)]
        (container,) = driver.spec.containers
        container.volume_mounts = [*(container.volume_mounts or []), kerberos.keytab_mount()]
    return driver, executor


def write_templates(
    job: JobSpec, config: PlatformConfig, folder: Path, context: RunContext | None = None
) -> None:
    """Writes the driver and executor templates into ``folder`` (names as in spark_conf)."""
    driver, executor = pod_templates(job, config, context)
    (folder / DRIVER_TEMPLATE).write_text(pod_to_yaml(driver))
    (folder / EXECUTOR_TEMPLATE).write_text(pod_to_yaml(executor))


def submit_command(
    job: JobSpec,
    config: PlatformConfig,
    template_dir: Path,
    context: RunContext | None = None,
) -> list[str]:
    """The whole cluster-mode ``spark-submit`` command line, as the operator's hook builds it
    (the tests run it against the control plane)."""
    spark = spark_of(job)
    conf = spark_conf(job, config, context, template_dir=template_dir)
    command = ["spark-submit", "--master", config.spark.master, "--deploy-mode", "cluster"]
    if spark.main_class:
        command += ["--class", spark.main_class]
    for key in sorted(conf):
        command += ["--conf", f"{key}={conf[key]}"]
    return [*command, application_uri(job, config), *spark.arguments]


def local_env(job: JobSpec, keytab: str | None) -> dict[str, str]:
    """Extra env of a local Spark run: with Kerberos, a ``HADOOP_CONF_DIR`` whose
    core-site.xml turns Hadoop's Kerberos login on before spark-submit logs in."""
    if not (job.kerberos and keytab):
        return {}
    return {
        "HADOOP_CONF_DIR": str(resources.files("airflow_platform") / "data" / "hadoop-kerberos")
    }


def local_command(
    job: JobSpec,
    config: PlatformConfig,
    keytab: str | None = None,
    krb5_config: str | None = None,
) -> list[str]:
    """``spark-submit --master local[*]`` for `run --local`: the application from the spec's
    folder, the spec's conf, and with ``kerberos: true`` and a local ``keytab`` the team's
    principal logged in through Hadoop's Kerberos login."""
    spark = spark_of(job)
    spark_submit = str(Path(sys.executable).parent / "spark-submit")
    command = [spark_submit, "--master", "local[*]", "--name", job.name]
    if spark.main_class:
        command += ["--class", spark.main_class]
    for key in sorted(spark.conf):
        command += ["--conf", f"{key}={spark.conf[key]}"]
    if job.kerberos and keytab:
        command += ["--conf", "spark.hadoop.hadoop.security.authentication=kerberos"]
        entry, _ = kerberos.team_kerberos(job.team, config)
        command += ["--principal", entry.principal, "--keytab", keytab]
        if krb5_config:  # Java reads the system property, not $KRB5_CONFIG
            command += ["--driver-java-options", f"-Djava.security.krb5.conf={krb5_config}"]
    return [*command, spark.application, *spark.arguments]


def render_submission(
    job: JobSpec, config: PlatformConfig, context: RunContext | None = None
) -> str:
    """What `airflow-platform render` shows for a Spark job: the submission (master,
    application, arguments, conf) and the driver and executor pod templates, as YAML documents.
    Keytabs appear by Secret name and mount path only."""
    spark = spark_of(job)
    submission = {
        "master": config.spark.master,
        "deploy_mode": "cluster",
        "application": application_uri(job, config),
        "arguments": list(spark.arguments),
        "conf": spark_conf(job, config, context, template_dir=Path("<templates>")),
    }
    if spark.main_class:
        submission["main_class"] = spark.main_class
    driver, executor = pod_templates(job, config, context)
    return (
        "# spark-submit (Kubernetes cluster mode)\n"
        + yaml.safe_dump(submission, sort_keys=True, default_flow_style=False)
        + "---\n# driver pod template\n"
        + pod_to_yaml(driver)
        + "---\n# executor pod template\n"
        + pod_to_yaml(executor)
    )
