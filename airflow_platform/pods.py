"""The pod builder: the only code that turns a job into a Kubernetes pod.

The CLI's `render`, the operators, the local runner and the tests all go through
``build_pod``, so what a scientist sees rendered is what runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from kubernetes.client import (
    ApiClient,
    V1Affinity,
    V1Capabilities,
    V1Container,
    V1EmptyDirVolumeSource,
    V1EnvVar,
    V1EnvVarSource,
    V1NodeAffinity,
    V1NodeSelector,
    V1NodeSelectorRequirement,
    V1NodeSelectorTerm,
    V1ObjectMeta,
    V1Pod,
    V1PodSecurityContext,
    V1PodSpec,
    V1ResourceRequirements,
    V1SeccompProfile,
    V1SecretKeySelector,
    V1SecurityContext,
    V1Toleration,
    V1Volume,
    V1VolumeMount,
)

from airflow_platform import kerberos, notebook_entry
from airflow_platform.artifacts.layout import object_prefix
from airflow_platform.artifacts.pod import Transfer, add_transfer
from airflow_platform.config import Flavor, PlatformConfig
from airflow_platform.spec.models import JobSpec
from airflow_platform.spec.notebooks import notebook_env
from airflow_platform.spec.params import env_name, env_value, resolve

LABEL_PREFIX = "airflow-platform"
CONTAINER_NAME = "base"  # the KubernetesExecutor and KubernetesPodOperator expect this name
JOB_UID = 1000
# The root filesystem of every container is read-only; a job writes to these two folders.
TMP_DIR = "/tmp"
WORK_DIR = "/var/run/airflow-platform/work"
# A task's artifacts: what it leaves in the output folder is kept; its upstream tasks' outputs
# are under the input folder, one sub-folder per task, read-only.
OUTPUT_DIR = "/var/run/airflow-platform/output"
INPUT_DIR = "/var/run/airflow-platform/input"
_SCRATCH_VOLUMES = {"tmp": TMP_DIR, "work": WORK_DIR, "output": OUTPUT_DIR, "input": INPUT_DIR}
_READ_ONLY_VOLUMES = frozenset({"input"})
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]+")
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


@dataclass(frozen=True, slots=True)
class RunContext:
    """Where a job runs: its DAG, task and run (from Airflow's task context, or made up by
    the local runner); absent for `render`. Every field set reaches the job as an
    ``AIRFLOW_PLATFORM_*`` variable (``job_env``)."""

    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    try_number: int | None = None
    namespace: str | None = None
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    params: Mapping[str, Any] | None = None
    """The run's param values (any superset of the job's; unchecked until ``job_env``)."""
    upstream_artifacts: Mapping[str, str] | None = None
    """Where the upstream tasks' kept outputs are in the artifact store (task → key prefix;
    ``task/<i>`` for combination ``i`` of a sweep)."""
    map_index: int | None = None
    """The combination of a sweep (``matrix:``) this try runs; ``None`` for other tasks."""
    matrix: Mapping[str, str] | None = None
    """That combination's values (key → the text written in the spec)."""
    upstream_sweeps: Mapping[str, list[dict[str, Any]]] | None = None
    """Each upstream sweep's combinations that succeeded (``{"index": i, "values": …}``),
    which the pod's fetch writes as ``<task>/matrix.json`` beside their outputs."""
    result_keys: Mapping[str, str] | None = None
    """The keys (and types) of the result the task publishes (``result.json``)."""

    @classmethod
    def of(cls, context: Any, dag_name: str | None, task_id: str) -> RunContext:
        """The run of an operator's Airflow ``context`` (``None`` outside a run);
        ``dag_name`` wins over the task instance's DAG id (a pipeline's name).

        A run triggered without a logical date (Airflow 3 allows it) dates from when it was
        due to run (``run_after``); its data interval is then that instant too.
        """
        if not context:
            return cls(task_id=task_id, dag_id=dag_name)
        ti = context.get("ti")
        dag_run = context.get("dag_run")
        logical = context.get("logical_date") or getattr(dag_run, "run_after", None)
        params: dict[str, Any] = {}
        given = context.get("params")
        if given:
            params.update({k: given[k] for k in given})
        conf = getattr(dag_run, "conf", None) or {}
        if isinstance(conf.get("params"), dict):  # an ad-hoc run's (`submit --param`)
            params.update(conf["params"])
        return cls(
            dag_id=dag_name or (ti.dag_id if ti else None),
            task_id=task_id,
            run_id=context.get("run_id"),
            try_number=ti.try_number if ti else None,
            logical_date=logical,
            data_interval_start=context.get("data_interval_start") or logical,
            data_interval_end=context.get("data_interval_end") or logical,
            params=params,
        )

    def env(self) -> dict[str, str]:
        """The run's ``AIRFLOW_PLATFORM_*`` variables (those this context knows)."""
        env: dict[str, str] = {}
        for name, value in (
            ("DAG", self.dag_id),
            # The task's own name, as its downstream tasks find its outputs
            # ($AIRFLOW_PLATFORM_INPUT_DIR/<task>/), not Airflow's `<group>.<task>` id.
            ("TASK", self.task_name),
            ("RUN_ID", self.run_id),
            ("TRY_NUMBER", None if self.try_number is None else str(self.try_number)),
            ("MAP_INDEX", None if self.map_index is None else str(self.map_index)),
        ):
            if value is not None:
                env[f"AIRFLOW_PLATFORM_{name}"] = value
        if self.logical_date is not None:
            env["AIRFLOW_PLATFORM_LOGICAL_DATE"] = self.logical_date.isoformat()
            env["AIRFLOW_PLATFORM_DS"] = self.logical_date.strftime("%Y-%m-%d")
        for name, when in (
            ("START", self.data_interval_start),
            ("END", self.data_interval_end),
        ):
            if when is not None:
                env[f"AIRFLOW_PLATFORM_DATA_INTERVAL_{name}"] = when.isoformat()
        return env

    def matrix_env(self) -> dict[str, str]:
        """The sweep combination's values, each as a variable named after its key in upper
        case (``lr`` → ``LR``), as written in the spec."""
        return {key.upper(): value for key, value in (self.matrix or {}).items()}

    @property
    def task_name(self) -> str | None:
        """The task's own name (``fit_model``), not Airflow's ``<group>.<task>`` id."""
        return self.task_id.rsplit(".", 1)[-1] if self.task_id else None

    def transfer(self, store_prefix: str) -> Transfer | None:
        """What this try's pod keeps and fetches in the artifact store; ``None`` outside a
        run (``render``)."""
        if not (self.run_id and self.task_name):
            return None
        prefix = object_prefix(
            store_prefix,
            self.dag_id or "adhoc",
            self.run_id,
            self.task_name,
            self.try_number or 1,
            self.map_index,
        )
        return Transfer(
            prefix,
            self.task_name,
            dict(self.upstream_artifacts or {}),
            dict(self.upstream_sweeps or {}),
            dict(self.result_keys or {}),
        )

    def suffix(self) -> str | None:
        """8 hex characters that tell this run's resources from other runs' of the same job;
        ``None`` outside a run."""
        if not (self.run_id or self.dag_id):
            return None
        key = f"{self.dag_id}|{self.task_id}|{self.run_id}|{self.try_number}"
        if self.map_index is not None:  # each combination of a sweep is a pod of its own
            key += f"|{self.map_index}"
        return hashlib.sha256(key.encode()).hexdigest()[:8]


