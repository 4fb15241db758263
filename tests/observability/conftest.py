"""Fixtures of the observability tests: the Airflow test environment (shared with
tests/airflow), a StatsD client made afresh for each test, and the metrics path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_platform.metrics import emit
from tests.airflow.conftest import airflow_db, jobs_dir
from tests.observability.servers import Server, job_metrics

__all__ = ["airflow_db", "jobs_dir"]


@pytest.fixture(autouse=True)
def fresh_stats_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's `[metrics]` settings (set in its environment) make the client it uses."""
    monkeypatch.setattr(emit, "_client", None)
    monkeypatch.setattr(emit, "_off", False)


def _init_airflow_stats() -> None:
    """What a real task process does first (task_runner.main): Airflow's own StatsD client
    from `[metrics]`, which `dag.test()` alone leaves unset."""
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

    stats.initialize(factory=get_stats_factory(), export_legacy_names=True)


@pytest.fixture
def metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """Prometheus behind the chart's statsd-exporter, with this process's StatsD aimed at it."""
    with job_metrics(tmp_path) as (prom, env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _init_airflow_stats()
        yield prom
    monkeypatch.undo()
    _init_airflow_stats()  # StatsD off again for the tests that follow
