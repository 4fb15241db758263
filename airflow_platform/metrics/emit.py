"""Job metrics the operators send through Airflow's own StatsD client to the statsd-exporter.

Airflow already counts task outcomes, retries and durations (``ti.finish``, ``task.duration``);
this module counts only what the platform alone knows, where it happens: a try that passed the
guards, a guard rejection, the one-line failure reason, the capacity wait, the flavor's requests
and the task's team and flavor (``airflow_platform_task_started_timestamp_seconds``, which joins
Airflow's series to them). The statsd-exporter is a long-lived process, so it keeps the counters
and histograms across task processes: nothing is read back and written again.

The client is Airflow's, built from the ``[metrics]`` section the chart writes (``statsd_on``,
host, port, prefix, ``statsd_influxdb_enabled`` for the tags), so a platform team configures
StatsD once for Airflow and the platform. With StatsD off nothing is sent. StatsD is UDP: a
dead exporter costs nothing and never changes a task's result.

The definitions live in the catalogue leaf, ``airflow_platform.metrics.catalogue``; the
chart's ``files/statsd-mapping.yaml`` names each stat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from airflow_platform.config import PlatformConfig, load_config, parse_cpu, parse_memory
from airflow_platform.failures import failure_reason
from airflow_platform.metrics.catalogue import (
    CAPACITY_WAIT,
    CPU_CORES,
    CPU_USED,
    FAILURE_REASONS,
    FAILURES,
    LAST_FAILED,
    LAST_FINISH,
    PEAK_MEMORY,
    REJECTIONS,
    REQ_CPU,
    REQ_GPUS,
    REQ_MEMORY,
    STARTED,
    TASK_STARTED,
)
from airflow_platform.pods import CONTAINER_NAME
from airflow_platform.runners.local import LocalResult
from airflow_platform.spec.models import JobSpec

log = logging.getLogger(__name__)


class StatsClient(Protocol):
    """What this module calls of Airflow's StatsD logger (``SafeStatsdLogger``)."""

    def incr(self, stat: str, count: int = 1, rate: float = 1, *, tags: Any = None) -> None: ...

    def gauge(
        self, stat: str, value: float, rate: float = 1, delta: bool = False, *, tags: Any = None
    ) -> None: ...

    def timing(self, stat: str, dt: Any, *, tags: Any = None) -> None: ...


_client: StatsClient | None = None
_off = False


def stats_client() -> StatsClient | None:
    """Airflow's StatsD logger for ``[metrics]`` as configured, made once per process; None
    when it cannot be made (one warning, and the task goes on without metrics)."""
    global _client, _off
    if _client is None and not _off:
        # Imported here: DAG parsing imports this module, and only a task sends metrics.
        from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

        try:
            _client = get_stats_factory()()
        except Exception as exc:  # e.g. a statsd_host that does not resolve
            _off = True
            log.warning("job metrics off: Airflow's StatsD client could not be made: %s", exc)
    return _client


@dataclass(frozen=True, slots=True)
class JobKey:
    """The labels of a job's metrics: bounded, never a run id."""

    team: str
    flavor: str
    job_name: str
    critical: bool = False
    # The Airflow DAG the task belongs to: two pipelines may each have a task of the same name
    # (and flavor), and without it their series, and so their last_run_failed, would be one.
    dag: str | None = None

    def tags(self) -> dict[str, str]:
        return {
            "team": self.team,
            "flavor": self.flavor,
            "job_name": self.job_name,
            "dag": self.dag or self.job_name,
        }


@dataclass(frozen=True, slots=True)
class JobRun:
    """How one try of a job ended, as the operator saw it."""

    key: JobKey
    outcome: str
    duration_seconds: float
    capacity_wait_seconds: float | None = None
    peak_memory_bytes: int | None = None
    cpu_seconds: float | None = None
    finished_at: float = field(default_factory=time.time)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _send(action: str, *args: Any, tags: dict[str, str]) -> None:
    """One stat through the client; a failure is logged, never raised."""
    client = stats_client()
    if client is None:
        return
    try:
        getattr(client, action)(*args, tags=tags)
    except Exception as exc:
        log.warning("job metric %s not sent: %s", args[0], exc)


