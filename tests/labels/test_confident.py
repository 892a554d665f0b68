"""Confident learning through cleanlab: the wrapper is cleanlab's ``find_label_issues`` (parity on the same
probabilities, every ``clean.filter_by`` choice), clearly mislabelled clips are flagged and not promoted,
and the multi-label path flags corrupted label sets on synthetic data and promotes the others.
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
from cleanlab.filter import find_label_issues
from cleanlab.multilabel_classification.filter import find_label_issues as find_multilabel_issues

import soundtag.labels.confident
from soundtag.config import CleanConfig, ConfidentFilter, choices, load_config
from soundtag.errors import ConfigError
from soundtag.labels.confident import (
    clean_confident,
    clean_confident_multilabel,
    label_issues,
    label_set_array,
    multilabel_label_issues,
    out_of_fold_multilabel_probabilities,
)

FILTERS = choices(CleanConfig, "filter_by")


def clusters(seed: int = 0, per_class: int = 15, classes: int = 3, dims: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Well-separated Gaussian clusters: vectors and their true class names."""
    rng = np.random.default_rng(seed)
    centres = np.eye(classes, dims) * 6
    vectors = np.vstack([rng.normal(centres[c], 0.5, (per_class, dims)) for c in range(classes)])
    truth = np.repeat(np.array([f"c{c}" for c in range(classes)]), per_class)
    return vectors, truth


def test_filter_by_offers_cleanlabs_choices_and_refuses_others():
    assert FILTERS == ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given",
                       "low_normalized_margin", "low_self_confidence")
    assert FILTERS == ConfidentFilter.__args__
    assert load_config(None, ["clean.filter_by=both"]).clean.filter_by == "both"
    with pytest.raises(ConfigError, match=r"clean.filter_by must be one of prune_by_noise_rate, .*got 'nope'"):
        load_config(None, ["clean.filter_by=nope"])


@pytest.mark.parametrize("filter_by", FILTERS)
def test_label_issues_is_cleanlabs_find_label_issues(filter_by):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=80)
    labels = np.arange(80) % 4
    expected = find_label_issues(labels, probs, filter_by=filter_by)
    assert label_issues(probs, labels, filter_by).tolist() == expected.tolist()


@pytest.mark.parametrize("filter_by", FILTERS)
def test_multilabel_call_is_cleanlabs_with_multi_label(filter_by):
    rng = np.random.default_rng(2)
    probs = rng.uniform(size=(60, 4))
    labels = [sorted(rng.choice(4, size=rng.integers(0, 3), replace=False).tolist()) for _ in range(60)]
    with warnings.catch_warnings():  # cleanlab's own deprecated call inside, for some filters
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = find_multilabel_issues(labels, probs, filter_by=filter_by)
    with pytest.warns(DeprecationWarning):  # the same call as find_label_issues(multi_label=True)
        assert find_label_issues(labels, probs, filter_by=filter_by, multi_label=True).tolist() == expected.tolist()
    assert label_issues(probs, labels, filter_by, multi_label=True).tolist() == expected.tolist()


@pytest.mark.parametrize("filter_by", FILTERS)
def test_clean_confident_flags_mislabelled_clips_with_every_filter(filter_by):
    vectors, truth = clusters()
    labels = truth.copy()
    wrong = [5, 20, 40]
    labels[wrong] = ["c1", "c2", "c0"]
    verified = np.zeros(len(labels), dtype=bool)
    verified[[0, 1, 15, 16, 30, 31]] = True
    result = clean_confident(vectors, labels, verified, CleanConfig(pca_components=None, filter_by=filter_by),
                             truth, folds=3)
    assert not result.promoted[wrong].any()
    assert result.spread_labels[wrong].tolist() == truth[wrong].tolist()
    assert not result.promoted[verified].any()  # verified clips need no promotion
    total = result.table.iloc[-1]
    assert total["promoted_precision"] == 1.0 and total["wrong_caught_pct"] == 100.0
    assert total["promoted"] >= 30  # of the 36 unverified clips whose labels are right


def test_clean_confident_default_is_the_filter_measured_best():
    assert CleanConfig().filter_by == "low_normalized_margin"


