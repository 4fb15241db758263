"""The ``pg_execute`` task type: one SQL statement run in PostgreSQL, in one transaction
(committed when it succeeds, rolled back when it fails)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import psycopg2

from airflow_platform.tasktypes.program import TaskTypeError, dsn, run


def execute(params: dict[str, Any]) -> int:
    """Runs the statement; the number of rows it touched (-1 when PostgreSQL does not say)."""
    statement = str(params.get("statement", "")).strip()
    if not statement:
        raise TaskTypeError("`statement` is empty: give the SQL to run")
    connection = psycopg2.connect(dsn(str(params.get("dsn_env", "DATABASE_URL"))))
    with connection, connection.cursor() as cursor:  # commits on success, else rolls back
        cursor.execute(statement)
        rows = cursor.rowcount
    connection.close()
    print(f"pg_execute: {rows} rows")
    return int(rows)


def main(argv: Sequence[str] | None = None) -> int:
    return run("pg_execute", execute, argv, (psycopg2.Error,))


if __name__ == "__main__":
    sys.exit(main())
