"""Right-sizing: what each job requested against what it used, and the flavor that fits.

Reads what Kubernetes itself measured, for any image (no wrapper in the job needed), from
Prometheus' HTTP API over a window (default 30 days):

- peak memory: cAdvisor's ``container_memory_max_usage_bytes`` of the job container (cgroup
  v1 ``memory.max_usage_in_bytes``, v2 ``memory.peak``);
- CPU: cAdvisor's ``container_cpu_usage_seconds_total`` of the job container at its end, over
  the pod's run time from kube-state-metrics (``kube_pod_completion_time`` less
  ``kube_pod_start_time``): the average cores of a try;
- whose pod it was: kube-state-metrics' ``kube_pod_labels`` with the platform's team, job and
  flavor labels (they must be in its ``--metric-labels-allowlist``, docs/observability.md).

Per job: the highest peak memory and the highest average CPU cores of its tries. The
recommended flavor is the smallest one that

- the job's team may use (``teams`` of the flavor),
- is of the same kind (a GPU job keeps at least its GPUs, a CPU job stays on CPU flavors:
  GPU use is not measured),
- gives at least peak memory × (1 + margin) and average cores × (1 + margin).

"Smallest" orders by memory, then CPU, then GPUs. A job whose pods Prometheus saw but whose
container it never sampled (it ended within one cAdvisor housekeeping interval, about 10 s)
is listed without a recommendation.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from airflow_platform.config import Flavor, PlatformConfig, parse_cpu, parse_memory
from airflow_platform.metrics.catalogue import (
    CONTAINER_CPU,
    CONTAINER_MEMORY_PEAK,
    JOB_CONTAINER,
    KSM_COMPLETION_TIME,
    KSM_POD_LABELS_SERIES,
    KSM_START_TIME,
    POD_LABEL_KEYS,
    ksm_label,
)

PROMETHEUS_URL_ENV = "AIRFLOW_PLATFORM_PROMETHEUS_URL"
DEFAULT_MARGIN = 0.2
DEFAULT_WINDOW = "30d"


class UsageError(RuntimeError):
    """Prometheus could not be asked, or answered with an error; the message says which."""


@dataclass(frozen=True, slots=True)
class JobUsage:
    """One job's request, its measured use, and the advice."""

    team: str
    job_name: str
    flavor: str
    requested_memory_bytes: int | None
    requested_cpu_cores: float | None
    peak_memory_bytes: int | None
    cpu_seconds: float | None
    cpu_cores: float | None
    recommended_flavor: str | None
    verdict: str  # keep, smaller, bigger, no_fit, no_data, unknown_flavor

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _query(client: httpx.Client, base: str, expr: str) -> dict[tuple[str, str, str], float]:
    try:
        response = client.get(f"{base}/api/v1/query", params={"query": expr})
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach Prometheus at {base}: {exc}") from None
    if response.status_code != 200:
        raise UsageError(
            f"Prometheus at {base} answered {response.status_code}: {response.text[:300]}"
        )
    body = response.json()
    if body.get("status") != "success":
        raise UsageError(f"Prometheus query failed: {body.get('error', body)}")
    out: dict[tuple[str, str, str], float] = {}
    for sample in body["data"]["result"]:
        labels = sample["metric"]
        key = (labels.get("team", ""), labels.get("job_name", ""), labels.get("flavor", ""))
        out[key] = float(sample["value"][1])
    return out


_JOB_LABELS = {"team": "team", "job_name": "job", "flavor": "flavor"}


def _job_pods(window: str) -> str:
    """One series per job pod seen in ``window``: (namespace, pod) with team, job_name and
    flavor copied from the pod's labels."""
    sources = {name: ksm_label(POD_LABEL_KEYS[key]) for name, key in _JOB_LABELS.items()}
    expr = (
        f"max by (namespace, pod, {', '.join(sources.values())}) "
        f'(max_over_time({KSM_POD_LABELS_SERIES}{{{sources["team"]}!=""}}[{window}]))'
    )
    for name, source in sources.items():
        expr = f'label_replace({expr}, "{name}", "$1", "{source}", "(.*)")'
    return expr


def _per_job(per_pod: str, window: str) -> str:
    """The highest of ``per_pod`` (a vector by namespace and pod) per team, job and flavor."""
    return (
        f"max by (team, job_name, flavor) ({per_pod} "
        f"* on (namespace, pod) group_left (team, job_name, flavor) {_job_pods(window)})"
    )


