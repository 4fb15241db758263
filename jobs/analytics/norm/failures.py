"""Process failures: wells far from what their strain and plate predict, by a robust rule.

A failed well (a drop-out, a bubble, a pipetting error) is extreme *for its strain on its
plate*, not for the plate as a whole: an improved strain is high on every plate it is on, a
failure only in one well. So the rule compares each well with a robust two-way fit:

1. median polish (Tukey): alternating medians give each strain and each plate an effect, with
   no well able to pull them far;
2. the residual of each well, in robust standard deviations (1.4826 × the median absolute
   residual, over all wells);
3. a well whose residual is beyond ``FAILURE_Z`` (default 6) is flagged; the fit is redone
   without the flagged wells and every well is judged again (a failure can bend the medians of
   a strain with few wells).

Flagged wells are kept in the table with ``failed``, their robust z and a reason; the model is
fit without them, and the Student-t likelihood absorbs milder outliers that the rule leaves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FAILURE_Z = 6.0
MAD_TO_SD = 1.4826
ROUNDS = 2


def median_polish(
    values: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    iterations: int = 20,
    tol: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column effects (by 0-based codes) with ``values ≈ row + col`` in medians.

    The row effects carry the overall level; the column effects have median 0.
    """
    n_rows, n_cols = int(rows.max()) + 1, int(cols.max()) + 1
    row_eff = np.zeros(n_rows)
    col_eff = np.zeros(n_cols)
    for _ in range(iterations):
        new_row = _group_median(values - col_eff[cols], rows, n_rows)
        new_col = _group_median(values - new_row[rows], cols, n_cols)
        new_col -= np.median(new_col)
        change = max(np.max(np.abs(new_row - row_eff)), np.max(np.abs(new_col - col_eff)))
        row_eff, col_eff = new_row, new_col
        if change < tol:
            break
    return row_eff, col_eff


def _group_median(values: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    medians = pd.Series(values).groupby(codes).median()
    out = np.zeros(n)
    out[medians.index.to_numpy()] = medians.to_numpy()
    return out


def robust_scale(residuals: np.ndarray) -> float:
    """1.4826 × the median absolute residual: the SD for normal noise, unmoved by outliers."""
    scale = MAD_TO_SD * float(np.median(np.abs(residuals)))
    return scale if scale > 0 else float(np.std(residuals)) or 1.0


def detect_failures(wells: pd.DataFrame, z: float = FAILURE_Z) -> pd.DataFrame:
    """``wells`` with ``expected``, ``robust_z``, ``failed`` and ``reason`` columns added."""
    values = wells["value"].to_numpy(dtype=float)
    strains, _ = pd.factorize(wells["strain"])
    plates, _ = pd.factorize(wells["plate"])
    keep = np.ones(len(values), dtype=bool)
    expected = np.zeros_like(values)
    scores = np.zeros_like(values)
    for _ in range(ROUNDS):
        strain_eff, plate_eff = _polish_kept(values, strains, plates, keep)
        expected = strain_eff[strains] + plate_eff[plates]
        residuals = values - expected
        scores = residuals / robust_scale(residuals)
        keep = np.abs(scores) <= z
    out = wells.copy()
    out["expected"] = expected.round(6)
    out["robust_z"] = scores.round(3)
    out["failed"] = ~keep
    out["reason"] = [
        ""
        if k
        else f"{'below' if s < 0 else 'above'} its strain and plate by {abs(s):.1f} robust SD"
        for k, s in zip(keep, scores, strict=True)
    ]
    return out


def _polish_kept(
    values: np.ndarray, strains: np.ndarray, plates: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Median polish of the kept wells; a strain or plate with no kept well gets its median."""
    strain_eff, plate_eff = median_polish(values[keep], strains[keep], plates[keep])
    n_strains, n_plates = int(strains.max()) + 1, int(plates.max()) + 1
    full_strain = np.full(n_strains, np.nan)
    full_plate = np.zeros(n_plates)
    full_strain[: len(strain_eff)] = strain_eff
    full_plate[: len(plate_eff)] = plate_eff
    seen_strains = np.zeros(n_strains, dtype=bool)
    seen_strains[np.unique(strains[keep])] = True
    full_strain[~seen_strains] = _group_median(values, strains, n_strains)[~seen_strains]
    return full_strain, full_plate
