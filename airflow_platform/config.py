"""The platform config the platform team owns: flavor catalog, policy and GPU node conventions.

One YAML document, rendered by the chart into a ConfigMap and read from
``$AIRFLOW_PLATFORM_CONFIG``; a packaged default serves local use. This module is its only
reader, and validates the catalog as strictly as the loader validates specs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from airflow_platform.quantity import parse_quantity
from airflow_platform.spec.durations import Duration
from airflow_platform.spec.errors import SpecError, did_you_mean, join_path
from airflow_platform.spec.explain import describe_value, validation_problems
from airflow_platform.spec.models import DNS_LABEL
from airflow_platform.spec.yamlsafe import parse_yaml, read_text
from airflow_platform.tasktypes.model import TaskType, TypeName

CONFIG_ENV = "AIRFLOW_PLATFORM_CONFIG"
# Validation context: parse_config has checked the flavors' teams against the raw document.
_TEAMS_CHECKED = "teams_checked"

_WHITESPACE = re.compile(r"\s")
_LOOKS_LIKE_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtTpP])i?[bB]?\s*")


_BINARY_SUFFIX = re.compile(r"[KMGTPE]i$")


def _quantity(quantity: str, what: str) -> Decimal:
    """A non-negative Kubernetes quantity, by the Kubernetes client's own parser (which also
    reads ``"2 G"``; the API server does not, so neither do we)."""
    text = quantity.strip()
    if _WHITESPACE.search(text):
        raise ValueError(f"'{quantity}' is not a {what} quantity")
    try:
        value = parse_quantity(text)
    except ValueError:
        raise ValueError(f"'{quantity}' is not a {what} quantity") from None
    if value < 0:
        raise ValueError(f"'{quantity}' is not a {what} quantity")
    return value


def parse_cpu(quantity: str) -> float:
    """A Kubernetes CPU quantity in cores: ``"500m"`` → 0.5. Binary suffixes (``Gi``), which
    Kubernetes would read as billions of cores, are refused: they mean a size was meant."""
    if _BINARY_SUFFIX.search(quantity.strip()):
        raise ValueError(f"'{quantity}' is not a CPU quantity")
    return float(_quantity(quantity, "CPU"))


def parse_memory(quantity: str) -> int:
    """A Kubernetes memory quantity in bytes: ``"2Gi"`` → 2147483648.

    Kubernetes also reads ``"500m"`` as half a byte; a memory size is a whole number of
    bytes, so a fraction is refused rather than rounded."""
    value = _quantity(quantity, "memory")
    if value != value.to_integral_value():
        raise ValueError(f"'{quantity}' is not a memory quantity (a whole number of bytes)")
    return int(value)


def format_memory(num_bytes: float) -> str:
    """Bytes in the largest binary unit that keeps one decimal: ``1.5Gi``, ``512Mi``."""
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if num_bytes >= size:
            return f"{num_bytes / size:.1f}".removesuffix(".0") + unit
    return f"{int(num_bytes)}B"


def _check_cpu(value: str) -> str:
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(
            f"CPU '{value}' is negative: give a positive number of cores, e.g. '4' or '500m'"
        )
    try:
        cores = parse_cpu(text)
    except ValueError:
        raise ValueError(
            f"'{value}' is not a CPU quantity: give cores, e.g. '4', '0.5' or '500m'"
        ) from None
    if cores <= 0:
        raise ValueError(f"CPU '{value}' must be more than zero, e.g. '1'")
    return text


def _check_memory(value: str) -> str:
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"memory '{value}' is negative: give a size such as '16Gi'")
    try:
        size = parse_memory(text)
    except ValueError:
        near = _LOOKS_LIKE_MEMORY.fullmatch(text)
        if near:
            raise ValueError(
                f"'{value}' is not a Kubernetes quantity: did you mean {near[1]}{near[2].upper()}i?"
            ) from None
        raise ValueError(f"'{value}' is not a memory quantity, e.g. '16Gi' or '512Mi'") from None
    if size < 2**20:
        raise ValueError(f"memory '{value}' is under 1Mi: did you mean {text}Gi?")
    return text


def _check_realm(value: str) -> str:
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9.-]*", value):
        raise ValueError(f"'{value}' is not a Kerberos realm: use upper case, e.g. 'EXAMPLE.COM'")
    return value


def _check_name(what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not DNS_LABEL.fullmatch(value):
            raise ValueError(f"'{value}' is not a valid {what} (lowercase letters, digits, '-')")
        return value

    return AfterValidator(check)


def _check_image_prefix(value: str) -> str:
    if not value.strip() or _WHITESPACE.search(value):
        raise ValueError(
            f"'{value}' is not an image prefix: give a registry ('registry.internal'), a path "
            "in one ('registry.internal/vision/') or a repository"
        )
    return value


def _check_quantity(value: str) -> str:
    try:
        amount = parse_quantity(value)
    except ValueError:
        raise ValueError(
            f"'{value}' is not a Kubernetes quantity, e.g. '64', '500m' or '256Gi'"
        ) from None
    if amount < 0:
        raise ValueError(f"quota '{value}' is negative")
    return value


def _check_identity(value: str) -> str:
    if not value.strip():
        raise ValueError("an empty name: give an Airflow user or role name")
    return value


Cpu = Annotated[str, AfterValidator(_check_cpu)]
Memory = Annotated[str, AfterValidator(_check_memory)]
_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)


class Gpu(BaseModel):
    """The GPUs of a flavor. Put in limits (requests equal); the pod needs a GPU node."""

    model_config = _STRICT

    count: int = Field(ge=1, le=16, description="GPUs per pod.", examples=[1])
    resource: str = Field(
        default="nvidia.com/gpu",
        description="Extended resource name the device plugin advertises.",
        examples=["nvidia.com/gpu"],
    )
    product: str | None = Field(
        default=None,
        description="GPU model the pod must land on (matched against the GPU nodes' product "
        "label); any GPU node when absent.",
        examples=["NVIDIA-A10G"],
    )


# Kubernetes label keys (an optional DNS-subdomain prefix and a name) and label values.
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}")
_LABEL_VALUE = re.compile(rf"({_LABEL_NAME})?")


def _check_label_key(value: str) -> str:
    if not _LABEL_KEY.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a Kubernetes label or taint key, e.g. 'pool' or 'example.com/pool'"
        )
    return value


def _check_label_value(value: str) -> str:
    if not _LABEL_VALUE.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a Kubernetes label value (at most 63 letters, digits, '-', '_' "
            "or '.', starting and ending with a letter or digit)"
        )
    return value


LabelKey = Annotated[str, AfterValidator(_check_label_key)]
LabelValue = Annotated[str, AfterValidator(_check_label_value)]


class Flavor(BaseModel):
    """A named size of job pod. Scientists pick one by name; only the platform team edits them."""

    model_config = _STRICT

    cpu: Cpu = Field(description="CPU request in cores (no CPU limit).", examples=["4", "500m"])
    memory: Memory = Field(
        description="Memory request and limit (equal, so the pod is never overcommitted).",
        examples=["16Gi"],
    )
    gpu: Gpu | None = Field(default=None, description="GPUs, when the flavor has any.")
    max_execution_time: Duration | None = Field(
        default=None,
        description="Longest `execution_time` this flavor allows (the policy's global cap "
        "applies too).",
        examples=["24 hours"],
    )
    startup_allowance: Duration = Field(
        default=timedelta(minutes=10),
        description="How long a pod may wait for capacity (Pending) before the run fails "
        "as unschedulable.",
        examples=["10 minutes"],
    )
    teams: list[Annotated[str, _check_name("team name")]] | None = Field(
        default=None,
        description="Teams allowed to use the flavor; every team when absent.",
        examples=[["vision", "nlp"]],
    )
    node_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="Labels a node must carry to run the flavor's pods (a node pool), on top of "
        "the GPU rules; any node of the right kind when empty.",
        examples=[{"pool": "batch"}],
    )
    tolerations: list[LabelKey] = Field(
        default_factory=list,
        description="Taint keys (effect NoSchedule, any value) the flavor's pods tolerate, for a "
        "pool whose nodes are tainted; GPU flavors tolerate the GPU taint without it.",
        examples=[["pool"]],
    )
    description: str = Field(default="", description="What the flavor is for, shown by `flavors`.")

    def usable_by(self, team: str) -> bool:
        """Whether ``team`` may use the flavor (every team may when it names none)."""
        return self.teams is None or team in self.teams

    def requests(self) -> dict[str, str]:
        """What one pod of this flavor requests, by resource: CPU, memory and its GPUs."""
        requests = {"cpu": self.cpu, "memory": self.memory}
        if self.gpu:
            requests[self.gpu.resource] = str(self.gpu.count)
        return requests


class Policy(BaseModel):
    """The bumper rails every job is checked against at validation time and at task start."""

    model_config = _STRICT

    allowed_images: list[Annotated[str, AfterValidator(_check_image_prefix)]] = Field(
        min_length=1,
        description="Image prefixes jobs may use. A prefix ends at a registry or path boundary: "
        "`registry.internal` (a registry) admits `registry.internal/x:1` but not "
        "`registry.internal.evil.io/x:1`; `registry.internal/vision` admits "
        "`registry.internal/vision/train:1` and `registry.internal/vision:1`, not "
        "`registry.internal/visionary/x:1`.",
        examples=[["registry.internal/"]],
    )
    require_pinned_images: bool = Field(
        default=True,
        description="Refuse images without a tag or digest, and the tag 'latest'.",
    )
    max_execution_time: Duration = Field(
        default=timedelta(hours=24),
        description="Longest `execution_time` any job may ask for.",
        examples=["24 hours"],
    )
    jobs_namespace: Annotated[str, _check_name("namespace")] = Field(
        default="airflow-jobs",
        description="Prefix of the teams' jobs namespaces: a team's job pods run in "
        "`<jobs_namespace>-<team>` (unless the team names its own `namespace`). The chart "
        "runs the Airflow worker pods in the namespace of this name itself.",
        examples=["airflow-jobs"],
    )
    service_account: Annotated[str, _check_name("service account name")] | None = Field(
        default=None,
        description="Service account of job pods (one with no API rights), in every team's "
        "jobs namespace; the namespace default when absent. Its token is never mounted.",
        examples=["airflow-platform-job"],
    )
    termination_grace_period: Duration = Field(
        default=timedelta(seconds=10),
        description="How long a job has, after SIGTERM at its `execution_time` (or when its "
        "run is stopped), before it is killed. A script that runs as the container's first "
        "process ignores SIGTERM unless it handles it, so such a job stops this much after "
        "its deadline; a job that must clean up catches SIGTERM and finishes within it.",
        examples=["10 seconds"],
    )
    max_task_artifacts: Memory = Field(
        default="1Gi",
        description="Most a task may keep in `$AIRFLOW_PLATFORM_OUTPUT_DIR` (after its "
        "`outputs:` globs): a task that leaves more fails with a message naming this cap.",
        examples=["1Gi", "500Mi"],
    )
    max_matrix_combinations: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Most combinations a sweep (`matrix:`) of one task may have; each runs as "
        "its own pod. A spec over it is refused when it is validated.",
        examples=[64],
    )
    max_result_bytes: int = Field(
        default=2048,
        ge=16,
        le=3072,
        description="Largest `result.json` a task may publish, in bytes (a task over it fails). "
        "On the cluster the result travels in the artifact keeper's termination message, "
        "which the kubelet caps at 4096 bytes, hence the upper bound.",
        examples=[2048],
    )
    usage_wrapper: str | None = Field(
        default=None,
        description="Command every job pod's command starts with to report what the job used "
        "(peak memory, CPU time) in its last log line; the job base images install "
        "`/usr/local/bin/airflow-platform-usage`. Set it only when every allowed image has it.",
        examples=["/usr/local/bin/airflow-platform-usage"],
    )


class GpuNodes(BaseModel):
    """How GPU nodes are marked in this cluster."""

    model_config = _STRICT

    label: str = Field(
        default="nvidia.com/gpu.present",
        description="Node label present on every GPU node.",
        examples=["nvidia.com/gpu.present"],
    )
    product_label: str = Field(
        default="nvidia.com/gpu.product",
        description="Node label holding the GPU model.",
        examples=["nvidia.com/gpu.product"],
    )
    taint: str = Field(
        default="nvidia.com/gpu",
        description="Taint key on GPU nodes; GPU flavors tolerate it.",
        examples=["nvidia.com/gpu"],
    )


_PRINCIPAL = re.compile(r"[^\s@/]+(/[^\s@/]+)?@[A-Z0-9][A-Z0-9.-]*")


def _check_principal(value: str) -> str:
    if not _PRINCIPAL.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a Kerberos principal with its realm, e.g. "
            "'svc-analytics@EXAMPLE.COM' or 'svc-analytics/airflow@EXAMPLE.COM'"
        )
    return value


class TeamKerberos(BaseModel):
    """The Kerberos identity a team's jobs log in as (jobs ask for it with `kerberos: true`).

    The keytab stays in a Secret of the jobs namespace that the platform team creates; it is
    mounted read-only (mode 0400) into the Kerberos containers and the Spark driver only,
    never into the job container, and never shown by `render`.
    """

    model_config = _STRICT

    principal: Annotated[str, AfterValidator(_check_principal)] = Field(
        description="The team's principal, with its realm.",
        examples=["svc-analytics@EXAMPLE.COM"],
    )
    keytab_secret: Annotated[str, _check_name("Secret name")] = Field(
        description="Name of the Secret (in the jobs namespace) that holds the keytab.",
        examples=["analytics-keytab"],
    )
    keytab_key: str = Field(
        default="keytab",
        pattern=r"^[-._a-zA-Z0-9]{1,253}$",
        description="Key of the keytab inside the Secret.",
        examples=["keytab"],
    )


class TeamSpark(BaseModel):
    """What a team may ask of Spark; a team without it may not run Spark jobs."""

    model_config = _STRICT

    max_executors: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="Most executors one Spark job of the team may ask for (`spark.executors`).",
        examples=[8],
    )
    driver_flavors: list[Annotated[str, _check_name("flavor name")]] | None = Field(
        default=None,
        description="Flavors the driver may use (a Spark job's `resource_flavor`); any flavor "
        "the team may use when absent.",
        examples=[["cpu-2gb", "cpu-4gb"]],
    )
    executor_flavors: list[Annotated[str, _check_name("flavor name")]] | None = Field(
        default=None,
        description="Flavors executors may use (`spark.executor_flavor`); any flavor the team "
        "may use when absent.",
        examples=[["cpu-4gb", "cpu-16gb"]],
    )


def _check_sensor_area(value: str) -> str:
    bucket, _, prefix = value.removeprefix("s3://").partition("/")
    if not value.startswith("s3://") or not _BUCKET.fullmatch(bucket) or ".." in prefix.split("/"):
        raise ValueError(
            f"'{value}' is not an area of an object store: write s3://<bucket>/<prefix>/, "
            "e.g. 's3://landing/analytics/'"
        )
    return value if value.endswith("/") else value + "/"


class Team(BaseModel):
    """A team that may run jobs: its specs live under `jobs/<team>/`, its pods, Secrets and
    keytab in its own jobs namespace."""

    model_config = _STRICT

    description: str = Field(default="", description="Who the team is.")
    namespace: Annotated[str, _check_name("namespace")] | None = Field(
        default=None,
        description="The team's jobs namespace; `<policy.jobs_namespace>-<team>` when absent.",
        examples=["vision-jobs"],
    )
    users: list[Annotated[str, AfterValidator(_check_identity)]] = Field(
        default_factory=list,
        description="Airflow users (by login name) who may run ad-hoc jobs (`submit`) as the team.",
        examples=[["alice", "bob"]],
    )
    roles: list[Annotated[str, AfterValidator(_check_identity)]] = Field(
        default_factory=list,
        description="Airflow roles whose users may run ad-hoc jobs as the team (the role of "
        "the simple auth manager's `[core] simple_auth_manager_users`).",
        examples=[["admin"]],
    )
    quota: dict[LabelKey, Annotated[str, AfterValidator(_check_quantity)]] | None = Field(
        default=None,
        description="What all of the team's running pods may request together, by resource "
        "(`cpu`, `memory`, `nvidia.com/gpu`, …): the chart makes it the ResourceQuota of the "
        "team's namespace (`requests.<resource>`). No quota when absent.",
        examples=[{"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": "8"}],
    )
    borrowing_limit: dict[LabelKey, Annotated[str, AfterValidator(_check_quantity)]] | None = Field(
        default=None,
        description="With Kueue (`kueue.enabled`): how much the team may borrow, by "
        "resource, beyond its `quota` from idle teams of the cohort (Kueue's "
        "`borrowingLimit`); `0` forbids borrowing that resource. As much as is idle when "
        "absent.",
        examples=[{"cpu": "16", "nvidia.com/gpu": "0"}],
    )
    kerberos: TeamKerberos | None = Field(
        default=None,
        description="The team's Kerberos principal and keytab Secret; jobs of a team without "
        "it cannot ask for `kerberos: true`.",
        examples=[{"principal": "svc-analytics@EXAMPLE.COM", "keytab_secret": "analytics-keytab"}],
    )
    spark: TeamSpark | None = Field(
        default=None,
        description="The team's Spark bounds; a team without them cannot run Spark jobs.",
        examples=[{"max_executors": 8}],
    )
    consume_assets_from: list[Annotated[str, _check_name("team name")]] = Field(
        default_factory=list,
        description="Other teams whose assets the team's pipelines may be scheduled on "
        "(`schedule: {all: [vision/labels]}`); its own assets and URIs need no entry.",
        examples=[["vision"]],
    )
    sensor_areas: list[Annotated[str, AfterValidator(_check_sensor_area)]] = Field(
        default_factory=list,
        description="Places of the object store beyond the team's own area "
        "(`s3://<artifacts bucket>/teams/<team>/`) that its sensors (`wait_for:`) may watch, "
        "as `s3://<bucket>/<prefix>/` URLs. Grant the sensors' connection read access there.",
        examples=[["s3://landing/analytics/"]],
    )


class KerberosConfig(BaseModel):
    """The realm's client config and how the platform obtains and renews tickets."""

    model_config = _STRICT

    realm: Annotated[str, AfterValidator(_check_realm)] = Field(
        description="The Kerberos realm (upper case).", examples=["EXAMPLE.COM"]
    )
    krb5_conf: str = Field(
        min_length=1,
        description="The `krb5.conf` every Kerberos container and Spark driver reads; the "
        "chart renders it into the ConfigMap `krb5_conf_configmap`.",
        examples=["[libdefaults]\n  default_realm = EXAMPLE.COM\n"],
    )
    krb5_conf_configmap: Annotated[str, _check_name("ConfigMap name")] = Field(
        default="airflow-platform-krb5",
        description="ConfigMap in the jobs namespace holding `krb5_conf` under the key "
        "`krb5.conf`.",
        examples=["airflow-platform-krb5"],
    )
    image: str = Field(
        description="Image of the kinit init container and the renewal sidecar: it needs "
        "MIT Kerberos' `kinit` and `klist` and a POSIX shell.",
        examples=["registry.internal/platform/krb5:1.20.1"],
    )
    renew_interval: Duration = Field(
        default=timedelta(hours=1),
        description="How often the sidecar renews the ticket (or logs in again from the "
        "keytab when it can no longer be renewed).",
        examples=["1 hour"],
    )


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ENDPOINT = re.compile(r"https?://[^\s/]+(/[^\s]*)?")