def record_start(
    job: JobSpec,
    config: PlatformConfig,
    dag_id: str | None = None,
    task_id: str | None = None,
) -> None:
    """Counts a try that passed the guards; sets the flavor's requests and the task's team and
    flavor for Airflow's own task series."""
    key = job_key(job, dag_id)
    tags = key.tags()
    critical = _flag(key.critical)
    _send("incr", STARTED.stat, tags={**tags, "critical": critical})
    for reason in FAILURE_REASONS:  # at 0: `increase()` misses the first sample of a series
        _send("incr", FAILURES.stat, 0, tags={**tags, "reason": reason, "critical": critical})
    flavor = config.flavors[job.resource_flavor]
    _send("gauge", REQ_CPU.stat, parse_cpu(flavor.cpu), tags=tags)
    _send("gauge", REQ_MEMORY.stat, float(parse_memory(flavor.memory)), tags=tags)
    _send("gauge", REQ_GPUS.stat, float(flavor.gpu.count if flavor.gpu else 0), tags=tags)
    if dag_id and task_id:
        task = {"dag_id": dag_id, "task_id": task_id, "team": key.team, "flavor": key.flavor}
        _send("gauge", TASK_STARTED.stat, time.time(), tags=task)


def record_finish(run: JobRun) -> None:
    """How a try ended: its failure reason, capacity wait, last state and measured use."""
    tags = run.key.tags()
    critical = _flag(run.key.critical)
    if run.outcome != "success":
        _send("incr", FAILURES.stat, tags={**tags, "reason": run.outcome, "critical": critical})
    if run.capacity_wait_seconds is not None:
        wait = timedelta(seconds=max(run.capacity_wait_seconds, 0.0))
        _send("timing", CAPACITY_WAIT.stat, wait, tags=tags)
    failed = 0.0 if run.outcome == "success" else 1.0
    _send("gauge", LAST_FAILED.stat, failed, tags={**tags, "critical": critical})
    _send("gauge", LAST_FINISH.stat, run.finished_at, tags=tags)
    if run.peak_memory_bytes is not None:
        _send("gauge", PEAK_MEMORY.stat, float(run.peak_memory_bytes), tags=tags)
    if run.cpu_seconds is not None:
        _send("gauge", CPU_USED.stat, float(run.cpu_seconds), tags=tags)
        if run.duration_seconds > 0:
            cores = float(run.cpu_seconds) / run.duration_seconds
            _send("gauge", CPU_CORES.stat, cores, tags=tags)


def _record_rejection(key: JobKey, reasons: Iterable[str]) -> None:
    for reason in sorted(set(reasons)):
        _send("incr", REJECTIONS.stat, tags={**key.tags(), "reason": reason})


# ------------------------------------------------------------------ what the operator calls

USAGE_MARKER = "AIRFLOW_PLATFORM_USAGE"
_LOCAL_OUTCOMES = {"Completed": "success", "OOMKilled": "oom", "DeadlineExceeded": "timeout"}


def job_key(job: JobSpec, dag_id: str | None = None) -> JobKey:
    """The labels of ``job``'s metrics, as a task of DAG ``dag_id``."""
    return JobKey(job.team, job.resource_flavor, job.name, job.critical, dag_id)


def record_rejection(job: JobSpec, reasons: Iterable[str], dag_id: str | None = None) -> None:
    """Counts ``guard_rejections_total`` for a try the policy refused, once per reason."""
    _record_rejection(job_key(job, dag_id), reasons)


REJECTED_ADHOC = "adhoc-rejected"


