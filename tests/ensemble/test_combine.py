"""Ensembles: arithmetic, geometric and weighted means against hand-computed values."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import soundtag.ensemble.combine
from soundtag.ensemble import combine_probabilities, select_runs

P1 = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
P2 = np.array([[0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])


def test_arithmetic_mean():
    assert combine_probabilities([P1, P2], "arithmetic") == pytest.approx(np.array([[0.4, 0.45, 0.15],
                                                                                       [0.15, 0.15, 0.7]]))


def test_geometric_mean_is_renormalised():
    raw = np.sqrt(P1 * P2)
    expected = raw / raw.sum(axis=1, keepdims=True)
    assert combine_probabilities([P1, P2], "geometric") == pytest.approx(expected)
    # by hand, first row: sqrt(.12)=.3464, sqrt(.18)=.4243, sqrt(.02)=.1414 -> /.9121
    assert combine_probabilities([P1, P2], "geometric")[0] == pytest.approx([0.3798, 0.4652, 0.1550], abs=1e-4)


def test_weighted_mean():
    combined = combine_probabilities([P1, P2], "weighted", [3.0, 1.0])
    assert combined == pytest.approx(0.75 * P1 + 0.25 * P2)


def test_bad_arguments():
    with pytest.raises(ValueError):
        combine_probabilities([P1, P2], "weighted")
    with pytest.raises(ValueError):
        combine_probabilities([P1, P2], "median")
    with pytest.raises(ValueError):
        combine_probabilities([], "arithmetic")


def test_select_runs_by_minimum_score_best_first():
    assert select_runs({"a": 0.7, "b": 0.9, "c": 0.5}, 0.6) == ["b", "a"]
    assert select_runs({"a": 0.7}, 0.8) == []


def test_docstring_example():
    assert doctest.testmod(soundtag.ensemble.combine).failed == 0