def _check_bucket(value: str) -> str:
    if not _BUCKET.fullmatch(value) or ".." in value:
        raise ValueError(
            f"'{value}' is not an S3 bucket name: 3-63 characters of lower-case letters, "
            "digits, '.' and '-', starting and ending with a letter or digit"
        )
    return value


def _check_endpoint(value: str) -> str:
    if not _ENDPOINT.fullmatch(value):
        raise ValueError(
            f"'{value}' is not an endpoint URL; write it as http(s)://host[:port], e.g. "
            "'https://s3.eu-west-1.amazonaws.com'"
        )
    return value.rstrip("/")


def _check_key_prefix(value: str) -> str:
    prefix = value.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise ValueError(
            f"'{value}' is not a key prefix: use names separated by '/', e.g. 'airflow/runs'"
        )
    return prefix


class ArtifactStore(BaseModel):
    """The S3-compatible object store that keeps a run's artifacts on the cluster.

    Each job pod moves its own artifacts with the platform's code: an init container fetches
    the upstream tasks' outputs into `$AIRFLOW_PLATFORM_INPUT_DIR`, and a sidecar keeps what
    the job left in `$AIRFLOW_PLATFORM_OUTPUT_DIR` under
    `<prefix>/<dag>/<run id>/<task>/<try>/` once the job has ended. The job's own container
    never sees the store's credentials.
    """

    model_config = _STRICT

    endpoint: Annotated[str, AfterValidator(_check_endpoint)] = Field(
        description="The store's S3 API endpoint, reachable from job pods.",
        examples=["https://s3.eu-west-1.amazonaws.com", "http://seaweedfs.storage:8333"],
    )
    bucket: Annotated[str, AfterValidator(_check_bucket)] = Field(
        description="The bucket (it must exist; the platform never creates one).",
        examples=["airflow-artifacts"],
    )
    prefix: Annotated[str, AfterValidator(_check_key_prefix)] = Field(
        default="runs",
        description="Key prefix under which every run's artifacts are kept.",
        examples=["runs", "airflow/artifacts"],
    )
    region: str = Field(
        default="us-east-1",
        min_length=1,
        description="The region the S3 API is signed for.",
        examples=["us-east-1"],
    )
    credentials_secret: Annotated[str, _check_name("Secret name")] = Field(
        description="Secret in every team's jobs namespace holding the store's credentials "
        "under the keys `access_key_id` and `secret_access_key` (referenced by the transfer "
        "containers only, never by the job's). Give each team credentials that reach only "
        "its own part of the bucket.",
        examples=["airflow-platform-artifacts"],
    )
    image: str | None = Field(
        default=None,
        description="Image of the transfer containers: the platform's own image (it has "
        "`airflow_platform` and boto3). Required; the chart sets it to `images.airflow` when "
        "absent.",
        examples=["registry.internal/airflow-platform/airflow:0.1.0"],
    )
    sensor_connection: str = Field(
        default="airflow_platform_artifacts",
        pattern=r"^[A-Za-z0-9_.-]{1,250}$",
        description="The Airflow connection (type `aws`) through which sensors (`wait_for:`) "
        "watch the store: give it read-only credentials of the areas sensors may watch.",
        examples=["airflow_platform_artifacts"],
    )
    upload_grace: Duration = Field(
        default=timedelta(minutes=2),
        description="How long the sidecar has to keep a task's outputs after the job ends; "
        "added to the pod's termination grace period (so a job that ignores SIGTERM at its "
        "deadline is killed this much later too).",
        examples=["2 minutes"],
    )