def record_conf_rejection(
    data: Any, reasons: Sequence[str] = ("invalid_spec",), config: PlatformConfig | None = None
) -> None:
    """Counts ``guard_rejections_total`` for an ad-hoc run whose conf the guard refused, for
    the ``reasons`` it gave (``invalid_spec`` for a conf that is not a well-formed job spec).

    The conf is user input, so its names become labels only when the catalog knows them
    (else ``unknown``), and the job name is always ``adhoc-rejected``.
    """
    config = config or load_config()
    raw = data.get("job") if isinstance(data, dict) else None
    raw = raw if isinstance(raw, dict) else {}
    team, flavor = str(raw.get("team", "")), str(raw.get("resource_flavor", ""))
    team = team if team in config.teams else "unknown"
    flavor = flavor if flavor in config.flavors else "unknown"
    _record_rejection(JobKey(team, flavor, REJECTED_ADHOC), reasons)


def record_local_finish(job: JobSpec, result: LocalResult, dag_id: str | None = None) -> None:
    """Records how a local run ended (its capacity wait is 0: a process starts at once)."""
    record_finish(
        JobRun(
            key=job_key(job, dag_id),
            outcome=_LOCAL_OUTCOMES.get(result.reason, "failed"),
            duration_seconds=result.duration_seconds,
            capacity_wait_seconds=0.0,
            peak_memory_bytes=result.peak_memory_bytes or None,  # 0: exited before a sample
            cpu_seconds=result.cpu_seconds,
        )
    )


def parse_usage_line(text: str) -> tuple[int, float] | None:
    """(peak RSS bytes, CPU seconds) from the last ``AIRFLOW_PLATFORM_USAGE`` line of a log.

    A job image that wants its use charted on the cluster runs its script under a wrapper
    that prints, last, ``AIRFLOW_PLATFORM_USAGE peak_rss_bytes=<int> cpu_seconds=<float>``
    (see docs/metrics.md).
    """
    for line in reversed(text.splitlines()):
        if USAGE_MARKER not in line:
            continue
        fields = dict(
            part.split("=", 1) for part in line.split(USAGE_MARKER, 1)[1].split() if "=" in part
        )
        try:
            return int(fields["peak_rss_bytes"]), float(fields["cpu_seconds"])
        except (KeyError, ValueError):
            return None
    return None


def _seconds_between(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return max(float((end - start).total_seconds()), 0.0)


def pod_run(
    job: JobSpec,
    pod: Any,
    log_tail: str = "",
    now: datetime | None = None,
    dag_id: str | None = None,
) -> JobRun:
    """How a try ended, read from its pod's status (and the usage line in its log).

    Capacity wait is pod creation to the container's start; a pod that never started waited
    until ``now``. Duration is the container's start to its end (or ``now``).
    """
    now = now or datetime.now(UTC)
    created = getattr(pod.metadata, "creation_timestamp", None)
    started = finished = None
    for status in getattr(pod.status, "container_statuses", None) or []:
        if status.name != CONTAINER_NAME or status.state is None:
            continue
        if status.state.running is not None:
            started = status.state.running.started_at
        if status.state.terminated is not None:
            started = status.state.terminated.started_at or started
            finished = status.state.terminated.finished_at
    phase = getattr(pod.status, "phase", None)
    outcome = "success" if phase == "Succeeded" else failure_reason(pod)
    usage = parse_usage_line(log_tail)
    return JobRun(
        key=job_key(job, dag_id),
        outcome=outcome,
        duration_seconds=_seconds_between(started or created, finished or now) or 0.0,
        capacity_wait_seconds=_seconds_between(created, started or now),
        peak_memory_bytes=usage[0] if usage else None,
        cpu_seconds=usage[1] if usage else None,
    )


def record_pod_finish(
    job: JobSpec, pod: Any, log_tail: str = "", dag_id: str | None = None
) -> None:
    """Records how a try on Kubernetes ended, from its final pod (see ``pod_run``)."""
    record_finish(pod_run(job, pod, log_tail, dag_id=dag_id))
