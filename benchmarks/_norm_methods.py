"""The corrections `bench_normalization.py` compares, each ending in the same calling rule.

Every method turns a simulated wells table into: an estimated batch effect per batch (the
average shift of the batch's wells), an effect per strain against the parent with a
probability of beating the threshold, and (when it has a rule) the wells it flags as failures.
The calls then come from ``norm.calls.select`` for all of them. docs/normalization.md says what
each method is and how ComBat's input is encoded.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from norm import calls, posterior
from norm.failures import MAD_TO_SD, detect_failures, median_polish
from norm.simulate import PARENT, Simulated

PLATE_RULE_Z = 3.5  # the modified z-score cut-off of Iglewicz & Hoaglin (1993)


@dataclass
class Result:
    """What one method made of one data set."""

    batch_effect: pd.Series  # by batch
    effect: pd.Series  # by strain (not the parent)
    probability: pd.Series  # by strain: P(effect > threshold)
    flagged: pd.Series | None  # by well: flagged as a failure (None: the method has no rule)
    seconds: float


def true_shift(sim: Simulated) -> pd.Series:
    """Per well: how far batch and plate moved its expected value (gains included)."""
    w = sim.wells
    d = sim.design
    effect = w["strain"].map(sim.strains.set_index("strain")["effect"])
    batch = sim.batches.set_index("batch")
    plate = sim.plates.set_index("plate")["offset"]
    base = d.level + effect
    moved = (base + w["batch"].map(batch["offset"]) + w["plate"].map(plate)) * w["batch"].map(
        batch["gain"]
    )
    return pd.Series((moved - base).to_numpy(), index=w["well"].to_numpy())


def true_batch_effect(sim: Simulated) -> pd.Series:
    """The average shift of each batch's wells."""
    shift = true_shift(sim).to_numpy()
    return pd.Series(shift).groupby(sim.wells["batch"].to_numpy()).mean()


def _mean_rule(
    wells: pd.DataFrame, corrected: np.ndarray, min_improvement: float
) -> tuple[pd.Series, pd.Series]:
    """Strain means of corrected wells against the parent's, with pooled-SD standard errors."""
    frame = pd.DataFrame({"strain": wells["strain"].to_numpy(), "y": corrected})
    groups = frame.groupby("strain")["y"]
    means, counts = groups.mean(), groups.count()
    resid = frame["y"] - groups.transform("mean")
    dof = max(len(frame) - len(means), 1)
    sd = float(np.sqrt(np.sum(resid**2) / dof))
    level = means[PARENT]
    others = means.drop(PARENT)
    se = sd * np.sqrt(1.0 / counts.drop(PARENT) + 1.0 / counts[PARENT])
    effect = others - level
    prob = calls.normal_probability(effect.to_numpy(), se.to_numpy(), min_improvement * level)
    return effect, pd.Series(prob, index=effect.index)


def _batch_shift(wells: pd.DataFrame, shift: np.ndarray) -> pd.Series:
    return pd.Series(shift).groupby(wells["batch"].to_numpy()).mean()


def none(sim: Simulated, min_improvement: float) -> Result:
    started = time.perf_counter()
    w = sim.wells
    values = w["value"].to_numpy()
    effect, prob = _mean_rule(w, values, min_improvement)
    return Result(
        _batch_shift(w, np.zeros(len(w))), effect, prob, None, time.perf_counter() - started
    )


def mean_centering(sim: Simulated, min_improvement: float) -> Result:
    started = time.perf_counter()
    w = sim.wells
    values = w["value"].to_numpy()
    shift = (w.groupby("batch")["value"].transform("mean") - values.mean()).to_numpy()
    effect, prob = _mean_rule(w, values - shift, min_improvement)
    return Result(_batch_shift(w, shift), effect, prob, None, time.perf_counter() - started)


