"""The packaged task types' programs (pg_to_csv, pg_execute) against a real PostgreSQL 15,
and the trips-extract example (jobs/analytics/trips-extract.yaml) run with `run --local`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from typer.testing import CliRunner

from airflow_platform.cli import app
from tests.harness.postgres import Postgres

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[2]
TRIPS = [(1, "Midtown", "12.50"), (2, "Harlem", "7.25"), (3, "SoHo, West", "20.00")]


@pytest.fixture(scope="module")
def trips_db(postgres: Postgres) -> str:
    """A `trips` database with three trips (one zone has a comma, to prove CSV quoting)."""
    admin = psycopg2.connect(postgres.url())
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS trips")
        cursor.execute("CREATE DATABASE trips")
    admin.close()
    url = postgres.url("trips")
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE trips (trip_id int PRIMARY KEY, pickup_zone text, fare numeric(8,2), "
            "driver_phone text)"
        )
        cursor.executemany("INSERT INTO trips VALUES (%s, %s, %s, '555-0100')", TRIPS)
        cursor.execute("CREATE SEQUENCE batch")
    return url


def _run(program: str, parameters: dict[str, Any], env: dict[str, str], out: Path) -> Any:
    command = [sys.executable, "-m", f"airflow_platform.tasktypes.{program}",
               "--parameters", json.dumps(parameters)]  # fmt: skip
    return subprocess.run(
        command, env={**env, "AIRFLOW_PLATFORM_OUTPUT_DIR": str(out)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_pg_to_csv_writes_the_named_columns_of_a_table_with_a_header(
    trips_db: str, tmp_path: Path
) -> None:
    done = _run("pg_to_csv", {"table": "trips", "columns": ["trip_id", "pickup_zone", "fare"],
                              "output": "trips.csv", "dsn_env": "DB"}, {"DB": trips_db}, tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote 3 rows to trips.csv" in done.stdout
    with (tmp_path / "trips.csv").open(newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [["trip_id", "pickup_zone", "fare"], *([str(a), b, c] for a, b, c in TRIPS)]


def test_pg_to_csv_extracts_a_query_in_a_read_only_transaction(
    trips_db: str, tmp_path: Path
) -> None:
    query = {"query": "SELECT trip_id, fare FROM trips WHERE fare > 10", "columns": ["fare"],
             "output": "big.csv", "dsn_env": "DB"}  # fmt: skip
    done = _run("pg_to_csv", query, {"DB": trips_db}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "big.csv").read_text().splitlines() == ["fare", "12.50", "20.00"]
    # A query that would change the database (advance a sequence) is refused.
    write = {**query, "query": "SELECT nextval('batch') AS fare"}
    refused = _run("pg_to_csv", write, {"DB": trips_db}, tmp_path)
    assert refused.returncode == 1
    assert "cannot execute nextval() in a read-only transaction" in refused.stderr
    with psycopg2.connect(trips_db) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT nextval('batch')")
        assert cursor.fetchone() == (1,)


def test_pg_to_csv_names_an_unknown_column_and_a_missing_connection(
    trips_db: str, tmp_path: Path
) -> None:
    bad = _run("pg_to_csv", {"table": "trips", "columns": ["fair"], "dsn_env": "DB"},
               {"DB": trips_db}, tmp_path)  # fmt: skip
    assert bad.returncode == 1
    assert 'column "fair" does not exist' in bad.stderr
    unset = _run(
        "pg_to_csv", {"table": "trips", "columns": ["fare"], "dsn_env": "DB"}, {}, tmp_path
    )
    assert unset.returncode == 1
    assert "$DB is not set: reference the Secret holding the database URL" in unset.stderr


def test_pg_execute_commits_one_statement_and_rolls_back_a_failing_one(
    trips_db: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": trips_db}
    done = _run("pg_execute", {"statement": "UPDATE trips SET driver_phone = NULL"}, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pg_execute: 3 rows" in done.stdout
    failing = "UPDATE trips SET fare = fare / 0"
    assert _run("pg_execute", {"statement": failing}, env, tmp_path).returncode == 1
    with psycopg2.connect(trips_db) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(driver_phone), sum(fare) FROM trips")
        assert cursor.fetchone() == (0, sum(float(f) for *_, f in TRIPS))


def test_the_trips_extract_example_runs_locally_against_postgres(
    trips_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `run --local` takes a secret reference's value from this machine's environment.
    monkeypatch.setenv("DATABASE_URL", trips_db)
    spec = REPO / "jobs" / "analytics" / "trips-extract.yaml"
    result = CliRunner().invoke(
        app, ["run", "--local", str(spec), "--artifacts", str(tmp_path), "--run-id", "r1"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "trips-extract" / "r1"
    header = (run / "extract" / "1" / "trips.csv").read_text().splitlines()[0]
    assert header == "trip_id,pickup_zone,fare"
    summary = json.loads((run / "summarise" / "1" / "result.json").read_text())
    assert summary == {"trips": 3, "mean_fare": 13.25}
