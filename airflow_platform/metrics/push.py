"""Job metrics pushed to a Prometheus Pushgateway by the JobOperator.

A job's task is short-lived, so nothing scrapes it: the operator pushes at the start of a try
(``jobs_started_total``) and at its end (everything else) to ``$AIRFLOW_PLATFORM_PUSHGATEWAY_URL``.
Without that variable nothing is pushed.

Grouping key: ``job=airflow_platform``, ``team``, ``flavor``, ``job_name`` — never a run id, so
the Pushgateway holds one group per job and flavor, however many times it runs. Every series
carries those labels; the others (``outcome``, ``reason``, ``critical``) are bounded sets.

Counters and histograms must keep counting across runs, but each task is a new process that
starts from zero. So a push reads the group's current counters from the Pushgateway, adds this
run's, and replaces the group (read-modify-write). Two runs of the *same* job ending within the
same instant may lose one increment; runs of different jobs never interfere.

A push never changes a task's result: it runs in a daemon thread that the task waits for at
most ``$AIRFLOW_PLATFORM_PUSHGATEWAY_TIMEOUT`` seconds (default 2); a dead, refusing or hanging
Pushgateway costs at most that and logs one warning.

The definitions live in the catalogue leaf, ``airflow_platform.metrics.catalogue``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from airflow_platform.config import PlatformConfig, load_config, parse_cpu, parse_memory
from airflow_platform.failures import failure_reason
from airflow_platform.metrics.catalogue import (
    CAPACITY_WAIT,
    CPU_CORES,
    CPU_USED,
    DURATION,
    FINISHED,
    LAST_FAILED,
    LAST_FINISH,
    METRICS,
    OUTCOMES,
    PEAK_MEMORY,
    REJECTIONS,
    REQ_CPU,
    REQ_GPUS,
    REQ_MEMORY,
    STARTED,
    MetricDef,
)
from airflow_platform.pods import CONTAINER_NAME
from airflow_platform.runners.local import LocalResult
from airflow_platform.spec.models import JobSpec

log = logging.getLogger(__name__)

PUSHGATEWAY_URL_ENV = "AIRFLOW_PLATFORM_PUSHGATEWAY_URL"
PUSHGATEWAY_TIMEOUT_ENV = "AIRFLOW_PLATFORM_PUSHGATEWAY_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 2.0
PUSH_JOB = "airflow_platform"
DOWN_BACKOFF_SECONDS = 300.0  # after a failed push, this process skips pushes for this long
_down_until = 0.0

_BY_NAME = {m.name: m for m in METRICS}


@dataclass(frozen=True, slots=True)
class JobKey:
    """The grouping key of a job's metrics: bounded, never a run id."""

    team: str
    flavor: str
    job_name: str
    critical: bool = False
    # The Airflow DAG the task belongs to: two pipelines may each have a task of the same name
    # (and flavor), and without it their groups, and so their last_run_failed, would be one.
    dag: str | None = None

    def grouping(self) -> dict[str, str]:
        key = {"team": self.team, "flavor": self.flavor, "job_name": self.job_name}
        return {**key, "dag": self.dag} if self.dag else key


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


# ------------------------------------------------------------------ samples


Sample = tuple[str, tuple[tuple[str, str], ...]]  # (sample name, sorted extra labels)