class SparkConfig(BaseModel):
    """How Spark jobs are submitted (spark-submit in Kubernetes cluster mode)."""

    model_config = _STRICT

    master: str = Field(
        default="k8s://https://kubernetes.default.svc",
        description="The `--master` of spark-submit: the API server Spark's client talks to.",
        examples=["k8s://https://kubernetes.default.svc"],
    )
    driver_service_account: Annotated[str, _check_name("service account name")] = Field(
        default="airflow-platform-spark",
        description="Service account of Spark drivers (in the jobs namespace): it may create, "
        "watch and delete the executor pods. Executors mount no token.",
        examples=["airflow-platform-spark"],
    )
    application_dir: str = Field(
        default="/opt/spark/work-dir",
        pattern=r"^/",
        description="Folder of Spark images holding the job's folder (its application file "
        "and data): a spec's `spark.application` is run from there on the cluster.",
        examples=["/opt/spark/work-dir"],
    )


class KueueConfig(BaseModel):
    """Whether job pods queue in Kueue for their team's quota (the chart's `kueue.enabled`
    sets this; Kueue itself is installed separately, see docs/kueue.md)."""

    model_config = _STRICT

    enabled: bool = Field(
        default=False,
        description="Job pods carry the `kueue.x-k8s.io/queue-name` label of their team's "
        "LocalQueue, so Kueue holds each one (a scheduling gate) until the team's quota "
        "admits it.",
    )
    local_queue: Annotated[str, _check_name("LocalQueue name")] = Field(
        default="airflow-platform",
        description="Name of the LocalQueue in every team's jobs namespace.",
        examples=["airflow-platform"],
    )
    max_wait: Duration = Field(
        default=timedelta(hours=24),
        description="How long a job may wait for its team's quota (its pod gated by Kueue) "
        "before its run fails; added to the flavor's `startup_allowance`, so queueing is not "
        "taken for a slow start. `execution_time` counts from when the pod starts.",
        examples=["24 hours"],
    )


