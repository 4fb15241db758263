"""Step invalidate_prior_data: records this run's calls and supersedes the earlier runs' calls.

The calls database is SQLite at ``$CALLS_DB`` (param ``calls_db``), else
``$XDG_STATE_HOME/airflow-platform/strain-normalization/calls.sqlite`` (``~/.local/state`` when
unset). On the cluster, point it at a persistent volume: a pod's own disk ends with the pod.

Tables: ``runs`` (one row per run: date, number of calls, thresholds, ``superseded_by``) and
``calls`` (one row per called strain of a run, ``superseded_by``). In one transaction this step
replaces the rows of this run id (a retry writes the same rows again), then marks every run of
the same or an earlier date that is still current — and its calls — superseded by this run. A
backfill of an older date is itself superseded at once by the newest current run.
Writes ``invalidated.json``: what was superseded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from norm.steps import StepError, output_dir, param_text, run_date, run_id, run_step, upstream

TASK = "invalidate_prior_data"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    run_date TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    improved INTEGER NOT NULL,
    min_improvement REAL NOT NULL,
    fdr REAL NOT NULL,
    superseded_by TEXT REFERENCES runs(run_id)
);
CREATE TABLE IF NOT EXISTS calls (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    strain TEXT NOT NULL,
    probability REAL NOT NULL,
    effect REAL NOT NULL,
    superseded_by TEXT REFERENCES runs(run_id),
    PRIMARY KEY (run_id, strain)
);
"""


def default_db() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "airflow-platform" / "strain-normalization" / "calls.sqlite"


def record(
    db: Path, this_run: str, date: str, improved: pd.DataFrame, min_improvement: float, fdr: float
) -> dict[str, object]:
    """Writes the run and its calls, supersedes the earlier ones; returns what it changed."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.executescript(SCHEMA)
        conn.execute("DELETE FROM calls WHERE run_id = ?", (this_run,))
        conn.execute("DELETE FROM runs WHERE run_id = ?", (this_run,))
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (this_run, date, datetime.now(UTC).isoformat(), len(improved), min_improvement, fdr),
        )
        conn.executemany(
            "INSERT INTO calls VALUES (?, ?, ?, ?, NULL)",
            [
                (this_run, str(r.strain), float(r.probability), float(r.effect))
                for r in improved.itertuples()
            ],
        )
        older = [
            row[0]
            for row in conn.execute(
                "SELECT run_id FROM runs WHERE superseded_by IS NULL AND run_id != ? "
                "AND run_date <= ?",
                (this_run, date),
            )
        ]
        calls_superseded = 0
        for old in older:
            conn.execute("UPDATE runs SET superseded_by = ? WHERE run_id = ?", (this_run, old))
            calls_superseded += conn.execute(
                "UPDATE calls SET superseded_by = ? WHERE run_id = ? AND superseded_by IS NULL",
                (this_run, old),
            ).rowcount
        newer = conn.execute(
            "SELECT run_id FROM runs WHERE superseded_by IS NULL AND run_date > ? "
            "ORDER BY run_date DESC LIMIT 1",
            (date,),
        ).fetchone()
        if newer:
            conn.execute("UPDATE runs SET superseded_by = ? WHERE run_id = ?", (newer[0], this_run))
            conn.execute(
                "UPDATE calls SET superseded_by = ? WHERE run_id = ?", (newer[0], this_run)
            )
    return {
        "db": str(db),
        "run_id": this_run,
        "run_date": date,
        "calls_recorded": len(improved),
        "runs_superseded": older,
        "calls_superseded": calls_superseded,
        "superseded_by_newer_run": newer[0] if newer else None,
    }


def main() -> None:
    improved = pd.read_csv(
        upstream("call_improved_strains", "improved_strains.csv"), dtype={"strain": str}
    )
    settings = json.loads(upstream("call_improved_strains", "calls.json").read_text())
    db = Path(param_text("calls_db", str(default_db())))
    try:
        result = record(
            db, run_id(), run_date(), improved, settings["min_improvement"], settings["fdr"]
        )
    except sqlite3.Error as exc:
        raise StepError(f"{db}: the calls database cannot be written: {exc}") from None
    out = output_dir(TASK)
    (out / "invalidated.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"invalidate_prior_data: recorded {result['calls_recorded']} calls of run "
        f"{result['run_id']} ({result['run_date']}) in {db}; superseded "
        f"{len(result['runs_superseded'])} earlier run(s), {result['calls_superseded']} call(s)"
    )
    if result["superseded_by_newer_run"]:
        print(
            f"note: a newer run ({result['superseded_by_newer_run']}) is current; this run's "
            "calls are recorded as superseded by it"
        )


if __name__ == "__main__":
    run_step(main)
