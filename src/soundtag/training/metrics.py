"""Scores: Kaggle's MAP@k, accuracy, per-class average precision and the confusion matrix."""

from __future__ import annotations

import numpy as np


def top_k(probabilities: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` most probable classes per row, best first (ties: lower index first)."""
    return np.argsort(-probabilities, axis=1, kind="stable")[:, :k]


def map_at_k(probabilities: np.ndarray, targets: np.ndarray, k: int = 3) -> float:
    """Mean average precision at k with one true label per clip, as scored on Kaggle.

    A clip scores 1/rank when its label is ranked within the top k, else 0.

    >>> map_at_k(np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]), np.array([2, 0]))
    0.75
    """
    if len(targets) == 0:
        return 0.0
    ranked = top_k(probabilities, k)
    hits = ranked == np.asarray(targets)[:, None]
    scores = (hits / np.arange(1, ranked.shape[1] + 1)).sum(axis=1)
    return float(scores.mean())


def accuracy(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Share of clips whose top class is the target."""
    if len(targets) == 0:
        return 0.0
    return float((probabilities.argmax(axis=1) == np.asarray(targets)).mean())


def per_class_average_precision(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Average precision of each class (NaN for a class with no positive clip)."""
    from sklearn.metrics import average_precision_score  # imported here: scikit-learn adds 2 s to every CLI start

    result = np.full(probabilities.shape[1], np.nan)
    for c in range(probabilities.shape[1]):
        positives = np.asarray(targets) == c
        if positives.any():
            result[c] = average_precision_score(positives, probabilities[:, c])
    return result


def confusion(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Counts of (true class, predicted class)."""
    from sklearn.metrics import confusion_matrix

    n = probabilities.shape[1]
    return confusion_matrix(targets, probabilities.argmax(axis=1), labels=np.arange(n))