class PlatformConfig(BaseModel):
    """The whole platform config document."""

    model_config = _STRICT

    teams: dict[Annotated[str, _check_name("team name")], Team] = Field(
        min_length=1, description="Every team that may run jobs.", examples=[{"vision": {}}]
    )
    flavors: dict[Annotated[str, _check_name("flavor name")], Flavor] = Field(
        min_length=1, description="The flavor catalog."
    )
    policy: Policy = Field(description="What jobs may do.")
    gpu_nodes: GpuNodes = Field(
        default_factory=GpuNodes, description="How GPU nodes are labelled and tainted."
    )
    kerberos: KerberosConfig | None = Field(
        default=None,
        description="Kerberos: the realm's krb5.conf and the kinit image; without it no job "
        "may ask for `kerberos: true`.",
    )
    spark: SparkConfig = Field(
        default_factory=SparkConfig, description="How Spark jobs are submitted."
    )
    artifacts: ArtifactStore | None = Field(
        default=None,
        description="Where job pods keep their artifacts on the cluster; without it each "
        "task's output folder is scratch space that ends with its pod (the local runner keeps "
        "artifacts in a local folder either way).",
    )
    kueue: KueueConfig = Field(
        default_factory=KueueConfig,
        description="Queueing for the teams' quotas with Kueue; off when absent.",
    )
    task_types: dict[TypeName, TaskType] = Field(
        default_factory=dict,
        description="Named task types a spec task runs with `operator_type:` "
        "(docs/platform-team.md).",
    )

    @model_validator(mode="after")
    def _teams_known(self, info: ValidationInfo) -> PlatformConfig:
        # parse_config finds these in the raw document, beside every other problem, and says
        # so in the context; this check guards configs built in code.
        if info.context and info.context.get(_TEAMS_CHECKED):
            return self
        unknown = _unknown_teams({n: f.teams for n, f in self.flavors.items()}, list(self.teams))
        if unknown:
            path, message, hint = unknown[0]
            raise ValueError(f"{join_path(path)}: {message}; {hint}")
        return self

    @model_validator(mode="after")
    def _task_type_flavors_known(self) -> PlatformConfig:
        for name, task_type in self.task_types.items():
            for i, flavor in enumerate(task_type.flavors or ()):
                if flavor not in self.flavors:
                    hint = did_you_mean(flavor, self.flavors) or "add it to `flavors:`"
                    raise ValueError(
                        f"task_types.{name}.flavors.{i}: unknown flavor '{flavor}'; {hint}"
                    )
        return self

    @model_validator(mode="after")
    def _transfer_image(self) -> PlatformConfig:
        if self.artifacts is not None and not self.artifacts.image:
            raise ValueError(
                "artifacts.image: name the image of the transfer containers (the platform "
                "image, e.g. 'registry.internal/airflow-platform/airflow:0.1.0'); the chart "
                "sets it from images.airflow"
            )
        return self

    @model_validator(mode="after")
    def _namespaces_distinct(self) -> PlatformConfig:
        seen: dict[str, str] = {}
        for team in self.teams:
            namespace = self.namespace_of(team)
            if len(namespace) > 63:
                raise ValueError(
                    f"teams.{team}: the jobs namespace '{namespace}' is longer than 63 "
                    "characters; give the team a shorter `namespace`, or shorten "
                    "policy.jobs_namespace"
                )
            if namespace == self.policy.jobs_namespace:
                raise ValueError(
                    f"teams.{team}.namespace: '{namespace}' is the workers' namespace "
                    "(policy.jobs_namespace); give the team a namespace of its own"
                )
            if namespace in seen:
                raise ValueError(
                    f"teams.{team}: jobs namespace '{namespace}' is team {seen[namespace]}'s "
                    "too; each team needs a namespace of its own, or its Secrets are shared"
                )
            seen[namespace] = team
        return self

    def namespace_of(self, team: str) -> str:
        """The jobs namespace of ``team``: the one place that names it."""
        entry = self.teams.get(team)
        if entry is not None and entry.namespace:
            return entry.namespace
        return f"{self.policy.jobs_namespace}-{team}"

    def jobs_namespaces(self) -> dict[str, str]:
        """Every team's jobs namespace, by team."""
        return {team: self.namespace_of(team) for team in self.teams}

    def teams_of_caller(self, user: str | None, roles: Iterable[str] = ()) -> list[str]:
        """The teams an Airflow user (with these roles) may run ad-hoc jobs as."""
        held = set(roles)
        return [
            name
            for name, team in self.teams.items()
            if (user is not None and user in team.users) or held.intersection(team.roles)
        ]

    def flavor_names(self) -> list[str]:
        return sorted(self.flavors)

    def flavors_for(self, team: str) -> list[str]:
        """The names of the flavors ``team`` may use, in catalog order."""
        return [name for name, flavor in self.flavors.items() if flavor.usable_by(team)]

    def starter_flavor(self, team: str) -> str | None:
        """The flavor a new job of ``team`` starts with: the smallest (by memory) CPU flavor
        it may use, else its smallest flavor; ``None`` when it may use none. What `init`
        writes and what the hints quote, so that a new spec never starts on a GPU node."""
        usable = self.flavors_for(team)
        cpu_only = [n for n in usable if self.flavors[n].gpu is None] or usable
        if not cpu_only:
            return None
        return min(cpu_only, key=lambda n: (parse_memory(self.flavors[n].memory), n))