def label_value(text: str) -> str:
    """``text`` as a valid label value: allowed characters only, at most 63, alphanumeric ends.

    Long values keep a hash suffix so two different long ids never share a label.
    """
    value = _LABEL_VALUE.sub("-", text).strip("-_.")
    if len(value) > 63:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        value = value[:54].rstrip("-_.") + "-" + digest
    return value


def pod_labels(job: JobSpec, context: RunContext | None = None) -> dict[str, str]:
    """The labels that tell an SRE whose pod this is (bounded: no run ids)."""
    labels = {
        "app.kubernetes.io/managed-by": "airflow-platform",
        "app.kubernetes.io/component": "job",
        f"{LABEL_PREFIX}/team": label_value(job.team),
        f"{LABEL_PREFIX}/job": label_value(job.name),
        f"{LABEL_PREFIX}/flavor": label_value(job.resource_flavor),
    }
    if context and context.dag_id:
        labels[f"{LABEL_PREFIX}/dag"] = label_value(context.dag_id)
    if context and context.task_id:
        labels[f"{LABEL_PREFIX}/task"] = label_value(context.task_id)
    return labels


def pod_name(job: JobSpec, context: RunContext | None = None) -> str:
    """A DNS-1123 pod name; runs of the same job get distinct names from their context."""
    suffix = context.suffix() if context else None
    return f"{job.name[:54].rstrip('-')}-{suffix}" if suffix else job.name


