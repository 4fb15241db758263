"""Airflow's StatsD metrics through the chart's mapping file and a real statsd-exporter.

The lines sent are what Airflow 3.3 emits with `[metrics] statsd_prefix = airflow`; the test
checks that the names the alert rules query come out of the exporter.
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
    "airflow.ti_failures:1|c",
    "airflow.ti.finish.strain-normalization.model.fit_model.success:1|c",
]
EXPECTED = {
    "airflow_scheduler_heartbeat_total": None,
    "airflow_triggerer_heartbeat_total": None,
    "airflow_dag_processor_heartbeat_total": None,
    "airflow_dag_processing_import_errors": 2.0,
    "airflow_task_failures_total": 1.0,
}


def _scrape(url: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_airflow_statsd_metrics_come_out_under_the_names_the_alerts_use(tmp_path: Path) -> None:
    """Heartbeats, import errors and task failures are mapped to the rules' metric names."""
    with (
        statsd_exporter(tmp_path, MAPPING) as (server, udp_port),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        for line in STATSD_LINES:
            sock.sendto(line.encode(), ("127.0.0.1", udp_port))
        deadline = time.monotonic() + 10
        scraped = _scrape(server.url)
        while not set(EXPECTED) <= set(scraped) and time.monotonic() < deadline:
            time.sleep(0.2)
            scraped = _scrape(server.url)
    for name, value in EXPECTED.items():
        assert name in scraped, f"{name} missing; exporter gave {sorted(scraped)[:40]}"
        if value is not None:
            assert scraped[name] == value
    finished = 'airflow_task_finished_total{dag_id="strain-normalization",state="success",task_id="model.fit_model"}'
    assert scraped.get(finished) == 1.0, sorted(k for k in scraped if "finished" in k)
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