def load_config(path: str | Path | None = None) -> PlatformConfig:
    """The platform config from ``path``, else ``$AIRFLOW_PLATFORM_CONFIG``, else the default.

    Cached by file and modification time, so a DAG file may call it for every spec.
    """
    chosen = path or os.environ.get(CONFIG_ENV)
    if chosen:
        file = Path(chosen)
        try:
            stat = file.stat()
        except OSError as exc:
            raise SpecError.single(
                str(file),
                f"cannot read the platform config: {exc.strerror}",
                hint=f"check ${CONFIG_ENV} or the --config option",
            ) from None
        return _load_cached(str(file), stat.st_mtime_ns, stat.st_size)
    return _load_default()


@lru_cache(maxsize=8)
def _load_cached(file: str, _mtime_ns: int, _size: int) -> PlatformConfig:
    return parse_config(Path(file).read_bytes(), file)


@lru_cache(maxsize=1)
def _load_default() -> PlatformConfig:
    data = resources.files("airflow_platform").joinpath("data/platform.yaml").read_bytes()
    return parse_config(data, "<packaged default platform.yaml>")


_CONFIG_START = "a platform config is a mapping with `teams:`, `flavors:` and `policy:`"


def parse_config(data: bytes, file: str) -> PlatformConfig:
    """Validates a platform config document; raises ``SpecError`` with every problem."""
    tree, source = parse_yaml(read_text(data, file), file, start_hint=_CONFIG_START)
    if not isinstance(tree, dict):
        raise SpecError(
            [
                source.problem(
                    (), f"the document is {describe_value(tree)}, not a mapping", _CONFIG_START
                )
            ]
        )
    teams_problems = [
        source.problem(path, message, hint) for path, message, hint in _raw_unknown_teams(tree)
    ]
    try:
        config = PlatformConfig.model_validate(tree, context={_TEAMS_CHECKED: True})
    except ValidationError as exc:
        problems = validation_problems(exc, PlatformConfig, source)
        raise SpecError([*problems, *teams_problems]) from None
    if teams_problems:
        raise SpecError(teams_problems)
    return config


def _unknown_teams(
    flavor_teams: Mapping[str, Sequence[str] | None], known: Sequence[str]
) -> list[tuple[tuple[str | int, ...], str, str]]:
    out: list[tuple[tuple[str | int, ...], str, str]] = []
    for name, teams in flavor_teams.items():
        for i, team in enumerate(teams or ()):
            if team not in known:
                hint = did_you_mean(team, known) or f"known teams: {', '.join(known)}"
                out.append((("flavors", name, "teams", i), f"unknown team '{team}'", hint))
    return out


def _raw_unknown_teams(tree: object) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Unknown teams in flavors' ``teams`` lists, read from the raw document.

    Done before (and beside) model validation, so the problem is reported together with any
    other problem of the file, not only once everything else is valid.
    """
    if not isinstance(tree, dict):
        return []
    teams, flavors = tree.get("teams"), tree.get("flavors")
    if not isinstance(teams, dict) or not isinstance(flavors, dict):
        return []
    flavor_teams = {
        str(name): [t for t in flavor["teams"] if isinstance(t, str)]
        for name, flavor in flavors.items()
        if isinstance(flavor, dict) and isinstance(flavor.get("teams"), list)
    }
    return _unknown_teams(flavor_teams, [str(t) for t in teams])
