"""The steps' inputs and outputs without the model: a lab's own wells table through the
``wells`` and ``parent`` params, clear errors for bad input, and the calls database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from norm.invalidate import record
from norm.simulate import Design, simulate

from tests.jobs.analytics.steps import run_step

pytestmark = pytest.mark.unit


def _lab_table(path: Path) -> Path:
    """A lab's export: its own parent name, extra columns, different header case."""
    wells = simulate(Design(seed=41, strains=30, batches=2, plates_per_batch=2)).wells
    wells = wells.assign(strain=wells["strain"].replace("parent", "WT-0"), operator="ann")
    wells.rename(columns={"strain": "Strain", "value": "Value"}).to_csv(path, index=False)
    return path


def test_a_labs_wells_table_named_by_the_wells_param_flows_into_failure_detection(
    tmp_path: Path,
) -> None:
    table = _lab_table(tmp_path / "lab.csv")
    env = {"WELLS": str(table), "PARENT": "WT-0"}
    compiled = run_step(tmp_path / "run", "compile_data", "--strains", "999", env=env)
    assert compiled.returncode == 0, compiled.stderr
    source = json.loads((tmp_path / "run" / "compile_data" / "source.json").read_text())
    assert source == {
        "source": str(table),
        "parent": "WT-0",
        "wells": 4 * 8 + 30 * 3 * 2,
        "strains": 31,
        "plates": 4,
        "batches": 2,
    }
    assert not (tmp_path / "run" / "compile_data" / "truth").exists()
    detected = run_step(tmp_path / "run", "detect_failures", env=env)
    assert detected.returncode == 0, detected.stderr
    judged = pd.read_csv(tmp_path / "run" / "detect_failures" / "wells.csv")
    assert len(judged) == source["wells"]
    assert {"failed", "robust_z", "reason"} <= set(judged.columns)


def test_a_bad_wells_table_fails_compile_data_with_every_problem_and_no_traceback(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("strain,plate,batch,value\nparent,p1,d1,1\nm1,p1,d2,x\n")
    done = run_step(tmp_path / "run", "compile_data", env={"WELLS": str(bad)})
    assert done.returncode == 1
    assert (
        f"{bad}:3:7: batch: plate 'p1' is in batch 'd2' here but in 'd1' on line 2" in done.stderr
    )
    assert f"{bad}:3:10: value: 'x' is not a finite number" in done.stderr
    assert f"{bad}: 2 problem(s); the wells table was not used" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_param_of_the_wrong_kind_is_refused_by_name(tmp_path: Path) -> None:
    done = run_step(tmp_path, "fit_model", env={"CHAINS": "four"})
    assert done.returncode == 1
    assert (
        "error: param chains ($CHAINS): 'four' is not a number from 1 to 64; the default is 4"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_step_whose_upstream_output_is_missing_says_which_task_to_check(tmp_path: Path) -> None:
    done = run_step(tmp_path, "call_improved_strains")
    assert done.returncode == 1
    assert (
        "posterior.npz: not found: this step reads posterior.npz from its upstream task fit_model"
        in done.stderr
    )


def _calls(*strains: str) -> pd.DataFrame:
    return pd.DataFrame({"strain": list(strains), "probability": 0.99, "effect": 1.0})


def _state(db: Path) -> dict[str, str | None]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT run_id, superseded_by FROM runs"))


def test_each_run_supersedes_the_earlier_runs_calls_and_a_retry_rewrites_its_own(
    tmp_path: Path,
) -> None:
    db = tmp_path / "calls.sqlite"
    record(db, "r1", "2026-12-01", _calls("a", "b"), 0.05, 0.05)
    first = record(db, "r2", "2026-12-02", _calls("b"), 0.05, 0.05)
    assert first["runs_superseded"] == ["r1"]
    assert first["calls_superseded"] == 2
    retry = record(db, "r2", "2026-12-02", _calls("b", "c"), 0.05, 0.05)
    assert retry["runs_superseded"] == []
    assert _state(db) == {"r1": "r2", "r2": None}
    with sqlite3.connect(db) as conn:
        current = conn.execute(
            "SELECT strain FROM calls WHERE superseded_by IS NULL ORDER BY strain"
        ).fetchall()
    assert current == [("b",), ("c",)]


def test_a_backfilled_older_date_is_superseded_at_once_by_the_newest_run(tmp_path: Path) -> None:
    db = tmp_path / "calls.sqlite"
    record(db, "r5", "2026-12-05", _calls("a"), 0.05, 0.05)
    backfill = record(db, "r3", "2026-12-03", _calls("z"), 0.05, 0.05)
    assert backfill["superseded_by_newer_run"] == "r5"
    assert backfill["runs_superseded"] == []
    assert _state(db) == {"r5": None, "r3": "r5"}
