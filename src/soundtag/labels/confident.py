"""Confident learning (Northcutt et al., 2021) as a second label cleaner: out-of-fold predicted
probabilities, a per-class threshold (the mean self-confidence of the class), and a clip's
confident label = its most probable class among those above their thresholds.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from soundtag.config import CleanConfig
from soundtag.labels.spreading import SpreadResult, group_table, prepare_embeddings


def out_of_fold_probabilities(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Probabilities of every clip from a logistic regression that never saw it."""
    smallest = int(np.bincount(y).min())
    splits = max(2, min(folds, smallest))
    cv = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    model = LogisticRegression(max_iter=2000, C=1.0)
    return cross_val_predict(model, x, y, cv=cv, method="predict_proba")


def confident_labels(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per clip, the most probable class among those at or above their per-class threshold
    (the given label where no class reaches its threshold).
    """
    thresholds = np.array([probs[y == j, j].mean() if (y == j).any() else 1.0 for j in range(probs.shape[1])])
    above = probs >= thresholds
    masked = np.where(above, probs, -1.0)
    return np.where(above.any(axis=1), masked.argmax(axis=1), y)


def clean_confident(vectors: np.ndarray, labels: np.ndarray, verified: np.ndarray, config: CleanConfig,
                    truth: np.ndarray | None = None, seed: int = 0, folds: int = 5) -> SpreadResult:
    """Promote unverified clips whose confident label equals the given one; same table as spreading."""
    labels = np.asarray(labels).astype(str)
    verified = np.asarray(verified, dtype=bool)
    classes = sorted(set(labels.tolist()))
    y = np.array([classes.index(label) for label in labels])
    x = prepare_embeddings(vectors, config, seed)
    probs = out_of_fold_probabilities(x, y, folds, seed)
    confident = np.array(classes)[confident_labels(probs, y)]
    promoted = ~verified & (confident == labels)
    table = group_table(np.array(["all"] * len(labels)), labels, verified, promoted, truth)
    return SpreadResult(confident, promoted, table)
