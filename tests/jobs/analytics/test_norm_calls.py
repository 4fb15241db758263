"""The calling rule: probabilities of beating the threshold, Bayesian false-discovery control."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from norm import calls

pytestmark = pytest.mark.unit


def test_draw_probability_is_the_share_of_draws_above_the_relative_threshold() -> None:
    effect = np.array([[0.0, 0.6, 0.4, 1.0], [0.1, 0.2, 0.3, 0.4]])
    level = np.array([10.0, 10.0, 8.0, 10.0])  # thresholds 0.5, 0.5, 0.4, 0.5
    assert calls.draw_probability(effect, level, 0.05).tolist() == [0.5, 0.0]


def test_normal_probability_is_half_at_the_threshold_and_certain_without_uncertainty() -> None:
    p = calls.normal_probability(np.array([0.5, 0.9, 0.1]), np.array([0.2, 0.0, 0.0]), 0.5)
    assert p.tolist() == [0.5, 1.0, 0.0]


def test_select_calls_the_largest_top_set_within_the_fdr() -> None:
    p = np.array([0.2, 0.99, 0.9, 0.97, 0.5])
    # Sorted: 0.99, 0.97, 0.9, 0.5 → expected FDR 0.01, 0.02, 0.0467, 0.16.
    assert calls.select(p, 0.05).tolist() == [False, True, True, True, False]
    assert calls.select(p, 0.015).tolist() == [False, True, False, False, False]
    assert not calls.select(p, 0.001).any()


@given(st.lists(st.floats(0.0, 1.0), max_size=60), st.floats(0.0, 0.5))
def test_the_called_set_keeps_its_expected_fdr_and_no_larger_top_set_would(
    probabilities: list[float], fdr: float
) -> None:
    p = np.array(probabilities)
    called = calls.select(p, fdr)
    n = int(called.sum())
    if n:
        assert calls.expected_false(p, called) / n <= fdr + 1e-12
        assert p[called].min() >= p[~called].max(initial=0.0)
    ranked = np.sort(p)[::-1]
    if n < len(p):
        assert np.mean(1.0 - ranked[: n + 1]) > fdr
