"""Pictures of scored predictions: confusion matrices titled with their accuracy and MAP@3."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from soundtag.ensemble import EnsembleResult
from soundtag.runs import RunFolder
from soundtag.reports.plots import plot_confusion
from soundtag.training import accuracy, confusion, map_at_k


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


def plot_run_confusion(scored: Scored, run_dir: str | Path, split: str, corpus: str | None = None) -> Path:
    """``eval-<split>/confusion.png`` beside a run's scores on ``split`` (``eval-<split>-<corpus>/`` for
    another corpus than the run's own: see :meth:`~soundtag.runs.RunFolder.evaluation_dir`)."""
    return plot_scored_confusion(scored, RunFolder(run_dir).evaluation_dir(split, corpus) / "confusion.png", split)


def plot_ensemble_confusion(result: EnsembleResult, out_dir: str | Path) -> Path:
    """``confusion.png`` beside an ensemble's ``metrics.json``."""
    return plot_scored_confusion(result, Path(out_dir) / "confusion.png", f"ensemble ({result.method})")
