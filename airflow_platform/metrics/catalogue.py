"""The metric catalogue: every series the platform emits or reads, by name, with its labels.

A leaf: it imports nothing of the platform, so the emitter (``metrics.emit``), the querying
side (``usage``), the chart tests and the docs may all import it. The table in
``docs/metrics.md`` is generated from here (``python -m airflow_platform.metrics``); a test
keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every job series carries these: bounded, never a run id. `dag` is the pipeline's DAG id, so
# two pipelines with a task of the same name keep separate series.
JOB_LABELS = ("team", "flavor", "job_name", "dag")
# The one-line failure reasons (``failures.failure_reason``) a failed try is counted under.
FAILURE_REASONS = ("failed", "timeout", "oom", "unschedulable", "image_error")
WAIT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
# Airflow's [metrics] statsd_prefix, which the chart sets; the mapping file matches under it.
STATSD_PREFIX = "airflow"


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One metric: its Prometheus name (with unit), type, labels and meaning, and the StatsD
    stat the operator sends it as (under ``STATSD_PREFIX``; the chart's mapping names it)."""

    name: str
    kind: str  # counter, gauge, histogram
    labels: tuple[str, ...]
    help: str
    stat: str
    buckets: tuple[float, ...] = ()


STARTED = MetricDef(
    "airflow_platform_jobs_started_total",
    "counter",
    (*JOB_LABELS, "critical"),
    "Job tries that passed the guards and started a pod (or local process).",
    "platform.jobs_started",
)
FAILURES = MetricDef(
    "airflow_platform_job_failures_total",
    "counter",
    (*JOB_LABELS, "reason", "critical"),
    "Job tries that failed, by the platform's one-line failure reason: "
    + ", ".join(FAILURE_REASONS)
    + ". Successes, retries and durations are Airflow's own (`airflow_task_*`).",
    "platform.job_failures",
)
CAPACITY_WAIT = MetricDef(
    "airflow_platform_job_capacity_wait_seconds",
    "histogram",
    JOB_LABELS,
    "Wait for capacity: pod creation to the job container running (local backend: ~0). "
    "A pod that never ran counts its whole wait.",
    "platform.job_capacity_wait",
    WAIT_BUCKETS,
)
REJECTIONS = MetricDef(
    "airflow_platform_guard_rejections_total",
    "counter",
    (*JOB_LABELS, "reason"),
    "Tries refused by the platform policy at task start, by `Violation.reason` "
    "(unknown_team, unknown_flavor, flavor_not_allowed, execution_time, image_not_allowed, …).",
    "platform.guard_rejections",
)
LAST_FAILED = MetricDef(
    "airflow_platform_job_last_run_failed",
    "gauge",
    (*JOB_LABELS, "critical"),
    "1 when the job's latest try failed, 0 when it succeeded.",
    "platform.job_last_run_failed",
)
LAST_FINISH = MetricDef(
    "airflow_platform_job_last_finish_timestamp_seconds",
    "gauge",
    JOB_LABELS,
    "When the job's latest try ended (Unix time).",
    "platform.job_last_finish_timestamp",
)
REQ_CPU = MetricDef(
    "airflow_platform_job_requested_cpu_cores",
    "gauge",
    JOB_LABELS,
    "CPU cores the flavor requests for the job.",
    "platform.job_requested_cpu",
)
REQ_MEMORY = MetricDef(
    "airflow_platform_job_requested_memory_bytes",
    "gauge",
    JOB_LABELS,
    "Memory the flavor requests (and limits) for the job.",
    "platform.job_requested_memory",
)
REQ_GPUS = MetricDef(
    "airflow_platform_job_requested_gpus",
    "gauge",
    JOB_LABELS,
    "GPUs the flavor requests for the job (0 for CPU flavors).",
    "platform.job_requested_gpus",
)
PEAK_MEMORY = MetricDef(
    "airflow_platform_job_peak_memory_bytes",
    "gauge",
    JOB_LABELS,
    "Peak memory of the job's latest try that reported it (local: process-tree RSS; "
    "cluster: the job wrapper's `AIRFLOW_PLATFORM_USAGE` line; any image: cAdvisor's "
    "`container_memory_max_usage_bytes`, which `airflow-platform usage` reads).",
    "platform.job_peak_memory",
)
CPU_USED = MetricDef(
    "airflow_platform_job_cpu_used_seconds",
    "gauge",
    JOB_LABELS,
    "CPU time (user + system) of the job's latest try that reported it.",
    "platform.job_cpu_used",
)
CPU_CORES = MetricDef(
    "airflow_platform_job_cpu_used_cores",
    "gauge",
    JOB_LABELS,
    "Average CPU cores the job's latest try used: its CPU seconds over its run time.",
    "platform.job_cpu_used_cores",
)
TASK_STARTED = MetricDef(
    "airflow_platform_task_started_timestamp_seconds",
    "gauge",
    ("dag_id", "task_id", "team", "flavor"),
    "When a platform task last started a try (Unix time). It names the task as Airflow's "
    "own metrics do (`dag_id`, `task_id`), so the recording rule "
    "`airflow_platform:task_finished_total` gives Airflow's task outcomes a team and flavor.",
    "platform.task_started_timestamp",
)

METRICS: tuple[MetricDef, ...] = (
    STARTED,
    FAILURES,
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
    TASK_STARTED,
)

# Airflow's own task metrics as the chart's statsd-exporter mapping names them (from the
# tagged `ti.finish`, `task.duration`, `ti_successes` and `ti_failures`), labelled `dag_id`
# and `task_id`; `airflow_task_finished_total` also has `state` (success, failed,
# up_for_retry, …).
AIRFLOW_TASK_FINISHED = "airflow_task_finished_total"
AIRFLOW_TASK_DURATION = "airflow_task_duration_seconds"
AIRFLOW_TASK_SUCCESSES = "airflow_task_successes_total"
AIRFLOW_TASK_FAILURES = "airflow_task_failures_total"
AIRFLOW_TASK_SERIES = (
    AIRFLOW_TASK_FINISHED,
    AIRFLOW_TASK_DURATION,
    AIRFLOW_TASK_SUCCESSES,
    AIRFLOW_TASK_FAILURES,
)
# The recording rule (alerts.rules.yaml) that labels Airflow's task outcomes with team, flavor.
TASK_FINISHED_BY_TEAM = "airflow_platform:task_finished_total"

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
        labels = ", ".join(f"`{label}`" for label in m.labels)
        rows.append(f"| `{m.name}` | {m.kind} | {labels} | {m.help.replace('|', '/')} |")
    return "\n".join(rows) + "\n"
