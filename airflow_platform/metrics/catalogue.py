"""The metric catalogue: every series the platform emits or reads, by name, with its labels.

A leaf: it imports nothing of the platform, so the emitters (``metrics.push``), the querying
side (``usage``), the chart tests and the docs may all import it. The table in
``docs/metrics.md`` is generated from here (``python -m airflow_platform.metrics``); a test
keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

# `dag` is there for a pipeline's task (every task the operators run is one).
GROUPING_LABELS = ("team", "flavor", "job_name", "dag")
OUTCOMES = ("success", "failed", "timeout", "oom", "unschedulable", "image_error")
DURATION_BUCKETS = (
    10.0,
    30.0,
    60.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    43200.0,
    86400.0,
)
WAIT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One metric: its name (with unit), type, labels beyond the grouping key, and meaning."""

    name: str
    kind: str  # counter, gauge, histogram
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()


STARTED = MetricDef(
    "airflow_platform_jobs_started_total",
    "counter",
    ("critical",),
    "Job tries that passed the guards and started a pod (or local process).",
)
FINISHED = MetricDef(
    "airflow_platform_jobs_finished_total",
    "counter",
    ("outcome", "critical"),
    "Job tries that ended, by outcome: " + ", ".join(OUTCOMES) + ".",
)
DURATION = MetricDef(
    "airflow_platform_job_duration_seconds",
    "histogram",
    ("outcome",),
    "Run time of a try, from the container's start (or pod creation) to its end.",
    DURATION_BUCKETS,
)
CAPACITY_WAIT = MetricDef(
    "airflow_platform_job_capacity_wait_seconds",
    "histogram",
    (),
    "Wait for capacity: pod creation to the job container running (local backend: ~0). "
    "A pod that never ran counts its whole wait.",
    WAIT_BUCKETS,
)
REJECTIONS = MetricDef(
    "airflow_platform_guard_rejections_total",
    "counter",
    ("reason",),
    "Tries refused by the platform policy at task start, by `Violation.reason` "
    "(unknown_team, unknown_flavor, flavor_not_allowed, execution_time, image_not_allowed, …).",
)
LAST_FAILED = MetricDef(
    "airflow_platform_job_last_run_failed",
    "gauge",
    ("critical",),
    "1 when the job's latest try failed, 0 when it succeeded.",
)
LAST_FINISH = MetricDef(
    "airflow_platform_job_last_finish_timestamp_seconds",
    "gauge",
    (),
    "When the job's latest try ended (Unix time).",
)
REQ_CPU = MetricDef(
    "airflow_platform_job_requested_cpu_cores",
    "gauge",
    (),
    "CPU cores the flavor requests for the job.",
)
REQ_MEMORY = MetricDef(
    "airflow_platform_job_requested_memory_bytes",
    "gauge",
    (),
    "Memory the flavor requests (and limits) for the job.",
)
REQ_GPUS = MetricDef(
    "airflow_platform_job_requested_gpus",
    "gauge",
    (),
    "GPUs the flavor requests for the job (0 for CPU flavors).",
)
PEAK_MEMORY = MetricDef(
    "airflow_platform_job_peak_memory_bytes",
    "gauge",
    (),
    "Peak memory of the job's latest try that reported it (local: process-tree RSS; "
    "cluster: the job wrapper's `AIRFLOW_PLATFORM_USAGE` line).",
)
CPU_USED = MetricDef(
    "airflow_platform_job_cpu_used_seconds",
    "gauge",
    (),
    "CPU time (user + system) of the job's latest try that reported it.",
)
CPU_CORES = MetricDef(
    "airflow_platform_job_cpu_used_cores",
    "gauge",
    (),
    "Average CPU cores the job's latest try used: its CPU seconds over its run time.",
)

METRICS: tuple[MetricDef, ...] = (
    STARTED,
    FINISHED,
    DURATION,
    CAPACITY_WAIT,
    REJECTIONS,
    LAST_FAILED,
    LAST_FINISH,
    REQ_CPU,
    REQ_MEMORY,
    REQ_GPUS,
    PEAK_MEMORY,
    CPU_USED,
    CPU_CORES,
)

# ------------------------------------------------------------------ pod facts from the cluster

# The platform's pod labels (``pods.pod_labels``) that kube-state-metrics must be allowed to
# expose (``--metric-labels-allowlist=pods=[...]``); it publishes them on ``kube_pod_labels``
# as ``label_`` + the key with every non-alphanumeric character made ``_``.
POD_LABEL_KEYS = {
    "team": "airflow-platform/team",
    "job": "airflow-platform/job",
    "flavor": "airflow-platform/flavor",
    "dag": "airflow-platform/dag",
    "task": "airflow-platform/task",
}
KSM_POD_LABELS = tuple(POD_LABEL_KEYS.values())


def ksm_label(key: str) -> str:
    """The ``kube_pod_labels`` label that carries pod label ``key``."""
    return "label_" + "".join(c if c.isalnum() else "_" for c in key)


# The job's own container in every job pod (``pods.CONTAINER_NAME``), the one cAdvisor's
# series are read for: init containers and sidecars have limits of their own.
JOB_CONTAINER = "base"

# Series of cAdvisor (the kubelet's /metrics/cadvisor) and kube-state-metrics that the platform
# reads: right-sizing, alerts and the dashboard. Their meaning is upstream's.
CONTAINER_MEMORY_PEAK = "container_memory_max_usage_bytes"
CONTAINER_MEMORY_WORKING_SET = "container_memory_working_set_bytes"
CONTAINER_CPU = "container_cpu_usage_seconds_total"
KSM_POD_LABELS_SERIES = "kube_pod_labels"
KSM_TERMINATED_REASON = "kube_pod_container_status_terminated_reason"
KSM_RESTARTS = "kube_pod_container_status_restarts_total"
KSM_PHASE = "kube_pod_status_phase"
KSM_LIMITS = "kube_pod_container_resource_limits"
KSM_START_TIME = "kube_pod_start_time"
KSM_COMPLETION_TIME = "kube_pod_completion_time"
KSM_UNSCHEDULABLE = "kube_pod_status_unschedulable"
POD_SERIES = (
    CONTAINER_MEMORY_PEAK,
    CONTAINER_MEMORY_WORKING_SET,
    CONTAINER_CPU,
    KSM_POD_LABELS_SERIES,
    KSM_TERMINATED_REASON,
    KSM_RESTARTS,
    KSM_PHASE,
    KSM_LIMITS,
    KSM_START_TIME,
    KSM_COMPLETION_TIME,
    KSM_UNSCHEDULABLE,
)


def metrics_table() -> str:
    """The Markdown table of every metric: name, type, labels and meaning."""
    rows = [
        "| metric | type | labels | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for m in METRICS:
        labels = ", ".join(f"`{label}`" for label in (*GROUPING_LABELS, *m.labels))
        rows.append(f"| `{m.name}` | {m.kind} | {labels} | {m.help.replace('|', '/')} |")
    return "\n".join(rows) + "\n"
