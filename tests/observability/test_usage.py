"""`airflow-platform usage` against a real Prometheus that scraped job metrics from a real
Pushgateway: it recommends the smallest flavor the team may use that fits the peak use with
the safety margin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_platform.metrics import push as metrics
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


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A Pushgateway and a Prometheus scraping it every second, holding the RUNS above: each
    try pushed through the operator's own push code, each scraped before the next."""
    root = tmp_path_factory.mktemp("usage")
    with pushgateway(root / "pgw") as gateway, prometheus(root / "prom", gateway.url) as prom:
        for team, job, flavor, peaks, cores, _ in RUNS:
            key = metrics.JobKey(team, flavor, job)
            for n, peak in enumerate(peaks, start=1):
                run = metrics.JobRun(
                    key,
                    "success",
                    duration_seconds=100.0,
                    capacity_wait_seconds=1.0,
                    peak_memory_bytes=int(peak) if peak is not None else None,
                    cpu_seconds=cores * 100.0 if peak is not None else None,
                )
                counts, gauges = metrics.finish_samples(run)
                assert metrics.push(key, counts, gauges, url=gateway.url, timeout=5)
                wait_for(
                    prom,
                    "airflow_platform_jobs_finished_total"
                    f'{{job_name="{job}",outcome="success"}} == {n}',
                )
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
    assert query(recorded, "airflow_platform_job_peak_memory_bytes")
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
