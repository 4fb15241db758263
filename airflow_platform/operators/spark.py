"""SparkJobOperator: the guarded SparkSubmitOperator that runs one Spark job spec.

spark-submit runs in the Airflow worker in Kubernetes cluster mode; its driver and executor
pods come from the platform's pod templates and conf (``airflow_platform.spark``). A scientist
gives the spec; none of spark-submit's arguments is open to the DAG. The policy (executor cap,
flavors, Kerberos) is checked when the DAG is parsed and again before anything is submitted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

from airflow_platform import spark
from airflow_platform.backend import Backend, current_backend
from airflow_platform.config import PlatformConfig, load_config
from airflow_platform.metrics import emit as metrics
from airflow_platform.operators.job import TIMEOUT_MARGIN, JobFailed
from airflow_platform.operators.rails import (
    enforce,
    enforce_at_start,
    refuse,
    refused_arguments,
)
from airflow_platform.pods import RunContext
from airflow_platform.runners.local import run_local
from airflow_platform.spec.models import JobSpec

_REFUSED = refused_arguments(SparkSubmitOperator)


class PlatformSparkSubmitHook(SparkSubmitHook):
    """SparkSubmitHook whose master comes from the platform config, not from a connection:
    there is no Airflow connection to configure, and none can point Spark elsewhere."""

    def __init__(self, *, master: str, **kwargs: Any) -> None:
        self._platform_master = master
        super().__init__(**kwargs)

    def _resolve_connection(self) -> dict[str, Any]:
        return {
            "master": self._platform_master,
            "queue": None,
            "deploy_mode": "cluster",
            "spark_binary": self.spark_binary or "spark-submit",
            "namespace": self._conf.get("spark.kubernetes.namespace"),
            "principal": None,  # Kerberos is in the conf: the keytab never reaches the worker
            "keytab": None,
            "rest_scheme": "http",
            "rest_port": 6066,
            "rest_endpoint": None,
        }


class SparkJobOperator(SparkSubmitOperator):
    """Runs a job with a ``spark:`` block: spark-submit in Kubernetes cluster mode.

    :param job: the validated job spec (with ``spark:``).
    :param workdir: the spec's folder: the local backend runs the application there.
    :param dag_name: the pipeline (DAG) name, for the pods' labels.
    :param config: the platform config to check against (default: ``load_config()``).
    :param policy_checked: the caller has just checked ``job`` against this same ``config``
        (as ``JobOperator``'s); the guard before submission always runs.
    Other arguments are the scheduling ones of ``BaseOperator``; spark-submit's are refused
    with a ``TypeError``.
    """

    template_fields = ()
    ui_color = "#fdeee0"

    def __init__(
        self,
        *,
        job: JobSpec,
        workdir: str | None = None,
        dag_name: str | None = None,
        config: PlatformConfig | None = None,
        policy_checked: bool = False,
        **kwargs: Any,
    ) -> None:
        refuse(
            "SparkJobOperator",
            kwargs,
            _REFUSED,
            "the submission from the job spec, its flavors and the policy",
        )
        config = config or load_config()
        if not policy_checked:
            enforce(job, config)
        startup = config.flavors[job.resource_flavor].startup_allowance
        super().__init__(
            application=spark.application_uri(job, config),
            application_args=list(spark.spark_of(job).arguments),
            java_class=spark.spark_of(job).main_class,
            name=job.name,
            execution_timeout=job.execution_time + startup + TIMEOUT_MARGIN,
            **kwargs,
        )
        self._job = job
        self.workdir = workdir
        self.dag_name = dag_name

    def _get_hook(self) -> SparkSubmitHook:
        return PlatformSparkSubmitHook(
            master=load_config().spark.master,
            conf=self.conf,
            name=self.name,
            java_class=self._java_class,
            application_args=self.application_args,
            env_vars=self.env_vars,
            spark_binary=self._spark_binary,
            status_poll_interval=self._status_poll_interval,
        )

    def execute(self, context: Any) -> None:
        """Guards the job against today's catalog, writes the pod templates, submits, waits.

        Returns nothing, so no XCom is pushed (and no Spark conf ever reaches XCom).
        """
        config = enforce_at_start(self._job, dag_id=self.dag_id, task_id=self.task_id)
        if current_backend() is Backend.local:
            self._execute_local(config)
            return
        run = RunContext.of(context, self.dag_name, self.task_id)
        with tempfile.TemporaryDirectory(prefix="airflow-platform-spark-") as folder:
            spark.write_templates(self._job, config, Path(folder), run)
            self.conf = spark.spark_conf(self._job, config, run, template_dir=Path(folder))
            self._hook = None
            super().execute(context)

    def _execute_local(self, config: PlatformConfig) -> None:
        cwd = Path(self.workdir) if self.workdir else Path.cwd()
        result = run_local(
            self._job,
            config,
            cwd=cwd,
            on_output=lambda line: self.log.info("%s", line.rstrip("\n")),
        )
        metrics.record_local_finish(self._job, result, self.dag_id)
        if not result.succeeded:
            raise JobFailed(
                f"Spark job {self._job.name} failed locally: {result.reason}, exit {result.exit_code}"
            )
