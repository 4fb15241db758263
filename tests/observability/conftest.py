"""Fixtures of the observability tests: the Airflow test environment (shared with
tests/airflow) and a clean push state for each test."""

from __future__ import annotations

import pytest

from airflow_platform.metrics import push as metrics
from tests.airflow.conftest import airflow_db, jobs_dir

__all__ = ["airflow_db", "jobs_dir"]


@pytest.fixture(autouse=True)
def fresh_push_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the Pushgateway considered up and no gateway configured."""
    monkeypatch.setattr(metrics, "_down_until", 0.0)
    monkeypatch.delenv(metrics.PUSHGATEWAY_URL_ENV, raising=False)
    monkeypatch.delenv(metrics.PUSHGATEWAY_TIMEOUT_ENV, raising=False)
