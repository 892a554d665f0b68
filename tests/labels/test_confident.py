"""Confident learning: per-class thresholds and the flagging of a clearly mislabelled clip."""

from __future__ import annotations

import numpy as np

from soundtag.config import CleanConfig
from soundtag.labels.confident import clean_confident, confident_labels


def test_confident_labels_use_per_class_thresholds():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.92, 0.08]])
    y = np.array([0, 0, 1, 1, 1])
    # thresholds: class 0 = mean(.9, .8) = .85; class 1 = mean(.7, .4, .08) = .393
    # clip 1 reaches no threshold (keeps 0); clip 4, labelled 1, is confidently 0
    assert confident_labels(probs, y).tolist() == [0, 0, 1, 1, 0]


def test_clean_confident_flags_a_mislabelled_clip():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.3, (12, 3))
    b = rng.normal(4, 0.3, (12, 3))
    vectors = np.vstack([a, b])
    truth = np.array(["A"] * 12 + ["B"] * 12)
    labels = truth.copy()
    labels[5] = "B"  # an A clip labelled B
    verified = np.zeros(24, dtype=bool)
    verified[[0, 1, 12, 13]] = True
    result = clean_confident(vectors, labels, verified, CleanConfig(pca_components=None), truth, folds=3)
    assert not result.promoted[5] and result.spread_labels[5] == "A"
    assert result.promoted.sum() >= 15
    assert result.table.iloc[-1]["promoted_precision"] == 1.0
