"""The DAG factory inside real Airflow 3.3 builds a pipeline of platform task types
(jobs/analytics/trips-extract.yaml): the typed task is a guarded JobOperator running its type's
image and command, and the pipeline runs through Airflow against a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from airflow_platform.tasktypes.calls import PARAMETERS_FLAG
from tests.harness.postgres import Postgres

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "dags" / "platform_jobs.py"


def _dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    errors = DagBag(dag_folder=str(ENTRY.parent / "platform_spec_errors.py")).import_errors
    assert not errors, errors
    return DagBag(dag_folder=str(ENTRY)).dags["trips-extract"]


def test_the_factory_builds_a_typed_task_as_a_job_operator_running_its_type(
    airflow_db: Path,
) -> None:
    from airflow_platform.config import load_config
    from airflow_platform.operators.job import JobOperator

    extract = _dag().get_task("load.extract")
    assert isinstance(extract, JobOperator)
    job = extract._job
    pg_to_csv = load_config().task_types["pg_to_csv"]
    assert job.docker_image == pg_to_csv.image
    assert job.execution_script[:4] == [*pg_to_csv.command, PARAMETERS_FLAG]
    assert json.loads(job.execution_script[4])["columns"] == ["trip_id", "pickup_zone", "fare"]
    assert [ref.env for ref in job.secrets] == ["DATABASE_URL"]
    assert _dag().get_task("report.summarise").upstream_task_ids == {"load.extract"}


def test_the_trips_extract_pipeline_runs_through_airflow_against_postgres(
    airflow_db: Path, postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = psycopg2.connect(postgres.url())
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS airflow_trips")
        cursor.execute("CREATE DATABASE airflow_trips")
    admin.close()
    url = postgres.url("airflow_trips")
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE trips (trip_id int, pickup_zone text, fare numeric)")
        cursor.execute("INSERT INTO trips VALUES (1, 'Midtown', 10), (2, 'Harlem', 5)")
    monkeypatch.setenv("DATABASE_URL", url)  # the local runner reads secret refs from here
    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    run = _dag().test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    folder = tmp_path / "artifacts" / "trips-extract" / run.run_id
    summary = json.loads((folder / "summarise" / "1" / "result.json").read_text())
    assert summary == {"trips": 2, "mean_fare": 7.5}
