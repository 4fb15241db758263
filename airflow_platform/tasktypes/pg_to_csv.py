"""The ``pg_to_csv`` task type: a PostgreSQL table or query extracted to a CSV file.

Runs in a read-only transaction and streams the rows with ``COPY ... TO STDOUT`` into
``$AIRFLOW_PLATFORM_OUTPUT_DIR/<output>``, with the ``columns`` as its header. Table and column
names are quoted as identifiers; a ``query`` is the scientist's own SQL, run as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import psycopg2
from psycopg2 import sql

from airflow_platform.tasktypes.program import TaskTypeError, dsn, output_file, run


def copy_statement(params: dict[str, Any]) -> sql.Composed:
    """The ``COPY`` that writes the extract as CSV with a header."""
    table, query = params.get("table"), params.get("query")
    if (table is None) == (query is None):
        raise TaskTypeError("give exactly one of `table` and `query`")
    columns = params.get("columns") or []
    if not columns:
        raise TaskTypeError("`columns` is empty: name the columns to extract")
    picked = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    if table is not None:
        source: sql.Composable = sql.Identifier(*str(table).split(".", 1))
    else:
        source = sql.SQL("({}) AS source").format(sql.SQL(str(query)))
    select = sql.SQL("SELECT {} FROM {}").format(picked, source)
    return sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(select)


def extract(params: dict[str, Any]) -> int:
    """Writes the CSV; the number of rows written."""
    target = output_file(str(params.get("output", "data.csv")))
    with psycopg2.connect(dsn(str(params.get("dsn_env", "DATABASE_URL")))) as connection:
        connection.set_session(readonly=True)
        with connection.cursor() as cursor, target.open("w", encoding="utf-8") as out:
            cursor.copy_expert(copy_statement(params).as_string(connection), out)
            rows = int(cursor.rowcount)
    connection.close()
    print(f"pg_to_csv: wrote {rows} rows to {target.name}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    return run("pg_to_csv", extract, argv, (psycopg2.Error,))


if __name__ == "__main__":
    sys.exit(main())
