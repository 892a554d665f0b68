"""Kaggle's MAP@3 and the other scores against cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from soundtag.training import accuracy, confusion, map_at_k, per_class_average_precision, top_k

ONE_ROW = np.array([[0.1, 0.5, 0.15, 0.25]])  # ranking: 1, 3, 2, 0


@pytest.mark.parametrize(("target", "expected"), [(1, 1.0), (3, 1 / 2), (2, 1 / 3), (0, 0.0)])
def test_map3_of_one_clip_is_one_over_the_rank_of_its_label(target, expected):
    assert map_at_k(ONE_ROW, np.array([target]), 3) == pytest.approx(expected)


def test_map3_is_the_mean_over_clips():
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    # ranks of the targets: 1, 2, 3, 3 -> (1 + 1/2 + 1/3 + 1/3) / 4
    assert map_at_k(probs, np.array([0, 0, 0, 2]), 3) == pytest.approx((1 + 0.5 + 1 / 3 + 1 / 3) / 4)


def test_map_counts_only_the_top_k():
    probs = np.array([[0.4, 0.3, 0.2, 0.1]])
    assert map_at_k(probs, np.array([3]), 3) == 0.0
    assert map_at_k(probs, np.array([3]), 4) == pytest.approx(0.25)
    assert map_at_k(probs, np.array([2]), 2) == 0.0


def test_ties_rank_the_lower_class_index_first():
    probs = np.array([[0.4, 0.2, 0.4]])
    assert top_k(probs, 3).tolist() == [[0, 2, 1]]
    assert map_at_k(probs, np.array([0]), 3) == 1.0
    assert map_at_k(probs, np.array([2]), 3) == 0.5
    uniform = np.full((1, 5), 0.2)
    assert map_at_k(uniform, np.array([0]), 3) == 1.0
    assert map_at_k(uniform, np.array([4]), 3) == 0.0


def test_k_larger_than_the_number_of_classes_ranks_them_all():
    probs = np.array([[0.2, 0.8]])
    assert top_k(probs, 3).tolist() == [[1, 0]]
    assert map_at_k(probs, np.array([0]), 3) == 0.5


def test_the_docstring_example():
    assert map_at_k(np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]), np.array([2, 0])) == 0.75


def test_no_clips_score_zero():
    empty = np.zeros((0, 4))
    assert map_at_k(empty, np.array([], dtype=int)) == 0.0
    assert accuracy(empty, np.array([], dtype=int)) == 0.0


@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(2, 7)), elements=st.floats(0, 1)),
       st.data())
def test_map_at_1_equals_accuracy_and_bounds_map3(probs, data):
    targets = np.array(data.draw(st.lists(st.integers(0, probs.shape[1] - 1), min_size=len(probs),
                                          max_size=len(probs))))
    # accuracy uses argmax (first maximum), MAP@1 the stable ranking: the same tie rule
    assert map_at_k(probs, targets, 1) == pytest.approx(accuracy(probs, targets))
    assert accuracy(probs, targets) <= map_at_k(probs, targets, 3) + 1e-12
    assert 0.0 <= map_at_k(probs, targets, 3) <= 1.0


def test_accuracy_by_hand():
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    assert accuracy(probs, np.array([0, 1, 1, 0])) == 0.5
    assert accuracy(probs, np.array([0, 1, 0, 1])) == 1.0


def test_average_precision_by_hand_and_nan_for_an_absent_class():
    probs = np.array([
        [0.9, 0.1, 0.0],  # class 0
        [0.8, 0.2, 0.0],  # class 1
        [0.7, 0.3, 0.0],  # class 0
        [0.1, 0.9, 0.0],  # class 1
    ])
    ap = per_class_average_precision(probs, np.array([0, 1, 0, 1]))
    # class 0 ranked by score: pos, neg, pos -> (1/1 + 2/3) / 2
    assert ap[0] == pytest.approx((1 + 2 / 3) / 2)
    # class 1 ranked: pos (0.9), neg (0.3), pos (0.2), neg (0.1) -> (1/1 + 2/3) / 2
    assert ap[1] == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(ap[2])
    assert ap.shape == (3,)


def test_perfect_ranking_has_average_precision_one():
    probs = np.eye(4)
    assert per_class_average_precision(probs, np.arange(4)).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_confusion_counts_true_rows_and_predicted_columns():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.7, 0.2], [0.5, 0.4, 0.1]])
    matrix = confusion(probs, np.array([0, 1, 1, 1, 0]))
    assert matrix.tolist() == [[2, 0, 0], [1, 2, 0], [0, 0, 0]]
    assert matrix.sum() == 5