def multilabel_corpus(seed: int = 3, clips: int = 90, classes: int = 4):
    """Clips whose vector is the sum of their classes' centres plus noise, with their true label sets."""
    rng = np.random.default_rng(seed)
    centres = np.eye(classes) * 4
    names = [f"c{c}" for c in range(classes)]
    truth = [tuple(sorted(rng.choice(classes, size=rng.integers(1, 3), replace=False).tolist())) for _ in range(clips)]
    vectors = np.array([centres[list(t)].sum(axis=0) for t in truth]) + rng.normal(0, 0.4, (clips, classes))
    return vectors, [tuple(names[c] for c in t) for t in truth], names


def test_multilabel_probabilities_are_per_class_and_out_of_fold():
    vectors, truth, names = multilabel_corpus()
    targets = np.array([[name in clip for name in names] for clip in truth], dtype=int)
    probs = out_of_fold_multilabel_probabilities(vectors, targets, 5, 0)
    assert probs.shape == targets.shape and ((probs >= 0) & (probs <= 1)).all()
    assert not np.allclose(probs.sum(axis=1), 1.0)  # independent per class, not a softmax
    assert ((probs > 0.5) == targets).mean() > 0.95


def test_multilabel_issues_flag_corrupted_label_sets():
    vectors, truth, names = multilabel_corpus()
    labels = list(truth)
    corrupted = [3, 17, 42, 66]
    for i in corrupted:  # swap each label set for the classes it does not have
        labels[i] = tuple(name for name in names if name not in truth[i])
    flagged = multilabel_label_issues(vectors, labels, names, CleanConfig(pca_components=None), seed=0)
    assert flagged.shape == (len(labels),)
    assert flagged[corrupted].all()
    assert flagged.sum() <= len(corrupted) + 3  # few clean clips flagged


def test_multilabel_issues_take_clips_with_no_label():
    vectors, truth, names = multilabel_corpus()
    labels = list(truth)
    labels[0] = ()
    flagged = multilabel_label_issues(vectors, labels, names, CleanConfig(pca_components=None, filter_by="both"))
    assert flagged.dtype == bool and flagged[0]


def test_clean_confident_multilabel_promotes_unflagged_unverified_label_sets():
    vectors, truth, names = multilabel_corpus()
    labels = list(truth)
    corrupted = [3, 17, 42, 66]
    for i in corrupted:
        labels[i] = tuple(name for name in names if name not in truth[i])
    labels[5] = ()  # an unverified clip that says it holds none of its classes
    verified = np.zeros(len(labels), dtype=bool)
    verified[::6] = True
    config = CleanConfig(pca_components=None)
    result = clean_confident_multilabel(vectors, labels, verified, config)
    flagged = multilabel_label_issues(vectors, labels, names, config)
    assert result.promoted.tolist() == (~verified & ~flagged).tolist()
    assert not result.promoted[corrupted + [5]].any() and not result.promoted[verified].any()
    assert result.promoted.sum() >= 0.9 * (~verified).sum() - 5
    # a flagged clip's cleaned set is the classes it probably holds, the others keep their given set
    assert [result.spread_labels[i] for i in corrupted] == [truth[i] for i in corrupted]
    assert all(result.spread_labels[i] == labels[i] for i in np.flatnonzero(~flagged))
    assert all(type(label) is str for clip in result.spread_labels for label in clip)
    # counts only: true labels are one a clip and cannot score label sets
    total = result.table.iloc[-1]
    assert list(result.table["group"]) == ["all", "total"] and total["classes"] == len(names)
    assert (total["clips"], total["verified"], total["promoted"]) == (90, 15, result.promoted.sum())
    assert total["verified_after"] == 15 + result.promoted.sum()
    assert "promoted_precision" not in result.table.columns


def test_label_set_arrays_keep_one_tuple_a_clip():
    sets = label_set_array([("a", "b"), ("c", "d")])
    assert sets.shape == (2,) and sets[1] == ("c", "d")
    assert label_set_array([]).shape == (0,)


def test_docstring_examples_run():
    result = doctest.testmod(soundtag.labels.confident, verbose=False)
    assert result.attempted > 0 and result.failed == 0
