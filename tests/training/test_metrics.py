"""Kaggle's MAP@3 and the other scores against cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from soundtag.training import (
    accuracy,
    choose_thresholds,
    confusion,
    f1_scores,
    lwlrap,
    map_at_k,
    mean_average_precision,
    per_class_average_precision,
    top_k,
)
from soundtag.training.metrics import THRESHOLD_GRID, as_multi_hot

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


# ---------------------------------------------------------------------------------------------
# multi-label: lwlrap, macro mAP, F1 at thresholds, the choice of thresholds


def test_lwlrap_by_hand():
    scores = np.array([
        [0.9, 0.5, 0.1, 0.3],  # true 0 and 2: label 0 ranked 1st (1/1), label 2 ranked 4th behind one true (2/4)
        [0.2, 0.7, 0.6, 0.1],  # true 2: ranked 2nd (1/2)
        [0.4, 0.3, 0.2, 0.1],  # no label: adds nothing
        [0.1, 0.2, 0.3, 0.4],  # true 1, 2, 3: ranked 3rd, 2nd, 1st, every label above is true (1, 1, 1)
    ])
    truth = np.array([[1, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 1, 1, 1]])
    pairs = [1, 2 / 4, 1 / 2, 1, 1, 1]
    assert lwlrap(scores, truth) == pytest.approx(sum(pairs) / len(pairs))
    # a class weighs by how often it is a true label: the mean over classes of their pairs' precision,
    # weighted by each class's share of the pairs, is the same figure
    per_class = {0: [1], 1: [1], 2: [2 / 4, 1 / 2, 1], 3: [1]}
    weighted = sum(np.mean(v) * len(v) / len(pairs) for v in per_class.values())
    assert lwlrap(scores, truth) == pytest.approx(weighted)


def test_lwlrap_counts_ties_against_the_true_label():
    # label 1 ties with label 0 (absent): both are "at or above" it, precision 1/2
    assert lwlrap(np.array([[0.5, 0.5, 0.1]]), np.array([[0, 1, 0]])) == pytest.approx(0.5)
    assert lwlrap(np.array([[0.5, 0.5, 0.1]]), np.array([[1, 1, 0]])) == pytest.approx(1.0)


def test_lwlrap_of_perfect_and_of_no_labels():
    truth = np.array([[1, 0, 1], [0, 1, 0]])
    assert lwlrap(truth * 0.8 + 0.1, truth) == 1.0
    assert lwlrap(np.ones((2, 3)), np.zeros((2, 3))) == 0.0
    # single-label clips: lwlrap is the mean reciprocal rank of the label, MAP@k with k = all classes
    probs = np.array([[0.1, 0.5, 0.15, 0.25], [0.7, 0.1, 0.1, 0.1]])
    assert lwlrap(probs, as_multi_hot(np.array([2, 0]), 4)) == pytest.approx(map_at_k(probs, np.array([2, 0]), 4))


@given(arrays(np.float64, st.tuples(st.integers(1, 15), st.integers(2, 8)),
              elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0])), st.data())
def test_lwlrap_equals_label_ranking_average_precision_weighted_by_the_number_of_labels(scores, data):
    """scikit-learn's LRAP with each clip weighted by its number of true labels is lwlrap (an
    independent implementation; the coarse score grid makes ties common)."""
    from sklearn.metrics import label_ranking_average_precision_score

    truth = np.array(data.draw(arrays(np.int8, scores.shape, elements=st.integers(0, 1))))
    if not truth.any():
        truth[0, 0] = 1
    expected = label_ranking_average_precision_score(truth, scores, sample_weight=truth.sum(axis=1))
    assert lwlrap(scores, truth) == pytest.approx(expected, abs=1e-12)


def test_mean_average_precision_skips_classes_no_clip_holds():
    from sklearn.metrics import average_precision_score

    scores = np.array([[0.9, 0.2, 0.5], [0.3, 0.8, 0.4], [0.6, 0.1, 0.7], [0.2, 0.4, 0.1]])
    truth = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0]])  # class 2: no clip
    # class 0 ranked: pos .9, neg .6, neg .3, pos .2 -> (1 + 2/4) / 2; class 1: pos .8, neg .4, neg .2, pos .1
    assert mean_average_precision(scores, truth) == pytest.approx(((1 + 2 / 4) / 2 + (1 + 2 / 4) / 2) / 2)
    assert mean_average_precision(scores, truth) == pytest.approx(
        np.mean([average_precision_score(truth[:, c], scores[:, c]) for c in (0, 1)]))
    assert np.isnan(per_class_average_precision(scores, truth)[2])
    assert mean_average_precision(scores, np.zeros_like(truth)) == 0.0


def test_f1_at_thresholds_by_hand_and_against_scikit_learn():
    from sklearn.metrics import f1_score

    scores = np.array([[0.9, 0.2, 0.6], [0.4, 0.8, 0.1], [0.3, 0.6, 0.2], [0.7, 0.1, 0.05]])
    truth = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
    thresholds = np.array([0.5, 0.5, 0.5])
    # class 0: predicted clips 0, 3; true 0, 1 -> TP 1, FP 1, FN 1 -> 1/2; class 1: TP 2 -> 1;
    # class 2: held by no clip, predicted for clip 0 -> F1 0 (it counts: a false alarm is an error)
    macro, micro = f1_scores(scores, truth, thresholds)
    assert macro == pytest.approx((0.5 + 1 + 0) / 3)
    assert micro == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))  # TP 3, FP 2, FN 1
    predicted = (scores >= thresholds).astype(int)
    assert micro == pytest.approx(f1_score(truth, predicted, average="micro"))
    assert macro == pytest.approx(f1_score(truth, predicted, average="macro", zero_division=0))
    # a class neither held nor predicted is left out of the macro mean (0/0), not counted as 0 or 1
    macro_high, _ = f1_scores(scores, truth, np.array([0.5, 0.5, 0.95]))
    assert macro_high == pytest.approx((0.5 + 1) / 2)
    assert f1_scores(scores, truth, 0.5) == (macro, micro)  # one threshold for every class


def test_thresholds_are_the_best_f1_of_each_class_on_a_grid():
    # class 0: positives 0.8, 0.7, 0.35; negatives 0.5, 0.2. F1 is best (6/7, TP 3 FP 1) from 0.25 to 0.35
    # class 1: separable: every threshold in (0.3, 0.6] gives F1 1; the middle of 0.35..0.60 is 0.45
    # class 2: no positive clip: the default 0.5
    scores = np.array([[0.8, 0.6, 0.9], [0.7, 0.3, 0.1], [0.35, 0.65, 0.2], [0.5, 0.1, 0.3], [0.2, 0.2, 0.4]])
    truth = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 0]])
    chosen = choose_thresholds(scores, truth)
    assert chosen.tolist() == pytest.approx([0.30, 0.45, 0.5])
    f1 = [f1_scores(scores[:, :1], truth[:, :1], t)[0] for t in THRESHOLD_GRID]
    assert max(f1) == pytest.approx(6 / 7) and f1_scores(scores[:, :1], truth[:, :1], chosen[0])[0] == max(f1)


def test_thresholds_never_go_below_the_floor():
    # every positive scores 0.02: no threshold of the grid catches them, F1 is 0 everywhere, and the
    # chosen threshold is still one of the grid's (at least 0.1)
    scores = np.array([[0.02], [0.02], [0.01]])
    chosen = choose_thresholds(scores, np.array([[1], [1], [0]]))
    assert chosen[0] >= THRESHOLD_GRID.min() == 0.1