def combat_matrix(wells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ComBat's input: strains (rows) × plates (columns) of the mean of the strain's wells on
    the plate; an empty cell is filled with the strain's mean over its plates. Also returns
    which cells were measured."""
    cells = wells.groupby(["strain", "plate"])["value"].mean().unstack("plate")
    measured = cells.notna()
    filled = cells.apply(lambda row: row.fillna(row.mean()), axis=1)
    return filled, measured


def _combat_shift(wells: pd.DataFrame) -> np.ndarray:
    """Per well: how much ComBat moved its cell (strain, plate), from the encoding above."""
    from combat.pycombat import pycombat

    filled, measured = combat_matrix(wells)
    plate_batch = wells.groupby("plate")["batch"].first()
    # A strain measured on one plate only is constant across the row: ComBat cannot scale it.
    varying = filled.std(axis=1) > 0
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        corrected = pycombat(filled[varying], [plate_batch[p] for p in filled.columns])
    cell_shift = -(corrected - filled[varying]).where(measured[varying]).stack()
    return np.array(
        [cell_shift.get((s, p), 0.0) for s, p in zip(wells["strain"], wells["plate"], strict=True)]
    )


def combat(sim: Simulated, min_improvement: float) -> Result:
    """ComBat on the wells as measured (failures included), as people reach for it."""
    started = time.perf_counter()
    w = sim.wells
    shift = _combat_shift(w)
    effect, prob = _mean_rule(w, w["value"].to_numpy() - shift, min_improvement)
    return Result(_batch_shift(w, shift), effect, prob, None, time.perf_counter() - started)


def combat_without_failures(sim: Simulated, min_improvement: float) -> Result:
    """ComBat after our failure rule removed the flagged wells: what the layout alone costs."""
    started = time.perf_counter()
    detected = detect_failures(sim.wells)
    flagged = detected["failed"].to_numpy()
    kept = sim.wells[~flagged]
    shift = _combat_shift(kept)
    effect, prob = _mean_rule(kept, kept["value"].to_numpy() - shift, min_improvement)
    return Result(
        _batch_shift(kept, shift),
        effect,
        prob,
        pd.Series(flagged, index=sim.wells["well"].to_numpy()),
        time.perf_counter() - started,
    )


def plate_rule(wells: pd.DataFrame, z: float = PLATE_RULE_Z) -> np.ndarray:
    """Failures by the per-plate median/MAD rule: |value - plate median| > z × MAD-SD."""
    g = wells.groupby("plate")["value"]
    median = g.transform("median")
    mad = g.transform(lambda v: MAD_TO_SD * np.median(np.abs(v - np.median(v))))
    return (np.abs(wells["value"] - median) / mad > z).to_numpy()


def robust_additive(sim: Simulated, min_improvement: float) -> Result:
    """Per-plate median/MAD failures, then strain and plate effects by alternating medians;
    standard errors from the median's asymptotic variance (π/2 · SD² / n)."""
    started = time.perf_counter()
    w = sim.wells
    flagged = plate_rule(w)
    kept = w[~flagged]
    strains, strain_names = pd.factorize(kept["strain"])
    plates, plate_names = pd.factorize(kept["plate"])
    values = kept["value"].to_numpy()
    strain_eff, plate_eff = median_polish(values, strains, plates)
    resid = values - strain_eff[strains] - plate_eff[plates]
    sd = float(np.sqrt(np.sum(resid**2) / max(len(values) - len(strain_names), 1)))
    counts = pd.Series(strains).value_counts().sort_index().to_numpy()
    by_strain = pd.Series(strain_eff, index=strain_names)
    n = pd.Series(counts, index=strain_names)
    level = by_strain[PARENT]
    effect = by_strain.drop(PARENT) - level
    se = sd * np.sqrt(np.pi / 2) * np.sqrt(1.0 / n.drop(PARENT) + 1.0 / n[PARENT])
    prob = calls.normal_probability(effect.to_numpy(), se.to_numpy(), min_improvement * level)
    plate_shift = pd.Series(plate_eff, index=plate_names)
    shift = w["plate"].map(plate_shift).fillna(0.0).to_numpy()
    return Result(
        _batch_shift(w, shift),
        effect,
        pd.Series(prob, index=effect.index),
        pd.Series(flagged, index=w["well"].to_numpy()),
        time.perf_counter() - started,
    )


def ours(sim: Simulated, min_improvement: float, settings: posterior.Settings) -> Result:
    started = time.perf_counter()
    w = sim.wells
    detected = detect_failures(w)
    kept = detected[~detected["failed"]]
    with contextlib.redirect_stdout(sys.stderr):
        post = posterior.fit(kept, PARENT, settings, say=lambda _: None)
    if post.convergence is not None and post.convergence.problems:
        print(f"# warning: {'; '.join(post.convergence.problems)}", flush=True)
    prob = calls.draw_probability(post.effect, post.level, min_improvement)
    strains = post.strains
    effect = pd.Series(post.effect.mean(axis=1), index=strains).drop(PARENT)
    plate_shift = pd.Series(post.plate_level.mean(axis=1) - post.level.mean(), index=post.plates)
    shift = w["plate"].map(plate_shift).to_numpy()
    return Result(
        _batch_shift(w, shift),
        effect,
        pd.Series(prob, index=strains).drop(PARENT),
        pd.Series(detected["failed"].to_numpy(), index=w["well"].to_numpy()),
        time.perf_counter() - started,
    )


def oracle(sim: Simulated, min_improvement: float) -> Result:
    """Knows every well's true batch and plate shift and which wells failed."""
    started = time.perf_counter()
    w = sim.wells
    failed = sim.failures["failed"].to_numpy()
    shift = true_shift(sim).to_numpy()
    kept = w[~failed]
    effect, prob = _mean_rule(kept, kept["value"].to_numpy() - shift[~failed], min_improvement)
    return Result(
        _batch_shift(w, shift),
        effect,
        prob,
        pd.Series(failed, index=w["well"].to_numpy()),
        time.perf_counter() - started,
    )


METHODS: dict[str, Callable[..., Result]] = {
    "none": none,
    "mean-centering": mean_centering,
    "ComBat": combat,
    "ComBat, failures removed": combat_without_failures,
    "robust additive": robust_additive,
    "ours": ours,
    "oracle": oracle,
}