def job_command(job: JobSpec) -> list[str] | None:
    """The container command: a string runs under ``/bin/sh -c``, a list as it is.

    A Spark job has none: its pod is the driver's, run by the image's entrypoint (the
    submission itself is made by ``airflow_platform.spark``). A notebook job runs papermill
    (``airflow_platform.notebook_entry``).
    """
    if job.execution_notebook is not None:
        return notebook_entry.command(job.docker_image)
    if job.execution_script is None:
        return None
    if isinstance(job.execution_script, str):
        return ["/bin/sh", "-c", job.execution_script]
    return list(job.execution_script)


def _wrapped(command: list[str] | None, wrapper: str | None) -> list[str] | None:
    """The command behind the usage wrapper, when the platform has one in its images."""
    return [wrapper, *command] if wrapper and command else command


def param_env(job: JobSpec, context: RunContext | None = None) -> dict[str, str]:
    """The job's params as variables: the run's values over the defaults.

    Raises ``airflow_platform.spec.params.ParamError`` for a value not of its declared type,
    so a bad value stops the run before any pod or process exists.
    """
    given = {k: v for k, v in ((context.params if context else None) or {}).items()}
    values = resolve(job.params, {k: v for k, v in given.items() if k in job.params})
    return {env_name(name): env_value(values[name]) for name in sorted(values)}


def job_env(job: JobSpec, context: RunContext | None = None) -> list[V1EnvVar]:
    """Environment of the job: the platform's own variables (the run's among them), the
    params, the spec's, then secret refs."""
    platform = {
        "AIRFLOW_PLATFORM_JOB": job.name,
        "AIRFLOW_PLATFORM_TEAM": job.team,
        "AIRFLOW_PLATFORM_FLAVOR": job.resource_flavor,
        "AIRFLOW_PLATFORM_WORK_DIR": WORK_DIR,
        "AIRFLOW_PLATFORM_OUTPUT_DIR": OUTPUT_DIR,
        "AIRFLOW_PLATFORM_INPUT_DIR": INPUT_DIR,
        **(context.env() if context else {}),
        # Tools keep caches and settings under $HOME; the image's home is read-only.
        "HOME": WORK_DIR,
        "TMPDIR": TMP_DIR,
    }
    env = [V1EnvVar(name=k, value=v) for k, v in platform.items()]
    env += [V1EnvVar(name=k, value=v) for k, v in param_env(job, context).items()]
    if job.execution_notebook is not None:  # the loader has read it (``notebook_content``)
        notebook = notebook_env(job.execution_notebook, job.notebook_content or "", job.parameters)
        env += [V1EnvVar(name=k, value=v) for k, v in notebook.items()]
    env += [V1EnvVar(name=k, value=v) for k, v in (context.matrix_env() if context else {}).items()]
    env += [V1EnvVar(name=k, value=job.env[k]) for k in sorted(job.env)]
    env += [
        V1EnvVar(
            name=ref.env,
            value_from=V1EnvVarSource(
                secret_key_ref=V1SecretKeySelector(name=ref.name, key=ref.key)
            ),
        )
        for ref in job.secrets
    ]
    return env


def resources(flavor: Flavor) -> V1ResourceRequirements:
    """Requests from the flavor; memory (and GPUs) limited to the request. CPU is not limited."""
    requests = flavor.requests()
    limits = {resource: amount for resource, amount in requests.items() if resource != "cpu"}
    return V1ResourceRequirements(requests=requests, limits=limits)


def placement(
    flavor: Flavor, config: PlatformConfig
) -> tuple[V1Affinity, list[V1Toleration] | None]:
    """GPU flavors require a GPU node (of the product) and tolerate its taint; others avoid them.
    A flavor's own node labels and tolerations (a node pool) come on top."""
    gpu_nodes = config.gpu_nodes
    if flavor.gpu:
        match = [V1NodeSelectorRequirement(key=gpu_nodes.label, operator="Exists")]
        if flavor.gpu.product:
            match.append(
                V1NodeSelectorRequirement(
                    key=gpu_nodes.product_label, operator="In", values=[flavor.gpu.product]
                )
            )
        tolerations = [V1Toleration(key=gpu_nodes.taint, operator="Exists", effect="NoSchedule")]
    else:
        match = [V1NodeSelectorRequirement(key=gpu_nodes.label, operator="DoesNotExist")]
        tolerations = []
    match += [
        V1NodeSelectorRequirement(key=key, operator="In", values=[value])
        for key, value in sorted(flavor.node_labels.items())
    ]
    tolerations += [
        V1Toleration(key=key, operator="Exists", effect="NoSchedule") for key in flavor.tolerations
    ]
    selector = V1NodeSelector(node_selector_terms=[V1NodeSelectorTerm(match_expressions=match)])
    affinity = V1Affinity(
        node_affinity=V1NodeAffinity(required_during_scheduling_ignored_during_execution=selector)
    )
    return affinity, tolerations or None