def _container_max(metric: str, window: str) -> str:
    return (
        f"max by (namespace, pod) "
        f'(max_over_time({metric}{{container="{JOB_CONTAINER}"}}[{window}]))'
    )


def _pod_max(metric: str, window: str) -> str:
    return f"max by (namespace, pod) (max_over_time({metric}[{window}]))"


def usage_queries(window: str) -> dict[str, str]:
    """The PromQL of each measured quantity, per team, job and flavor (docs/observability.md
    shows them)."""
    cpu_seconds = _container_max(CONTAINER_CPU, window)
    run_time = f"({_pod_max(KSM_COMPLETION_TIME, window)} - {_pod_max(KSM_START_TIME, window)})"
    return {
        "peak": _per_job(_container_max(CONTAINER_MEMORY_PEAK, window), window),
        "cpu_seconds": _per_job(cpu_seconds, window),
        "cores": _per_job(f"({cpu_seconds} / {run_time})", window),
    }


def fetch_usage(
    prometheus: str, window: str = DEFAULT_WINDOW, timeout: float = 10.0
) -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (team, job, flavor): the peak memory, CPU seconds and cores seen over ``window``."""
    base = prometheus.rstrip("/")
    found: dict[tuple[str, str, str], dict[str, float]] = {}
    with httpx.Client(timeout=timeout) as client:
        # Every job whose pod existed in the window, measured or not.
        jobs = f"max by (team, job_name, flavor) ({_job_pods(window)})"
        for key in _query(client, base, jobs):
            found.setdefault(key, {})
        for field, expr in usage_queries(window).items():
            for key, value in _query(client, base, expr).items():
                found.setdefault(key, {})[field] = value
    return found


def _size(flavor: Flavor) -> tuple[int, float, int]:
    return parse_memory(flavor.memory), parse_cpu(flavor.cpu), flavor.gpu.count if flavor.gpu else 0


def smallest_fitting(
    team: str,
    current: Flavor,
    config: PlatformConfig,
    peak_memory: float,
    cores: float,
    margin: float = DEFAULT_MARGIN,
) -> str | None:
    """The smallest flavor ``team`` may use that fits the use plus the margin, or None."""
    gpus = current.gpu.count if current.gpu else 0
    options = []
    for name, flavor in config.flavors.items():
        memory, cpu, flavor_gpus = _size(flavor)
        if not flavor.usable_by(team):
            continue
        if (gpus == 0) != (flavor_gpus == 0) or flavor_gpus < gpus:
            continue
        if memory >= peak_memory * (1 + margin) and cpu >= cores * (1 + margin):
            options.append(((memory, cpu, flavor_gpus), name))
    return min(options)[1] if options else None


def recommend(
    found: dict[tuple[str, str, str], dict[str, float]],
    config: PlatformConfig,
    margin: float = DEFAULT_MARGIN,
) -> list[JobUsage]:
    """One row per job and flavor it ran with, sorted by team and job."""
    rows: list[JobUsage] = []
    for (team, job_name, flavor_name), used in sorted(found.items()):
        flavor = config.flavors.get(flavor_name)
        peak = used.get("peak")
        cores = used.get("cores", 0.0)
        recommended: str | None = None
        if flavor is None:
            verdict = "unknown_flavor"
        elif peak is None:
            verdict = "no_data"
        else:
            recommended = smallest_fitting(team, flavor, config, peak, cores, margin)
            if recommended is None:
                verdict = "no_fit"
            elif recommended == flavor_name:
                verdict = "keep"
            else:
                verdict = (
                    "smaller" if _size(config.flavors[recommended]) < _size(flavor) else "bigger"
                )
        rows.append(
            JobUsage(
                team=team,
                job_name=job_name,
                flavor=flavor_name,
                requested_memory_bytes=parse_memory(flavor.memory) if flavor else None,
                requested_cpu_cores=parse_cpu(flavor.cpu) if flavor else None,
                peak_memory_bytes=int(peak) if peak is not None else None,
                cpu_seconds=used.get("cpu_seconds"),
                cpu_cores=used.get("cores"),
                recommended_flavor=recommended,
                verdict=verdict,
            )
        )
    return rows


def prometheus_url(option: str | None) -> str | None:
    """``--prometheus``, else ``$AIRFLOW_PLATFORM_PROMETHEUS_URL``."""
    return option or os.environ.get(PROMETHEUS_URL_ENV) or None
