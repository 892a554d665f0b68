"""Ensembles of trained runs: choose the runs above a validation score (leaving out collapsed ones
when asked), align their probabilities on the clips they share, combine them, and write
``metrics.json`` and a Kaggle ``submission.csv``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from soundtag.ensemble.combine import combine_probabilities, select_runs
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.runs import RunFolder
from soundtag.training import accuracy, map_at_k, top_k

COLLAPSED_SHARE = 0.8  # a run predicting one class for more than this share of its clips has collapsed
SCORE_COLUMNS = ("val_map3", "val_lwlrap", "val_acc")  # the first present picks a run's best epoch


@dataclass
class RunScores:
    """Class probabilities of one run's clips (one row per name in ``fnames``), their target indices
    into ``labels``, and the run's validation score."""

    run_dir: Path
    val_score: float
    fnames: list[str]
    probabilities: np.ndarray
    targets: np.ndarray
    labels: list[str]

    def rows(self, fnames: list[str]) -> list[int]:
        """Row of each of ``fnames`` (all must be clips of this run)."""
        position = {f: i for i, f in enumerate(self.fnames)}
        return [position[f] for f in fnames]

    def top_class_share(self) -> tuple[str, float]:
        """The class predicted (top 1) most often and the share of clips it is predicted for."""
        return top_class_share(self.probabilities, self.labels)

    def epochs(self) -> tuple[int, int] | None:
        """(best epoch, epochs run) from the run's ``metrics.csv``; None without one."""
        return best_epoch(self.run_dir)

    def collapse_reason(self) -> str | None:
        """Why this run looks collapsed, in words, or None: see :func:`collapse_reason`."""
        return collapse_reason(self.epochs(), self.top_class_share())


@dataclass
class EnsembleResult:
    """Combined probabilities of the chosen runs on their common clips."""

    method: str
    runs: list[str]
    weights: list[float] | None
    fnames: list[str]
    probabilities: np.ndarray
    targets: np.ndarray
    labels: list[str]
    left_out: dict[str, str] = field(default_factory=dict)  # run -> why it was left out

    def metrics(self) -> dict:
        """``method``, ``runs``, ``weights``, ``map3``, ``accuracy`` and ``n_clips`` (and ``left_out``
        when runs were left out), JSON-ready."""
        metrics = {"method": self.method, "runs": self.runs, "weights": self.weights,
                   "map3": map_at_k(self.probabilities, self.targets, 3),
                   "accuracy": accuracy(self.probabilities, self.targets), "n_clips": len(self.fnames)}
        return {**metrics, "left_out": self.left_out} if self.left_out else metrics


def top_class_share(probabilities: np.ndarray, labels: list[str]) -> tuple[str, float]:
    """The class most often ranked first and the share of rows (clips) that rank it first.

    >>> top_class_share(np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]), ["a", "b"])
    ('a', 0.6666666666666666)
    """
    if len(probabilities) == 0:
        return labels[0] if labels else "", 0.0
    counts = np.bincount(probabilities.argmax(axis=1), minlength=len(labels))
    return labels[int(counts.argmax())], float(counts.max() / counts.sum())


def best_epoch(run_dir: str | Path) -> tuple[int, int] | None:
    """(best epoch, epochs run) of a run folder, from its ``metrics.csv``: the first epoch with the
    highest validation score (as the trainer keeps ``best.pt``); None without metrics or a score."""
    path = RunFolder(run_dir).metrics_path
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    column = next((c for c in SCORE_COLUMNS if c in frame.columns), None)
    if column is None or frame.empty:
        return None
    return int(frame["epoch"].iloc[int(frame[column].to_numpy().argmax())]), int(frame["epoch"].max())


def collapse_reason(epochs: tuple[int, int] | None, top_class: tuple[str, float]) -> str | None:
    """Why a run looks collapsed, in words, or None: its best epoch was the first of several (it
    never improved), or it predicts one class for more than ``COLLAPSED_SHARE`` of the clips.

    >>> collapse_reason((1, 20), ("Bark", 0.3))
    'best epoch 1 of 20: it never improved after the first epoch'
    >>> collapse_reason((7, 20), ("Bark", 0.9))
    "predicts 'Bark' for 90 % of the test clips"
    """
    reasons = []
    if epochs is not None and epochs[0] == 1 and epochs[1] > 1:
        reasons.append(f"best epoch 1 of {epochs[1]}: it never improved after the first epoch")
    label, share = top_class
    if share > COLLAPSED_SHARE:
        reasons.append(f"predicts '{label}' for {100 * share:.0f} % of the test clips")
    return "; ".join(reasons) or None


def ensemble_runs(by_name: dict[str, RunScores], method: str, min_score: float,
                  weights: list[float] | None = None, keep_collapsed: bool = True) -> EnsembleResult:
    """Combine the named runs whose validation score is at least ``min_score`` on their common clips.

    ``weights`` are given in the order of ``by_name``; ``weighted`` without them weighs each run by
    its validation score. With ``keep_collapsed`` False, runs that look collapsed
    (:func:`collapse_reason`) are left out too, unless that would leave none; ``left_out`` of the
    result says which runs were left out and why.
    """
    scores = {name: r.val_score for name, r in by_name.items()}
    chosen = select_runs(scores, min_score)
    if not chosen:
        raise SoundtagError(f"no run reaches the minimum validation score {min_score}")
    left_out = {n: f"validation score {scores[n]:.3f} below the minimum {min_score}"
                for n in by_name if n not in chosen}
    if not keep_collapsed:
        collapsed = {n: reason for n in chosen if (reason := by_name[n].collapse_reason())}
        if len(collapsed) < len(chosen):
            left_out.update({n: f"collapsed: {reason}" for n, reason in collapsed.items()})
            chosen = [n for n in chosen if n not in collapsed]
    if len({tuple(by_name[n].labels) for n in chosen}) > 1:
        raise SoundtagError("runs to ensemble must share one label set")
    if method == "weighted" and not weights:
        weights = [by_name[n].val_score for n in chosen]
    elif weights:
        if len(weights) != len(by_name):
            raise SoundtagError(f"give one weight per run ({len(by_name)}), got {len(weights)}")
        names = list(by_name)
        weights = [weights[names.index(n)] for n in chosen]
    common = sorted(set.intersection(*(set(by_name[n].fnames) for n in chosen)))
    probs = combine_probabilities([by_name[n].probabilities[by_name[n].rows(common)] for n in chosen], method, weights)
    first = by_name[chosen[0]]
    return EnsembleResult(method, chosen, weights, common, probs, first.targets[first.rows(common)], first.labels,
                          left_out)


def write_ensemble(result: EnsembleResult, out_dir: str | Path) -> dict:
    """Write ``metrics.json`` and ``submission.csv`` (top 3 labels per clip) in ``out_dir``; the metrics."""
    out_dir = Path(out_dir)
    metrics = result.metrics()
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    best = top_k(result.probabilities, 3)
    rows = [(f, " ".join(result.labels[i] for i in row)) for f, row in zip(result.fnames, best)]
    atomic_write_text(out_dir / "submission.csv", pd.DataFrame(rows, columns=["fname", "label"]).to_csv(index=False))
    return metrics
