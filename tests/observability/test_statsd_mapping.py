"""Airflow's StatsD metrics through the chart's mapping file and a real statsd-exporter.

The lines sent are what Airflow 3.3 emits with `[metrics] statsd_prefix = airflow` and
`statsd_influxdb_enabled = True`; the test checks that the names the alert rules query come out
of the exporter, and that every platform metric of the catalogue is mapped as it defines it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.observability.servers import statsd_exporter

pytestmark = pytest.mark.observability
ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "charts" / "airflow-platform" / "files" / "statsd-mapping.yaml"
RULES = ROOT / "charts" / "airflow-platform" / "files" / "alerts.rules.yaml"

STATSD_LINES = [
    "airflow.scheduler_heartbeat:1|c",
    "airflow.triggerer_heartbeat:1|c",
    "airflow.dag_processor_heartbeat:1|c",
    "airflow.dag_processing.import_errors:2|g",
    "airflow.ti_failures,dag_id=strain-normalization,task_id=model.fit_model:1|c",
    "airflow.ti.finish,dag_id=strain-normalization,task_id=model.fit_model,state=success:1|c",
    # The legacy twin of the line above, which the mapping drops: it would count the try twice.
    "airflow.ti.finish.strain-normalization.model__fit_model.success:1|c",
    "airflow.dag.strain-normalization.model__fit_model.duration:1500|ms",
    # Last, so that once it is scraped every line before it has been handled.
    "airflow.task.duration,dag_id=strain-normalization,task_id=model.fit_model:1500|ms",
]
TASK = 'dag_id="strain-normalization",task_id="model.fit_model"'
FINISHED = 'airflow_task_finished_total{dag_id="strain-normalization",state="success",task_id="model.fit_model"}'
DURATION = f'airflow_task_duration_seconds_bucket{{{TASK},le="10"}}'
EXPECTED = {
    "airflow_scheduler_heartbeat_total": None,
    "airflow_triggerer_heartbeat_total": None,
    "airflow_dag_processor_heartbeat_total": None,
    "airflow_dag_processing_import_errors": 2.0,
}


def _scrape(url: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_airflow_statsd_metrics_come_out_under_the_names_the_alerts_use(tmp_path: Path) -> None:
    """Heartbeats, import errors and task outcomes are mapped to the rules' metric names;
    a task's tags become labels, and the legacy names that spell the task out are dropped."""
    with (
        statsd_exporter(tmp_path, MAPPING) as (server, udp_port),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        for line in STATSD_LINES:
            sock.sendto(line.encode(), ("127.0.0.1", udp_port))
        deadline = time.monotonic() + 10
        scraped = _scrape(server.url)
        while not {*EXPECTED, DURATION} <= set(scraped) and time.monotonic() < deadline:
            time.sleep(0.2)
            scraped = _scrape(server.url)
    for name, value in EXPECTED.items():
        assert name in scraped, f"{name} missing; exporter gave {sorted(scraped)[:40]}"
        if value is not None:
            assert scraped[name] == value
    assert scraped.get(FINISHED) == 1.0, sorted(k for k in scraped if "finished" in k)
    assert scraped.get(f"airflow_task_failures_total{{{TASK}}}") == 1.0
    assert scraped.get(DURATION) == 1.0
    assert not [k for k in scraped if "fit_model" in k.split("{")[0]], "a legacy name got through"
    rules = RULES.read_text()
    for name in ("airflow_scheduler_heartbeat_total", "airflow_dag_processing_import_errors"):
        assert name in rules, f"the alert rules no longer use {name}; update this test"


def test_airflow_s_own_statsd_client_reaches_the_exporter(tmp_path: Path) -> None:
    """Airflow's `Stats`, configured as the chart configures it (`[metrics] statsd_on`, host,
    port, prefix), sends through the installed `statsd` client: without that package Airflow
    quietly falls back to sending nothing."""
    with statsd_exporter(tmp_path, MAPPING) as (server, udp_port):
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(udp_port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        }
        emit = (
            "from airflow.stats import Stats\n"
            "Stats.incr('scheduler_heartbeat', 1, 1)\n"
            "Stats.gauge('dag_processing.import_errors', 3)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", emit], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        deadline = time.monotonic() + 10
        scraped = _scrape(server.url)
        while "airflow_dag_processing_import_errors" not in scraped and time.monotonic() < deadline:
            time.sleep(0.2)
            scraped = _scrape(server.url)
    assert scraped.get("airflow_dag_processing_import_errors") == 3.0, (
        done.stderr[-2000:],
        sorted(scraped)[:40],
    )
    assert scraped.get("airflow_scheduler_heartbeat_total") == 1.0


def test_every_platform_metric_is_mapped_as_the_catalogue_defines_it() -> None:
    """Each catalogue metric's stat is matched by exactly one mapping, which names it, and a
    histogram gets the catalogue's buckets."""
    from airflow_platform.metrics.catalogue import METRICS, STATSD_PREFIX

    mappings = yaml.safe_load(MAPPING.read_text())["mappings"]
    for metric in METRICS:
        found = [m for m in mappings if m["match"] == f"{STATSD_PREFIX}.{metric.stat}"]
        assert len(found) == 1, metric.stat
        assert found[0]["name"] == metric.name
        if metric.kind == "histogram":
            assert found[0]["observer_type"] == "histogram"
            assert found[0]["histogram_options"]["buckets"] == list(metric.buckets)
        else:
            assert "observer_type" not in found[0], metric.name