def restricted_container_security() -> V1SecurityContext:
    """A container security context meeting the Pod Security Standard ``restricted``."""
    return V1SecurityContext(
        allow_privilege_escalation=False,
        capabilities=V1Capabilities(drop=["ALL"]),
        run_as_non_root=True,
        read_only_root_filesystem=True,
        seccomp_profile=V1SeccompProfile(type="RuntimeDefault"),
    )


def restricted_pod_security() -> V1PodSecurityContext:
    """A pod security context meeting ``restricted``, with a fixed non-root user."""
    return V1PodSecurityContext(
        run_as_non_root=True,
        run_as_user=JOB_UID,
        run_as_group=JOB_UID,
        fs_group=JOB_UID,
        seccomp_profile=V1SeccompProfile(type="RuntimeDefault"),
    )


def build_pod(job: JobSpec, config: PlatformConfig, context: RunContext | None = None) -> V1Pod:
    """The pod that runs ``job``, sized by its flavor and bounded by the policy.

    The job must already have passed ``airflow_platform.policy.check_job``; an unknown
    flavor here is a programming error and raises ``KeyError``.
    """
    flavor = config.flavors[job.resource_flavor]
    affinity, tolerations = placement(flavor, config)
    container = V1Container(
        name=CONTAINER_NAME,
        image=job.docker_image,
        command=_wrapped(job_command(job), config.policy.usage_wrapper),
        env=job_env(job, context),
        resources=resources(flavor),
        security_context=restricted_container_security(),
        volume_mounts=[
            V1VolumeMount(name=n, mount_path=p, read_only=n in _READ_ONLY_VOLUMES or None)
            for n, p in _SCRATCH_VOLUMES.items()
        ],
    )
    namespace = (context.namespace if context else None) or config.namespace_of(job.team)
    labels = pod_labels(job, context)
    if config.kueue.enabled:
        # Kueue's pod integration gates a pod with this label until its team's ClusterQueue
        # (behind the LocalQueue of this name in the team's namespace) has quota for it.
        labels[KUEUE_QUEUE_LABEL] = config.kueue.local_queue
    pod = V1Pod(
        api_version="v1",
        kind="Pod",
        metadata=V1ObjectMeta(name=pod_name(job, context), namespace=namespace, labels=labels),
        spec=V1PodSpec(
            containers=[container],
            restart_policy="Never",
            active_deadline_seconds=int(job.execution_time.total_seconds()),
            termination_grace_period_seconds=int(
                config.policy.termination_grace_period.total_seconds()
            ),
            automount_service_account_token=False,
            service_account_name=config.policy.service_account,
            enable_service_links=False,
            security_context=restricted_pod_security(),
            affinity=affinity,
            tolerations=tolerations,
            volumes=[
                V1Volume(name=n, empty_dir=V1EmptyDirVolumeSource()) for n in _SCRATCH_VOLUMES
            ],
        ),
    )
    transfer = context.transfer(config.artifacts.prefix) if context and config.artifacts else None
    if transfer:  # fetch init container + keep sidecar (airflow_platform.artifacts.pod)
        add_transfer(
            pod, config, transfer, job.outputs, _SCRATCH_VOLUMES, restricted_container_security
        )
    if job.kerberos:  # kinit init container + renewal sidecar (airflow_platform.kerberos)
        kerberos.add_kerberos(pod, job.team, config, restricted_container_security, CONTAINER_NAME)
    return pod


def pod_to_dict(pod: V1Pod) -> dict[str, Any]:
    """The pod as the plain dict the API server would receive."""
    result: dict[str, Any] = ApiClient().sanitize_for_serialization(pod)
    return result


def pod_to_yaml(pod: V1Pod) -> str:
    """Stable YAML: the same pod always gives the same bytes."""
    return yaml.safe_dump(pod_to_dict(pod), sort_keys=True, default_flow_style=False)
