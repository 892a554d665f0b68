"""Pictures of scored predictions: confusion matrices titled with their accuracy and MAP@3 for
single-label runs; for multi-label runs, whose clips hold any number of classes (so a confusion matrix
has no meaning), bars of each class's average precision titled with lwlrap and macro mAP."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from soundtag.ensemble import EnsembleResult
from soundtag.runs import RunFolder
from soundtag.reports.plots import plot_confusion, save_figure, subplots
from soundtag.training import accuracy, confusion, lwlrap, map_at_k, mean_average_precision, per_class_average_precision

CONFUSION_FILE = "confusion.png"
AVERAGE_PRECISION_FILE = "average_precision.png"


class Scored(Protocol):
    """Probabilities of clips (one row each), their target indices, and the class labels: a run's
    :class:`~soundtag.inference.EvaluationResult` or :class:`~soundtag.ensemble.RunScores`, or an
    :class:`~soundtag.ensemble.EnsembleResult`."""

    probabilities: np.ndarray
    targets: np.ndarray
    labels: list[str]


def plot_scored_confusion(scored: Scored, path: str | Path, heading: str) -> Path:
    """The confusion matrix of ``scored`` at ``path``, titled ``heading: accuracy A, MAP@3 M``."""
    probs, targets = scored.probabilities, scored.targets
    plot_confusion(confusion(probs, targets), scored.labels, path,
                   title=f"{heading}: accuracy {accuracy(probs, targets):.3f}, MAP@3 {map_at_k(probs, targets, 3):.3f}")
    return Path(path)


def plot_class_average_precision(scored: Scored, path: str | Path, heading: str) -> Path:
    """Horizontal bars of each class's average precision (classes no clip holds are listed without a
    bar), titled ``heading: lwlrap L, mAP M``; ``scored.targets`` is a (clips, classes) 0/1 matrix."""
    probs, truth = scored.probabilities, scored.targets
    ap = per_class_average_precision(probs, truth)
    fig, ax = subplots(figsize=(6, max(2.5, 0.22 * len(scored.labels) + 1)))
    rows = np.arange(len(scored.labels))
    ax.barh(rows, np.nan_to_num(ap), color="tab:blue")
    ax.set_yticks(rows, [label if np.isfinite(v) else f"{label} (no clip)" for label, v in zip(scored.labels, ap)],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("average precision")
    ax.set_title(f"{heading}: lwlrap {lwlrap(probs, truth):.3f}, mAP {mean_average_precision(probs, truth):.3f}")
    save_figure(fig, path)
    return Path(path)


def plot_run_confusion(scored: Scored, run_dir: str | Path, split: str, corpus: str | None = None,
                       stage: str | None = None) -> Path:
    """``eval-<split>/confusion.png`` beside a run's scores on ``split`` (``eval-<split>-<corpus>/`` for
    another corpus than the run's own: see :meth:`~soundtag.runs.RunFolder.evaluation_dir`), titled
    with the split (``"<stage> (<split>)"`` given a ``stage`` name)."""
    heading = f"{stage} ({split})" if stage else split
    return plot_scored_confusion(scored, RunFolder(run_dir).evaluation_dir(split, corpus) / CONFUSION_FILE, heading)


def plot_run_scores(scored: Scored, run_dir: str | Path, split: str, corpus: str | None = None) -> Path:
    """The picture of a run's scores on ``split`` beside its ``metrics.json``: the confusion matrix
    (:func:`plot_run_confusion`), or for a multi-label run (``scored.multi_label``) the per-class
    average precision in ``average_precision.png``."""
    if not getattr(scored, "multi_label", False):
        return plot_run_confusion(scored, run_dir, split, corpus)
    path = RunFolder(run_dir).evaluation_dir(split, corpus) / AVERAGE_PRECISION_FILE
    return plot_class_average_precision(scored, path, split)


def plot_ensemble_confusion(result: EnsembleResult, out_dir: str | Path, stage: str = "ensemble") -> Path:
    """``confusion.png`` beside an ensemble's ``metrics.json``, titled ``"<stage> (<method>)"``."""
    return plot_scored_confusion(result, Path(out_dir) / CONFUSION_FILE, f"{stage} ({result.method})")