def _labels(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _le(bound: float) -> str:
    """A bucket bound as the Pushgateway writes it back ("1", "0.5", "+Inf"): one spelling,
    so that a bucket read back merges with this run's."""
    if math.isinf(bound):
        return "+Inf"
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def _histogram(metric: MetricDef, value: float, **labels: str) -> dict[Sample, float]:
    out: dict[Sample, float] = {}
    for bound in (*metric.buckets, math.inf):
        le = _le(bound)
        out[(f"{metric.name}_bucket", _labels(**labels, le=le))] = 1.0 if value <= bound else 0.0
    out[(f"{metric.name}_sum", _labels(**labels))] = value
    out[(f"{metric.name}_count", _labels(**labels))] = 1.0
    return out


def requested(flavor_name: str, config: PlatformConfig) -> dict[Sample, float]:
    """The flavor's requested resources, as gauge samples."""
    flavor = config.flavors[flavor_name]
    return {
        (REQ_CPU.name, ()): parse_cpu(flavor.cpu),
        (REQ_MEMORY.name, ()): float(parse_memory(flavor.memory)),
        (REQ_GPUS.name, ()): float(flavor.gpu.count if flavor.gpu else 0),
    }


def start_samples(key: JobKey) -> dict[Sample, float]:
    """The counter increments pushed when a try starts (its gauges are the requests)."""
    return {(STARTED.name, _labels(critical=_flag(key.critical))): 1.0}


def finish_samples(run: JobRun) -> tuple[dict[Sample, float], dict[Sample, float]]:
    """(counter and histogram increments, gauges) pushed when a try ends."""
    critical = _flag(run.key.critical)
    counts: dict[Sample, float] = {}
    # Every outcome is present (at 0 when it did not happen) so `increase()` sees the first one.
    for outcome in OUTCOMES:
        counts[(FINISHED.name, _labels(outcome=outcome, critical=critical))] = (
            1.0 if outcome == run.outcome else 0.0
        )
    counts.update(_histogram(DURATION, max(run.duration_seconds, 0.0), outcome=run.outcome))
    if run.capacity_wait_seconds is not None:
        counts.update(_histogram(CAPACITY_WAIT, max(run.capacity_wait_seconds, 0.0)))
    gauges: dict[Sample, float] = {
        (LAST_FAILED.name, _labels(critical=critical)): 0.0 if run.outcome == "success" else 1.0,
        (LAST_FINISH.name, ()): run.finished_at,
    }
    if run.peak_memory_bytes is not None:
        gauges[(PEAK_MEMORY.name, ())] = float(run.peak_memory_bytes)
    if run.cpu_seconds is not None:
        gauges[(CPU_USED.name, ())] = float(run.cpu_seconds)
        if run.duration_seconds > 0:
            gauges[(CPU_CORES.name, ())] = float(run.cpu_seconds) / run.duration_seconds
    return counts, gauges


def rejection_samples(reasons: Iterable[str]) -> dict[Sample, float]:
    """Counter increments for a try the guards refused, one per distinct reason."""
    return {(REJECTIONS.name, _labels(reason=r)): 1.0 for r in sorted(set(reasons))}


# ------------------------------------------------------------------ exposition


def _base_name(sample_name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix) and sample_name[: -len(suffix)] in _BY_NAME:
            return sample_name[: -len(suffix)]
    return sample_name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(samples: Mapping[Sample, float]) -> str:
    """The text exposition format of ``samples``, one family per metric with its HELP and TYPE."""
    families: dict[str, list[str]] = {}
    for (name, labels), value in sorted(samples.items()):
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
        line = f"{name}{{{text}}} {value!r}" if text else f"{name} {value!r}"
        families.setdefault(_base_name(name), []).append(line)
    out: list[str] = []
    for base in sorted(families):
        metric = _BY_NAME[base]
        out += [f"# HELP {base} {metric.help}", f"# TYPE {base} {metric.kind}", *families[base]]
    return "\n".join(out) + "\n"


def _group_counters(text: str, grouping: Mapping[str, str]) -> dict[Sample, float]:
    """This group's counter and histogram samples in a Pushgateway's /metrics text."""
    # Imported here: DAG parsing imports this module, and only a push needs the parser.
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"job": PUSH_JOB, **grouping}
    # The gateway serves every job's groups; parsing all of them on each push grows with the
    # number of jobs (0.6 s for 500), so only this group's lines (and the HELP/TYPE) are parsed.
    needles = [f'{k}="{_escape(v)}"' for k, v in wanted.items()]
    text = "\n".join(
        line
        for line in text.splitlines()
        if line.startswith("#") or all(needle in line for needle in needles)
    )
    found: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            base = _base_name(sample.name)
            metric = _BY_NAME.get(base)
            if metric is None or metric.kind == "gauge":
                continue
            if any(sample.labels.get(k) != v for k, v in wanted.items()):
                continue
            extra = {k: v for k, v in sample.labels.items() if k not in wanted and k != "instance"}
            found[(sample.name, tuple(sorted(extra.items())))] = float(sample.value)
    return found


# ------------------------------------------------------------------ push


def pushgateway_url() -> str | None:
    """``$AIRFLOW_PLATFORM_PUSHGATEWAY_URL`` without a trailing slash, or None when unset."""
    url = os.environ.get(PUSHGATEWAY_URL_ENV, "").strip().rstrip("/")
    return url or None


def push_timeout() -> float:
    """``$AIRFLOW_PLATFORM_PUSHGATEWAY_TIMEOUT`` in seconds (default 2)."""
    try:
        value = float(os.environ.get(PUSHGATEWAY_TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS))
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS
    return value if value > 0 else DEFAULT_TIMEOUT_SECONDS


def group_path(key: JobKey) -> str:
    """The Pushgateway path of the job's group."""
    parts = [f"job/{PUSH_JOB}"]
    for name, value in key.grouping().items():
        # base64 form ("@base64") would be needed for "/"; names here are DNS-1123, so no.
        parts.append(f"{name}/{quote(value, safe='')}")
    return "/metrics/" + "/".join(parts)


