"""Which strains improve on the parent: one rule for the model and for every benchmark method.

A strain is a candidate when its effect exceeds ``min_improvement`` × the parent's level (5 %
by default). Each method gives every strain a probability of that: the model from its draws
(the share of draws in which the strain beats the threshold); a method with a point estimate
and a standard error from the normal approximation ``Φ((estimate - threshold) / se)``.

False discoveries are controlled by the posterior expected false-discovery rate (Newton et al.
2004; Müller, Parmigiani & Rice 2006): strains are called in order of probability, as many as
possible while the mean of ``1 - probability`` over the called strains — the expected share of
called strains that are not truly improved — stays at most ``fdr`` (5 % by default).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm as normal

MIN_IMPROVEMENT = 0.05
FDR = 0.05


def draw_probability(effect: np.ndarray, level: np.ndarray, min_improvement: float) -> np.ndarray:
    """Per strain (rows of ``effect``, draws on the last axis): P(effect > threshold)."""
    return np.mean(effect > min_improvement * level[np.newaxis, :], axis=1)


def normal_probability(estimate: np.ndarray, se: np.ndarray, threshold: float) -> np.ndarray:
    """P(effect > threshold) under a normal approximation of each estimate."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (estimate - threshold) / se
    return np.where(np.isfinite(z), normal.cdf(z), (estimate > threshold).astype(float))


def select(probability: np.ndarray, fdr: float) -> np.ndarray:
    """The called strains (a mask): the largest top set whose expected FDR is at most ``fdr``."""
    order = np.argsort(-probability, kind="stable")
    expected_fdr = np.cumsum(1.0 - probability[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(expected_fdr <= fdr)[0]
    called = np.zeros(len(probability), dtype=bool)
    if len(ok):
        called[order[: ok[-1] + 1]] = True
    return called


def expected_false(probability: np.ndarray, called: np.ndarray) -> float:
    """The expected number of called strains that are not truly improved."""
    return float(np.sum(1.0 - probability[called]))


def calls_table(
    strains: list[str], probability: np.ndarray, effect: np.ndarray, called: np.ndarray
) -> pd.DataFrame:
    """Every strain with its probability, mean effect and call, most probable first."""
    table = pd.DataFrame(
        {"strain": strains, "probability": probability, "effect": effect, "called": called}
    )
    return table.sort_values(["probability", "effect"], ascending=False, ignore_index=True)
