"""`airflow-platform usage` against a real Prometheus holding the cAdvisor and kube-state-metrics
series of finished job pods: it recommends the smallest flavor the team may use that fits the
peak use with the safety margin.

Stand-in, at the narrowest boundary: the series are the ones cAdvisor and kube-state-metrics
expose (names and labels as tests/node/test_pod_metrics.py sees them on the real node), pushed
to a real Pushgateway that Prometheus scrapes, so that many jobs of many flavors (GPU ones
included, which no node here can run) are measured in seconds. The real-node test runs the
same command on what the real kubelet and kube-state-metrics reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airflow_platform.metrics.catalogue import JOB_CONTAINER
from tests.observability.servers import Server, prometheus, pushgateway, query, wait_for

pytestmark = [pytest.mark.observability]
GiB = 2**30
CLI = str(Path(sys.executable).parent / "airflow-platform")

# (team, job, flavor, peak memory per try, average cores) -> expected (recommendation, verdict)
RUNS = [
    ("nlp", "tokenize", "cpu-16gb", [1.0 * GiB, 1.5 * GiB], 0.5, ("cpu-2gb", "smaller")),
    ("analytics", "tight", "cpu-4gb", [3.8 * GiB], 1.0, ("cpu-16gb", "bigger")),
    ("analytics", "crunch", "cpu-2gb", [1.0 * GiB], 3.5, (None, "no_fit")),
    ("nlp", "finetune", "gpu-1x-24gb", [30 * GiB], 6.0, ("gpu-1x-24gb", "keep")),
    ("vision", "render", "cpu-4gb", [None], 1.0, (None, "no_data")),
]


def _pod_series(
    team: str, job: str, flavor: str, try_: int, peak: float | None, cores: float
) -> str:
    """The exposition text of one finished job pod: its labels (kube-state-metrics), start and
    completion 100 s apart, and its job container's peak memory and CPU seconds (cAdvisor)."""
    pod = f'namespace="airflow-jobs-{team}",pod="{job}-{try_}"'
    labels = (
        f'label_airflow_platform_team="{team}",label_airflow_platform_job="{job}",'
        f'label_airflow_platform_flavor="{flavor}"'
    )
    lines = [
        f"kube_pod_labels{{{pod},{labels}}} 1",
        f"kube_pod_start_time{{{pod}}} 1000",
        f"kube_pod_completion_time{{{pod}}} 1100",
    ]
    if peak is not None:
        container = f'{pod},container="{JOB_CONTAINER}"'
        lines += [
            f"container_memory_max_usage_bytes{{{container}}} {peak:.0f}",
            f"container_cpu_usage_seconds_total{{{container}}} {cores * 100}",
            # The pod's sandbox and the pod cgroup itself, which usage must not count.
            f'container_memory_max_usage_bytes{{{pod},container="POD"}} {64 * GiB}',
            f'container_memory_max_usage_bytes{{{pod},container=""}} {64 * GiB}',
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A Pushgateway and a Prometheus scraping it every second, holding the pods of RUNS."""
    root = tmp_path_factory.mktemp("usage")
    with pushgateway(root / "pgw") as gateway, prometheus(root / "prom", gateway.url) as prom:
        pods = 0
        for team, job, flavor, peaks, cores, _ in RUNS:
            for n, peak in enumerate(peaks, start=1):
                body = _pod_series(team, job, flavor, n, peak, cores)
                response = httpx.put(
                    f"{gateway.url}/metrics/job/standin/pod/{job}-{n}", content=body, timeout=5
                )
                response.raise_for_status()
                pods += 1
        wait_for(prom, f"count(kube_pod_labels) == {pods}")
        yield prom


def _usage(prom: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "usage", "--prometheus", prom.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},  # a wide terminal: rich wraps at 80 in a pipe
    )


def test_usage_recommends_the_smallest_fitting_flavor_per_job(recorded: Server) -> None:
    """JSON output: for each job the requested flavor, the highest peak over its tries, CPU
    used, and the smallest allowed flavor with 20 % headroom (or why there is none)."""
    assert query(recorded, "container_memory_max_usage_bytes")
    result = _usage(recorded, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = {r["job_name"]: r for r in json.loads(result.stdout)}
    for team, job, flavor, peaks, cores, (recommended, verdict) in RUNS:
        row = rows[job]
        assert (row["team"], row["flavor"]) == (team, flavor)
        assert (row["recommended_flavor"], row["verdict"]) == (recommended, verdict), row
        if peaks[0] is not None:
            assert row["peak_memory_bytes"] == int(max(p for p in peaks if p is not None))
            assert row["cpu_cores"] == pytest.approx(cores)
    assert rows["tokenize"]["requested_memory_bytes"] == 16 * GiB


def test_usage_prints_a_table_for_people(recorded: Server) -> None:
    """Text output is a table with a row per job and its advice."""
    result = _usage(recorded)
    assert result.returncode == 0, result.stderr
    assert "tokenize" in result.stdout
    assert "cpu-2gb" in result.stdout
    assert "smaller" in result.stdout


def test_a_smaller_margin_lets_a_tight_job_keep_its_flavor(recorded: Server) -> None:
    """With a 5 % margin the 3.8 GiB job fits its 4 GiB flavor."""
    rows = {
        r["job_name"]: r
        for r in json.loads(_usage(recorded, "--margin", "0.05", "--format", "json").stdout)
    }
    assert (rows["tight"]["recommended_flavor"], rows["tight"]["verdict"]) == ("cpu-4gb", "keep")


def test_usage_without_a_reachable_prometheus_says_so() -> None:
    """An unreachable Prometheus is exit 1 with the URL named; no URL at all is exit 2."""
    from tests.observability.servers import free_port

    down = subprocess.run(
        [CLI, "usage", "--prometheus", f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert down.returncode == 1
    assert "cannot reach Prometheus" in down.stderr
    missing = subprocess.run(
        [CLI, "usage"], capture_output=True, text=True, timeout=60, check=False, env={"PATH": ""}
    )
    assert missing.returncode == 2