def _push_now(
    url: str,
    key: JobKey,
    counts: Mapping[Sample, float],
    gauges: Mapping[Sample, float],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=timeout) as client:
        current = client.get(f"{url}/metrics")
        current.raise_for_status()
        merged = _group_counters(current.text, key.grouping())
        for sample, value in counts.items():
            merged[sample] = merged.get(sample, 0.0) + value
        # POST replaces only the metric families it carries: the counters (merged above) and
        # this push's gauges; gauges of earlier pushes (e.g. peak memory) stay.
        body = exposition({**merged, **gauges})
        left = max(deadline - time.monotonic(), 0.05)
        response = client.post(f"{url}{group_path(key)}", content=body, timeout=left)
        response.raise_for_status()


def push(
    key: JobKey,
    counts: Mapping[Sample, float],
    gauges: Mapping[Sample, float] | None = None,
    *,
    url: str | None = None,
    timeout: float | None = None,
) -> bool:
    """Adds ``counts`` to the group's counters and sets ``gauges``; True when it was pushed.

    Never raises and never takes longer than ``timeout``: on any failure (refused, HTTP error,
    hanging server) it logs one warning, returns False, and later pushes of this process
    within ``DOWN_BACKOFF_SECONDS`` return False at once without a word.
    """
    global _down_until
    url = url or pushgateway_url()
    if not url or time.monotonic() < _down_until:
        return False
    timeout = timeout if timeout is not None else push_timeout()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _push_now(url, key, counts, gauges or {}, timeout)
        except Exception as exc:  # any failure is reported below, never raised
            errors.append(exc)

    thread = threading.Thread(target=work, name="pushgateway-push", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or errors:
        # One warning, then this process leaves the gateway alone for a while, so a task's
        # start and end pushes together cost one timeout, not two.
        _down_until = time.monotonic() + DOWN_BACKOFF_SECONDS
        why = errors[0] if errors else f"no answer within {timeout:.1f} s"
        log.warning("job metrics not pushed to Pushgateway %s: %s", url, why)
        return False
    return True


# ------------------------------------------------------------------ what the operator calls

USAGE_MARKER = "AIRFLOW_PLATFORM_USAGE"
_LOCAL_OUTCOMES = {"Completed": "success", "OOMKilled": "oom", "DeadlineExceeded": "timeout"}


def job_key(job: JobSpec, dag_id: str | None = None) -> JobKey:
    """The grouping key of ``job``'s metrics, as a task of DAG ``dag_id``."""
    return JobKey(job.team, job.resource_flavor, job.name, job.critical, dag_id)


def record_start(job: JobSpec, config: PlatformConfig, dag_id: str | None = None) -> bool:
    """Pushes ``jobs_started_total`` and the requested resources when a try starts."""
    key = job_key(job, dag_id)
    return push(key, start_samples(key), requested(job.resource_flavor, config))


def record_rejection(job: JobSpec, reasons: Iterable[str], dag_id: str | None = None) -> bool:
    """Pushes ``guard_rejections_total`` for a try the policy refused."""
    key = job_key(job, dag_id)
    return push(key, rejection_samples(reasons))


REJECTED_ADHOC = "adhoc-rejected"


def record_conf_rejection(
    data: Any, reasons: Sequence[str] = ("invalid_spec",), config: PlatformConfig | None = None
) -> bool:
    """Pushes ``guard_rejections_total`` for an ad-hoc run whose conf the guard refused, for
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
    key = JobKey(team, flavor, REJECTED_ADHOC)
    return push(key, rejection_samples(reasons))


def record_local_finish(job: JobSpec, result: LocalResult, dag_id: str | None = None) -> bool:
    """Pushes how a local run ended (its capacity wait is 0: a process starts at once)."""
    key = job_key(job, dag_id)
    counts, gauges = finish_samples(
        JobRun(
            key=key,
            outcome=_LOCAL_OUTCOMES.get(result.reason, "failed"),
            duration_seconds=result.duration_seconds,
            capacity_wait_seconds=0.0,
            peak_memory_bytes=result.peak_memory_bytes or None,  # 0: exited before a sample
            cpu_seconds=result.cpu_seconds,
        )
    )
    return push(key, counts, gauges)


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
) -> bool:
    """Pushes how a try on Kubernetes ended, from its final pod (see ``pod_run``)."""
    run = pod_run(job, pod, log_tail, dag_id=dag_id)
    counts, gauges = finish_samples(run)
    return push(run.key, counts, gauges)
