"""Confident learning (Northcutt et al., 2021) as a second label cleaner, through cleanlab: out-of-fold
predicted probabilities of a logistic regression over the clip embeddings, then
``cleanlab.filter.find_label_issues`` with ``clean.filter_by`` flags the clips whose given label looks
wrong; an unverified clip that is not flagged is promoted.

A multi-label corpus (each clip a set of labels) takes the same path with one-vs-rest probabilities
and cleanlab's multi-label filter (:func:`clean_confident_multilabel`, :func:`multilabel_label_issues`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier

from soundtag.config import CleanConfig
from soundtag.labels.spreading import SpreadResult, group_table, prepare_embeddings


def out_of_fold_probabilities(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Probabilities of every clip from a logistic regression that never saw it."""
    smallest = int(np.bincount(y).min())
    splits = max(2, min(folds, smallest))
    cv = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    model = LogisticRegression(max_iter=2000, C=1.0)
    return cross_val_predict(model, x, y, cv=cv, method="predict_proba")


def out_of_fold_multilabel_probabilities(x: np.ndarray, targets: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Per-class probabilities, (clips, classes), of every clip from one-vs-rest logistic regressions that
    never saw it; ``targets`` is the 0/1 matrix of given labels. (Each column is its own probability:
    rows need not sum to 1.)"""
    splits = max(2, min(folds, len(x)))
    cv = KFold(n_splits=splits, shuffle=True, random_state=seed)
    model = OneVsRestClassifier(LogisticRegression(max_iter=2000, C=1.0))
    with warnings.catch_warnings():  # a class absent from (or in every one of) a fold's clips: a constant
        warnings.filterwarnings("ignore", "Label .* is present in all training examples", UserWarning)
        return cross_val_predict(model, x, np.asarray(targets, dtype=int), cv=cv, method="predict_proba")


def label_issues(probs: np.ndarray, labels: np.ndarray | Sequence[Sequence[int]], filter_by: str,
                 multi_label: bool = False) -> np.ndarray:
    """Which clips' given labels look wrong (a boolean mask), by ``cleanlab.filter.find_label_issues``.

    ``labels`` are class indices (one per clip), or with ``multi_label`` a list of index lists (empty for
    a clip with no label), then checked by cleanlab's multi-label form of the same function (what
    ``find_label_issues(multi_label=True)`` calls, without its deprecation warning); ``probs`` are then
    per-class probabilities whose rows need not sum to 1. ``filter_by`` is one of
    :data:`soundtag.config.ConfidentFilter`. One process (``n_jobs=1``): no worker pool is forked from a
    process that holds torch.
    """
    # cleanlab imports its own dependencies: only when cleaning
    probs = np.asarray(probs, dtype=np.float64)
    if multi_label:
        from cleanlab.multilabel_classification.filter import find_label_issues as find_multilabel_issues

        given = [[int(label) for label in row] for row in labels]
        with warnings.catch_warnings():  # for some filters cleanlab calls its own deprecated form inside
            warnings.filterwarnings("ignore", "The multi_label argument", DeprecationWarning)
            return np.asarray(find_multilabel_issues(given, probs, filter_by=filter_by, n_jobs=1), dtype=bool)
    from cleanlab.filter import find_label_issues

    return np.asarray(find_label_issues(np.asarray(labels, dtype=int), probs, filter_by=filter_by, n_jobs=1),
                      dtype=bool)


def clean_confident(vectors: np.ndarray, labels: np.ndarray, verified: np.ndarray, config: CleanConfig,
                    truth: np.ndarray | None = None, seed: int = 0, folds: int = 5) -> SpreadResult:
    """Promote the unverified clips whose given label cleanlab does not flag; same table as spreading.
    A flagged clip's cleaned label is its most probable class, the others keep theirs."""
    labels = np.asarray(labels).astype(str)
    verified = np.asarray(verified, dtype=bool)
    classes = sorted(set(labels.tolist()))
    y = np.array([classes.index(label) for label in labels])
    x = prepare_embeddings(vectors, config, seed)
    probs = out_of_fold_probabilities(x, y, folds, seed)
    flagged = label_issues(probs, y, config.filter_by)
    cleaned = np.where(flagged, np.array(classes)[probs.argmax(axis=1)], labels)
    promoted = ~verified & ~flagged
    table = group_table(np.array(["all"] * len(labels)), labels, verified, promoted, truth)
    return SpreadResult(cleaned, promoted, table)


