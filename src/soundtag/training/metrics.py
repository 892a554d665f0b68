"""Scores: Kaggle's MAP@k, accuracy, per-class average precision and the confusion matrix for
single-label clips; lwlrap, macro mean average precision, F1 at thresholds and the choice of per-class
thresholds for multi-label clips (``truth`` is then a (clips, classes) 0/1 matrix, a row of zeros for
a clip holding none of the classes).
"""

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
    """Average precision of each class (NaN for a class with no positive clip); ``targets`` are class
    indices, or a (clips, classes) 0/1 matrix for multi-label clips."""
    from sklearn.metrics import average_precision_score  # imported here: scikit-learn adds 2 s to every CLI start

    truth = as_multi_hot(targets, probabilities.shape[1])
    result = np.full(probabilities.shape[1], np.nan)
    for c in range(probabilities.shape[1]):
        positives = truth[:, c]
        if positives.any():
            result[c] = average_precision_score(positives, probabilities[:, c])
    return result


def confusion(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Counts of (true class, predicted class)."""
    from sklearn.metrics import confusion_matrix

    n = probabilities.shape[1]
    return confusion_matrix(targets, probabilities.argmax(axis=1), labels=np.arange(n))


# --- multi-label -----------------------------------------------------------------------------------

THRESHOLD_GRID = np.round(np.arange(0.10, 0.90 + 1e-9, 0.05), 2)
"""The thresholds :func:`choose_thresholds` tries: 0.10 to 0.90 every 0.05; 0.10 is the floor, so a class
whose validation F1 peaks lower still needs a probability of 0.10 before it is tagged."""

DEFAULT_THRESHOLD = 0.5
"""The threshold of a class no validation clip holds (and of every class of a run without validation
clips): the point where a sigmoid output says "more likely present than not"."""


def as_multi_hot(targets: np.ndarray, n_classes: int) -> np.ndarray:
    """``targets`` as a (clips, classes) boolean matrix: class indices (one per clip) become one-hot
    rows, a 0/1 matrix is taken as it is.

    >>> as_multi_hot(np.array([2, 0]), 3).astype(int).tolist()
    [[0, 0, 1], [1, 0, 0]]
    """
    targets = np.asarray(targets)
    if targets.ndim == 2:
        return targets > 0.5
    truth = np.zeros((len(targets), n_classes), dtype=bool)
    truth[np.arange(len(targets)), targets.astype(int)] = True
    return truth


def lwlrap(scores: np.ndarray, truth: np.ndarray) -> float:
    """Label-weighted label-ranking average precision (FSDKaggle2019's metric).

    For every (clip, true label) pair, the precision at that label's rank in the clip's ranking: of the
    labels scored at least as high as it, the share that are true labels of the clip (ties count
    against, as scikit-learn's label-ranking average precision counts them). lwlrap is the mean over
    all pairs, so every true label weighs the same and a class weighs by how often it occurs; clips
    without labels add nothing. 0.0 when no clip has a label.

    >>> lwlrap(np.array([[0.9, 0.5, 0.1], [0.2, 0.7, 0.6]]), np.array([[1, 0, 1], [1, 0, 0]]))
    0.6666666666666666

    (Clip 1: label 0 is ranked first, precision 1; label 2 third, behind one true label, 2/3. Clip 2:
    label 0 is ranked third, 1/3. The mean over the three pairs is 2/3.)
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = as_multi_hot(truth, scores.shape[1])
    total, pairs = 0.0, 0
    for row, positive in zip(scores, truth):
        if not positive.any():
            continue
        at_least = row[None, :] >= row[positive][:, None]  # (true labels, classes): ranked at or above
        total += float((at_least[:, positive].sum(axis=1) / at_least.sum(axis=1)).sum())
        pairs += int(positive.sum())
    return total / pairs if pairs else 0.0


def mean_average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """Macro mean of the classes' average precision (scikit-learn's ``average_precision_score``);
    classes no clip holds have no average precision and are left out of the mean. 0.0 when none is
    held."""
    ap = per_class_average_precision(np.asarray(scores), truth)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else 0.0


def f1_per_class(scores: np.ndarray, truth: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    """F1 of each class when a clip is given every class whose score is at or above its threshold:
    2 TP / (2 TP + FP + FN); NaN for a class neither held nor predicted (0/0)."""
    scores = np.asarray(scores)
    truth = as_multi_hot(truth, scores.shape[1])
    predicted = scores >= np.asarray(thresholds, dtype=np.float64)
    tp = (predicted & truth).sum(axis=0)
    wrong = (predicted ^ truth).sum(axis=0)  # FP + FN
    denominator = 2 * tp + wrong
    return np.divide(2 * tp, denominator, out=np.full(len(tp), np.nan), where=denominator > 0)


def f1_scores(scores: np.ndarray, truth: np.ndarray, thresholds: np.ndarray | float) -> tuple[float, float]:
    """(macro F1, micro F1) at ``thresholds`` (one per class, or one for all). The macro mean leaves out
    the classes neither held nor predicted (their F1 is 0/0); micro F1 pools every decision. 0.0 when
    there is nothing to score."""
    scores = np.asarray(scores)
    truth = as_multi_hot(truth, scores.shape[1])
    per_class = f1_per_class(scores, truth, thresholds)
    macro = float(np.nanmean(per_class)) if np.isfinite(per_class).any() else 0.0
    predicted = scores >= np.asarray(thresholds, dtype=np.float64)
    tp, wrong = int((predicted & truth).sum()), int((predicted ^ truth).sum())
    micro = 2 * tp / (2 * tp + wrong) if 2 * tp + wrong else 0.0
    return macro, float(micro)


def choose_thresholds(scores: np.ndarray, truth: np.ndarray, grid: np.ndarray = THRESHOLD_GRID,
                      default: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """One threshold per class: the value of ``grid`` where the class's F1 on these clips is best.

    Where several give the best F1 the middle one is taken (of an even count, the lower middle), which
    keeps the threshold away from both edges of the clips that decided it. A class no clip holds gets
    ``default``. The grid's lowest value is a floor: no class is tagged below it.

    >>> choose_thresholds(np.array([[0.8], [0.6], [0.3], [0.2]]), np.array([[1], [1], [0], [0]])).tolist()
    [0.45]
    """
    scores = np.asarray(scores)
    truth = as_multi_hot(truth, scores.shape[1])
    grid = np.asarray(grid, dtype=np.float64)
    f1 = np.stack([np.nan_to_num(f1_per_class(scores, truth, t)) for t in grid])  # (grid, classes)
    chosen = np.full(scores.shape[1], float(default))
    for c in np.flatnonzero(truth.any(axis=0)):
        best = np.flatnonzero(f1[:, c] >= f1[:, c].max() - 1e-12)
        chosen[c] = grid[best[(len(best) - 1) // 2]]
    return chosen
