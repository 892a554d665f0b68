"""Ensembles of trained runs: choose the runs above a validation score, align their probabilities on
the clips they share, combine them, and write ``metrics.json`` and a Kaggle ``submission.csv``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soundtag.ensemble.combine import combine_probabilities, select_runs
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.training import accuracy, map_at_k, top_k


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

    def metrics(self) -> dict:
        """``method``, ``runs``, ``weights``, ``map3``, ``accuracy`` and ``n_clips``, JSON-ready."""
        return {"method": self.method, "runs": self.runs, "weights": self.weights,
                "map3": map_at_k(self.probabilities, self.targets, 3),
                "accuracy": accuracy(self.probabilities, self.targets), "n_clips": len(self.fnames)}


def ensemble_runs(by_name: dict[str, RunScores], method: str, min_score: float,
                  weights: list[float] | None = None) -> EnsembleResult:
    """Combine the named runs whose validation score is at least ``min_score`` on their common clips.

    ``weights`` are given in the order of ``by_name``; ``weighted`` without them weighs each run by
    its validation score.
    """
    chosen = select_runs({name: r.val_score for name, r in by_name.items()}, min_score)
    if not chosen:
        raise SoundtagError(f"no run reaches the minimum validation score {min_score}")
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
    return EnsembleResult(method, chosen, weights, common, probs, first.targets[first.rows(common)], first.labels)


def write_ensemble(result: EnsembleResult, out_dir: str | Path) -> dict:
    """Write ``metrics.json`` and ``submission.csv`` (top 3 labels per clip) in ``out_dir``; the metrics."""
    out_dir = Path(out_dir)
    metrics = result.metrics()
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    best = top_k(result.probabilities, 3)
    rows = [(f, " ".join(result.labels[i] for i in row)) for f, row in zip(result.fnames, best)]
    atomic_write_text(out_dir / "submission.csv", pd.DataFrame(rows, columns=["fname", "label"]).to_csv(index=False))
    return metrics