def multilabel_label_issues(vectors: np.ndarray, labels: Sequence[Sequence[str]], classes: Sequence[str],
                            config: CleanConfig, seed: int = 0, folds: int = 5) -> np.ndarray:
    """Which clips of a multi-label corpus have a label set that looks wrong (a boolean mask): one-vs-rest
    out-of-fold probabilities over the embeddings, then ``find_label_issues(multi_label=True)``.

    >>> rng = np.random.default_rng(0)
    >>> vectors = np.vstack([rng.normal(0, 1, (20, 4)), rng.normal(5, 1, (20, 4))])
    >>> labels = [("a",)] * 20 + [("b",)] * 20
    >>> multilabel_label_issues(vectors, labels, ["a", "b"], CleanConfig(pca_components=None)).any()
    np.False_
    """
    return _multilabel_issues(vectors, labels, classes, config, seed, folds)[0]


def clean_confident_multilabel(vectors: np.ndarray, labels: Sequence[Sequence[str]], verified: np.ndarray,
                               config: CleanConfig, seed: int = 0, folds: int = 5) -> SpreadResult:
    """:func:`clean_confident` for a multi-label corpus: ``labels`` are label sets (an empty one: none of
    the classes). Promote the unverified clips whose label set cleanlab's multi-label filter does not flag;
    a flagged clip's cleaned set is the classes of probability 0.5 or more, the others keep theirs. The
    table has counts only (true labels are one per clip: they cannot score label sets).
    """
    given = [tuple(clip) for clip in labels]
    verified = np.asarray(verified, dtype=bool)
    classes = sorted({label for clip in given for label in clip})
    flagged, probs = _multilabel_issues(vectors, given, classes, config, seed, folds)
    cleaned = label_set_array([tuple(c for c, p in zip(classes, row) if p >= 0.5) if bad else clip
                               for clip, row, bad in zip(given, probs, flagged)])
    promoted = ~verified & ~flagged
    table = group_table(np.array(["all"] * len(given)), label_set_array(given), verified, promoted, None)
    return SpreadResult(cleaned, promoted, table)


def label_set_array(sets: Sequence[Sequence[str]]) -> np.ndarray:
    """A 1-d object array holding one tuple of labels per clip (numpy would make equal-length tuples a
    2-d array).

    >>> label_set_array([("a", "b"), ()]).tolist()
    [('a', 'b'), ()]
    """
    array = np.empty(len(sets), dtype=object)
    for i, labels in enumerate(sets):
        array[i] = tuple(labels)
    return array


def _multilabel_issues(vectors: np.ndarray, labels: Sequence[Sequence[str]], classes: Sequence[str],
                       config: CleanConfig, seed: int, folds: int) -> tuple[np.ndarray, np.ndarray]:
    """The flagged mask and the out-of-fold per-class probabilities it was found from."""
    index = {label: i for i, label in enumerate(classes)}
    rows = [sorted(index[label] for label in set(clip)) for clip in labels]
    targets = np.zeros((len(rows), len(classes)), dtype=int)
    for clip, row in enumerate(rows):
        targets[clip, row] = 1
    x = prepare_embeddings(vectors, config, seed)
    probs = out_of_fold_multilabel_probabilities(x, targets, folds, seed)
    return label_issues(probs, rows, config.filter_by, multi_label=True), probs
