"""What ``soundtag experiment`` found, as typed records: the test scores of every model and ensemble,
each stage's seconds, both recipes' results, and the label cleaners' figures. ``to_dict`` gives the
content of ``summary.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from soundtag.config import RecipeConfig
from soundtag.ensemble import EnsembleResult, RunScores, top_class_share
from soundtag.fileio import atomic_write_text
from soundtag.runs import RunFolder
from soundtag.training import accuracy, map_at_k, top_k

CLEANER_COLUMNS = ("promoted", "promoted_pct", "promoted_precision", "wrong_caught_pct")


@dataclass
class StageScores:
    """Test scores of one model (with its validation MAP@3) or one ensemble (with its runs and method).

    ``map3_se`` is the standard error of the test MAP@3: the standard deviation of the clips' AP@3
    over the square root of their number. A model also records its best epoch of ``epochs`` run,
    and why it looks collapsed (``collapsed``, in words); both record the class predicted most often
    and its share of the clips; an ensemble, which runs it ``left_out`` and why.
    """

    map3: float
    accuracy: float
    n_clips: int
    val_map3: float | None = None
    runs: list[str] | None = None
    method: str | None = None
    map3_se: float | None = None
    best_epoch: int | None = None
    epochs: int | None = None
    top_class: str | None = None
    top_class_share: float | None = None
    collapsed: str | None = None
    left_out: dict[str, str] | None = None

    @classmethod
    def of_run(cls, scores: RunScores) -> StageScores:
        top_class, share = scores.top_class_share()
        best, epochs = scores.epochs() or (None, None)
        return cls(map_at_k(scores.probabilities, scores.targets, 3), accuracy(scores.probabilities, scores.targets),
                   len(scores.fnames), val_map3=scores.val_score,
                   map3_se=map3_standard_error(scores.probabilities, scores.targets), best_epoch=best, epochs=epochs,
                   top_class=top_class, top_class_share=share, collapsed=scores.collapse_reason())

    @classmethod
    def of_ensemble(cls, result: EnsembleResult) -> StageScores:
        metrics = result.metrics()
        top_class, share = top_class_share(result.probabilities, result.labels)
        return cls(metrics["map3"], metrics["accuracy"], metrics["n_clips"], runs=result.runs, method=result.method,
                   map3_se=map3_standard_error(result.probabilities, result.targets), top_class=top_class,
                   top_class_share=share, left_out=result.left_out or None)

    def to_dict(self) -> dict[str, Any]:
        optional = {"val_map3": self.val_map3, "runs": self.runs, "method": self.method, "map3_se": self.map3_se,
                    "best_epoch": self.best_epoch, "epochs": self.epochs, "top_class": self.top_class,
                    "top_class_share": self.top_class_share, "collapsed": self.collapsed, "left_out": self.left_out}
        return {"map3": self.map3, "accuracy": self.accuracy, "n_clips": self.n_clips,
                **{key: value for key, value in optional.items() if value is not None}}


def map3_standard_error(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Standard error of MAP@3 over these clips: std of the per-clip AP@3 (1, 1/2, 1/3 or 0) / sqrt(n).

    >>> round(map3_standard_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1])), 3)
    0.25
    """
    n = len(targets)
    if n < 2:
        return 0.0
    ranked = top_k(probabilities, 3)
    per_clip = ((ranked == np.asarray(targets)[:, None]) / np.arange(1, ranked.shape[1] + 1)).sum(axis=1)
    return float(per_clip.std(ddof=1) / np.sqrt(n))


@dataclass
class RecipeSummary:
    """A recipe's final test scores, the training minutes of every model it trains and their folders;
    for the second recipe, also its ``recipe`` section (members, cleaner, overrides)."""

    map3: float
    accuracy: float
    train_minutes: float
    runs: list[str]
    members: int | None = None
    cleaner: str | None = None
    overrides: list[str] | None = None

    @classmethod
    def of(cls, final: StageScores, run_dirs: list[Path], recipe: RecipeConfig | None = None) -> RecipeSummary:
        second = {} if recipe is None else {"members": recipe.members, "cleaner": recipe.cleaner,
                                            "overrides": recipe.overrides}
        return cls(final.map3, final.accuracy, round(sum(training_minutes(d) for d in run_dirs), 2),
                   [str(d) for d in run_dirs], **second)

    def to_dict(self) -> dict[str, Any]:
        data = {"map3": self.map3, "accuracy": self.accuracy, "train_minutes": self.train_minutes, "runs": self.runs}
        if self.members is not None:
            data.update(members=self.members, cleaner=self.cleaner, overrides=self.overrides)
        return data


@dataclass
class ExperimentSummary:
    """Everything ``summary.json`` holds.

    ``spreading`` maps ``embedding`` (and ``mfcc_reference`` when spreading ran over latents) to each
    scheme's share promoted and precision; ``cleaners`` (second recipe with the confident cleaner only)
    lists the spreading scheme's and the confident cleaner's rows in the same columns.
    """

    stages: dict[str, StageScores]
    seconds: dict[str, float]
    spread_scheme: str
    spread_embedding: str
    spreading: dict[str, dict[str, dict[str, float]]]
    recipes: dict[str, RecipeSummary]
    cleaners: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"stages": {name: s.to_dict() for name, s in self.stages.items()}, "seconds": self.seconds,
                "spread_scheme": self.spread_scheme, "spread_embedding": self.spread_embedding,
                "spreading": self.spreading, "recipes": {name: r.to_dict() for name, r in self.recipes.items()}}
        if self.cleaners is not None:
            data["cleaners"] = self.cleaners
        return data

    def write(self, path: str | Path) -> None:
        """``summary.json``, atomically (numpy numbers written as JSON numbers)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, default=float) + "\n")


def training_minutes(run_dir: str | Path) -> float:
    """Minutes of training a run folder records (the sum of its epochs' wall-clock seconds)."""
    return float(pd.read_csv(RunFolder(run_dir).metrics_path)["seconds"].sum()) / 60


def spreading_summary(compare: pd.DataFrame, reference: pd.DataFrame | None) -> dict[str, dict[str, dict[str, float]]]:
    """Per scheme, share promoted and precision for the embedding used (and the MFCC reference)."""
    def rows(frame: pd.DataFrame) -> dict:
        columns = [c for c in CLEANER_COLUMNS if c in frame]
        return {row["scheme"]: {c: row[c] for c in columns} for _, row in frame.iterrows()}

    result = {"embedding": rows(compare)}
    if reference is not None:
        result["mfcc_reference"] = rows(reference)
    return json.loads(json.dumps(result, default=float))


def cleaner_summary(compare: pd.DataFrame, confident: pd.DataFrame, scheme: str) -> list[dict[str, Any]]:
    """The spreading scheme's total row and the confident cleaner's, in the same columns."""
    columns = [c for c in CLEANER_COLUMNS if c in confident]
    spreading_row = compare.set_index("scheme").loc[scheme]
    return [{"cleaner": f"label spreading ({scheme})", **{c: spreading_row[c] for c in columns}},
            {"cleaner": "confident learning", **{c: confident.iloc[-1][c] for c in columns}}]
