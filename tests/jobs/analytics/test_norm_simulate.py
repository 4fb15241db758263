"""The simulated lab data: seeded, laid out like a plate campaign, the truth written apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from norm.simulate import PARENT, Design, simulate

pytestmark = pytest.mark.unit
JOBS = Path(__file__).resolve().parents[3] / "jobs" / "analytics"


def test_the_same_seed_draws_the_same_data_and_another_seed_other_data() -> None:
    a, b, c = simulate(Design(seed=3)), simulate(Design(seed=3)), simulate(Design(seed=4))
    pd.testing.assert_frame_equal(a.wells, b.wells)
    assert not a.wells["value"].equals(c.wells["value"])


def test_the_parent_is_on_every_plate_and_each_strain_on_plates_of_distinct_batches() -> None:
    d = Design(seed=5, strains=120, batches=4, plates_per_batch=3, plates_per_strain=3)
    wells = simulate(d).wells
    parent = wells[wells["strain"] == PARENT]
    assert parent.groupby("plate").size().to_dict() == dict.fromkeys(
        sorted(wells["plate"].unique()), d.parent_wells
    )
    others = wells[wells["strain"] != PARENT]
    per_strain = others.groupby("strain").agg(
        plates=("plate", "nunique"), batches=("batch", "nunique"), wells=("well", "size")
    )
    assert (per_strain["plates"] == 3).all()
    assert (per_strain["batches"] == 3).all()
    assert (per_strain["wells"] == 3 * d.replicates).all()
    # Balanced plates: each holds a fraction of the strains (the strain × plate table is sparse).
    strains_per_plate = others.groupby("plate")["strain"].nunique()
    assert strains_per_plate.max() - strains_per_plate.min() <= 1
    assert strains_per_plate.max() < 0.5 * d.strains


def test_truth_plants_improved_strains_failures_and_offsets_of_the_asked_size() -> None:
    d = Design(
        seed=9, strains=400, batches=8, failure_rate=0.05, improved_fraction=0.1, batch_sd=2.0
    )
    sim = simulate(d)
    improved = sim.strains[sim.strains["improved"]]
    assert len(improved) == 40
    assert improved["effect"].between(0.08 * d.level, 0.20 * d.level).all()
    assert (sim.strains.loc[~sim.strains["improved"], "effect"] <= 0).all()
    assert 0.03 < sim.failures["failed"].mean() < 0.07
    assert set(sim.failures.loc[sim.failures["failed"], "kind"]) == {"dropout", "spike"}
    assert 1.0 < sim.batches["offset"].std() < 3.5
    assert (sim.batches["gain"] == 1.0).all()
    assert (simulate(Design(seed=9, multiplicative_sd=0.1)).batches["gain"] != 1.0).all()


def test_the_command_line_writes_the_wells_table_and_the_truth_apart(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "norm.simulate",
            "--out",
            str(tmp_path / "wells.csv"),
            "--truth",
            str(tmp_path / "truth"),
            "--seed",
            "11",
            "--strains",
            "30",
            "--batches",
            "2",
        ],
        cwd=JOBS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    wells = pd.read_csv(tmp_path / "wells.csv")
    assert list(wells.columns) == ["well", "strain", "plate", "batch", "value"]
    assert wells["strain"].nunique() == 31
    truth = tmp_path / "truth"
    assert {p.name for p in truth.iterdir()} == {
        "strains.csv",
        "batches.csv",
        "plates.csv",
        "wells.csv",
        "design.json",
    }
    assert json.loads((truth / "design.json").read_text())["seed"] == 11
    assert set(pd.read_csv(truth / "wells.csv")["well"]) == set(wells["well"])
    assert "simulated" in result.stdout


def test_impossible_options_are_refused_all_at_once_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "norm.simulate",
            "--out",
            str(tmp_path / "w.csv"),
            "--strains",
            "0",
            "--failure-rate",
            "1.5",
            "--first-day",
            "soon",
        ],
        cwd=JOBS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "--strains must be at least 1" in result.stderr
    assert "--failure-rate must be a fraction from 0 to 1" in result.stderr
    assert "--first-day 'soon' is not a date" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w.csv").exists()
