"""The failure rule finds the planted process failures, and does not take improved strains or
strong batch effects for failures (as a per-plate rule does)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from norm.failures import detect_failures, median_polish
from norm.simulate import Design, simulate

pytestmark = pytest.mark.unit


def test_median_polish_recovers_additive_row_and_column_effects_despite_an_outlier() -> None:
    rows = np.repeat(np.arange(4), 5)
    cols = np.tile(np.arange(5), 4)
    row_true = np.array([1.0, 2.0, 3.0, 4.0])
    col_true = np.array([-0.5, 0.0, 0.2, 0.0, 0.7])
    values = row_true[rows] + col_true[cols]
    values[7] += 100.0
    row_eff, col_eff = median_polish(values, rows, cols)
    fitted = row_eff[rows] + col_eff[cols]
    wrong = np.abs(fitted - (row_true[rows] + col_true[cols])) > 1e-6
    assert wrong.tolist() == [False] * 20


@pytest.mark.parametrize("seed", [31, 32, 33])
@pytest.mark.parametrize("batch_sd", [2.0, 0.1])
def test_planted_failures_are_found_and_few_good_wells_are_flagged(
    seed: int, batch_sd: float
) -> None:
    sim = simulate(Design(seed=seed, batch_sd=batch_sd))
    judged = detect_failures(sim.wells)
    truth = sim.failures["failed"].to_numpy()
    flagged = judged["failed"].to_numpy()
    hits = int(np.sum(flagged & truth))
    assert hits / truth.sum() >= 0.95
    assert hits / flagged.sum() >= 0.85


def test_improved_strains_are_not_flagged() -> None:
    sim = simulate(Design(seed=34, improved_fraction=0.2))
    judged = detect_failures(sim.wells)
    improved = set(sim.strains.loc[sim.strains["improved"], "strain"])
    wrongly = judged["failed"] & ~sim.failures["failed"] & judged["strain"].isin(improved)
    assert int(wrongly.sum()) == 0


def test_flagged_wells_stay_in_the_table_with_a_reason() -> None:
    sim = simulate(Design(seed=35, strains=60))
    judged = detect_failures(sim.wells)
    assert len(judged) == len(sim.wells)
    pd.testing.assert_series_equal(judged["value"], sim.wells["value"])
    reasons = judged.loc[judged["failed"], "reason"]
    assert len(reasons) > 0
    assert reasons.str.match(r"^(below|above) its strain and plate by \d+\.\d robust SD$").all()
    assert (judged.loc[~judged["failed"], "reason"] == "").all()
