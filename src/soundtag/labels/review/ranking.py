"""Which unverified clips a person should hear first: those whose given label the cleaners doubt most.

Three signals, each turned into a "how wrong" number in [0, 1] and averaged into ``doubt``:

- confident learning's label quality (cleanlab's ``self_confidence``: the out-of-fold probability of the
  given label from a logistic regression over per-clip MFCC statistics), as ``1 - quality``; its
  verdict (``cl_doubts``) is :func:`~soundtag.labels.confident.label_issues` with ``clean.filter_by``;
- label spreading's disagreement (``spread_doubts``: the spread label is not the given one), or with an
  experiment, the clips its spreading did not promote;
- with a trained run, the model's probability of the given label (``model_probability``), as ``1 - p``.

The suggestions shown beside each clip are the run's top classes, else the out-of-fold ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soundtag.config import AudioConfig, CleanConfig
from soundtag.data import Clip, Corpus
from soundtag.labels.confident import (
    label_issues,
    out_of_fold_multilabel_probabilities,
    out_of_fold_probabilities,
)
from soundtag.labels.embeddings import mfcc_statistics
from soundtag.fileio import atomic_write_text
from soundtag.labels.spreading import prepare_embeddings, spread_labels

SUGGESTIONS = 3
RANKING_FILE = "ranking.csv"
RANKING_KEY_FILE = "ranking.json"

VERDICTS = {
    "cl_doubts": "confident learning doubts",
    "spread_doubts": "spreading doubts",
    "model_doubts": "model's top class differs",
    "none_doubt": "no cleaner doubts",
}
"""The verdict filters of the page, by column (``none_doubt``: none of the others)."""


@dataclass
class ModelProbabilities:
    """A trained model's class probabilities of some clips (``classes`` sorted, as a run's label map)."""

    fnames: list[str]
    probabilities: np.ndarray
    classes: list[str]

    def of(self, fnames: list[str]) -> np.ndarray:
        """Rows for ``fnames`` in that order (NaN for a clip the model did not score)."""
        row = {fname: i for i, fname in enumerate(self.fnames)}
        out = np.full((len(fnames), len(self.classes)), np.nan)
        for i, fname in enumerate(fnames):
            if fname in row:
                out[i] = self.probabilities[row[fname]]
        return out


def given_text(labels: tuple[str, ...]) -> str:
    """A clip's given labels as one cell: comma-separated (empty: none of the classes)."""
    return ",".join(labels)


def rank_unverified(corpus: Corpus, clean: CleanConfig, audio: AudioConfig, cache_dir: str | None,
                    seed: int = 2018, num_workers: int = 2, model: ModelProbabilities | None = None,
                    promoted: dict[str, set[str]] | None = None, progress: bool = True) -> pd.DataFrame:
    """The ranking table of ``corpus``'s unverified train clips, most doubted first (see the module).

    ``promoted`` replaces a computed verdict by a cleaner's output: ``{"spread_doubts": fnames promoted}``
    (an experiment's spreading), ``{"cl_doubts": ...}`` (its confident learning); an unverified clip not
    promoted is doubted. Clips that cannot be decoded are left out.
    """
    clips, vectors = mfcc_statistics(corpus.train, audio, cache_dir, num_workers, progress)
    classes = list(corpus.labels)
    given = [clip.labels for clip in clips]
    verified = np.array([bool(clip.verified) for clip in clips])
    x = prepare_embeddings(vectors, clean, seed)
    if corpus.multi_label:
        probs, quality, cl_doubts = _multilabel_quality(x, given, classes, clean, seed)
        spread = np.full(len(clips), np.nan)  # label spreading is single-label
    else:
        probs, quality, cl_doubts = _quality(x, given, classes, clean, seed)
        spread = _spread_doubts(vectors, given, verified, clean, seed)
    for column, kept in (promoted or {}).items():
        doubted = np.array([clip.fname not in kept for clip in clips], dtype=float)
        if column == "spread_doubts":
            spread = doubted
        else:
            cl_doubts = doubted.astype(bool)
    table = _table(clips, classes, probs, quality, cl_doubts, spread, model)
    return table[~verified].sort_values(["doubt", "label_quality"], ascending=[False, True],
                                        kind="stable").reset_index(drop=True)


def _quality(x: np.ndarray, given: list[tuple[str, ...]], classes: list[str], clean: CleanConfig, seed: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold probabilities over all classes, self-confidence of the given label, cleanlab's verdict."""
    present = sorted({labels[0] for labels in given})
    y = np.array([present.index(labels[0]) for labels in given])
    oof = out_of_fold_probabilities(x, y, folds=5, seed=seed)
    probs = np.zeros((len(given), len(classes)))
    probs[:, [classes.index(label) for label in present]] = oof
    return probs, oof[np.arange(len(y)), y], label_issues(oof, y, clean.filter_by)


def _multilabel_quality(x: np.ndarray, given: list[tuple[str, ...]], classes: list[str], clean: CleanConfig,
                        seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-vs-rest out-of-fold probabilities; quality: the least probable given label (a clip of none of
    the classes: one minus its most probable class); cleanlab's multi-label verdict."""
    index = {label: i for i, label in enumerate(classes)}
    targets = np.zeros((len(given), len(classes)), dtype=int)
    for row, labels in zip(targets, given):
        row[[index[label] for label in labels]] = 1
    probs = out_of_fold_multilabel_probabilities(x, targets, folds=5, seed=seed)
    quality = np.array([probs[i, targets[i] == 1].min() if targets[i].any() else 1 - probs[i].max()
                        for i in range(len(given))])
    rows = [sorted(index[label] for label in labels) for labels in given]
    return probs, quality, label_issues(probs, rows, clean.filter_by, multi_label=True)


def _spread_doubts(vectors: np.ndarray, given: list[tuple[str, ...]], verified: np.ndarray, clean: CleanConfig,
                   seed: int) -> np.ndarray:
    """1 where label spreading over all clips (one group) gives another label than the given one, else 0."""
    labels = np.array([labels[0] for labels in given])
    groups = {label: "all" for label in set(labels.tolist())}
    spread = spread_labels(vectors, labels, verified, groups, clean, None, seed).spread_labels
    return (spread != labels).astype(float)


def _table(clips: list[Clip], classes: list[str], probs: np.ndarray, quality: np.ndarray, cl_doubts: np.ndarray,
           spread: np.ndarray, model: ModelProbabilities | None) -> pd.DataFrame:
    """One row per clip: scores, verdicts, ``doubt`` and the suggestions."""
    fnames = [clip.fname for clip in clips]
    table = pd.DataFrame({"fname": fnames, "given": [given_text(clip.labels) for clip in clips],
                          "label_quality": quality, "cl_doubts": cl_doubts.astype(bool), "spread_doubts": spread,
                          "model_probability": np.nan, "model_doubts": False})
    suggest_from, suggest_classes = probs, classes
    if model is not None:
        model_probs = model.of(fnames)
        column = {label: i for i, label in enumerate(model.classes)}
        table["model_probability"] = [_given_probability(row, clip.labels, column)
                                      for row, clip in zip(model_probs, clips)]
        top = np.nan_to_num(model_probs, nan=-1.0).argmax(axis=1)
        table["model_doubts"] = [not np.isnan(row).all() and model.classes[t] not in clip.labels
                                 for row, t, clip in zip(model_probs, top, clips)]
        scored = ~np.isnan(model_probs).all(axis=1)  # a clip the model did not score: the out-of-fold ones
        suggest_from = np.where(scored[:, None], np.nan_to_num(model_probs), _columns(probs, classes, model.classes))
        suggest_classes = model.classes
    wrongness = np.column_stack([1 - quality, spread, 1 - table["model_probability"].to_numpy()])
    table["doubt"] = np.nanmean(wrongness, axis=1).round(6)
    for k, (labels, values) in enumerate(_top(suggest_from, suggest_classes), start=1):
        table[f"suggestion_{k}"], table[f"probability_{k}"] = labels, values
    return table


def _given_probability(row: np.ndarray, labels: tuple[str, ...], column: dict[str, int]) -> float:
    """The model's probability of a clip's given label (its least probable one, for a label set)."""
    known = [row[column[label]] for label in labels if label in column]
    return float(min(known)) if known and not np.isnan(row).all() else float("nan")


def _columns(probs: np.ndarray, classes: list[str], wanted: list[str]) -> np.ndarray:
    """``probs`` (columns ``classes``) with the columns of ``wanted`` (0 for a class it lacks)."""
    index = {label: i for i, label in enumerate(classes)}
    return np.column_stack([probs[:, index[label]] if label in index else np.zeros(len(probs)) for label in wanted])


def _top(probs: np.ndarray, classes: list[str]) -> list[tuple[list[str], list[float]]]:
    """The ``SUGGESTIONS`` most probable classes of each row and their probabilities, per rank."""
    order = np.argsort(-probs, axis=1, kind="stable")[:, :SUGGESTIONS]
    return [([classes[i] for i in order[:, k]], probs[np.arange(len(probs)), order[:, k]].round(4).tolist())
            for k in range(min(SUGGESTIONS, probs.shape[1]))]


def experiment_promoted(experiment_dir: Path, scheme: str) -> dict[str, set[str]]:
    """The clips an experiment's cleaners promoted, by verdict column: its spreading (scheme ``scheme``)
    and, when it ran one, its confident-learning cleaner; absent outputs are left out."""
    found = {}
    for column, path in (("spread_doubts", experiment_dir / f"spread-{scheme}" / "promoted.csv"),
                         ("cl_doubts", experiment_dir / "recipe" / "clean-confident" / "promoted.csv")):
        if path.is_file():
            found[column] = set(pd.read_csv(path, dtype=str, keep_default_na=False)["fname"])
    return found


def ranking_key(corpus: Corpus, source_dir: Path | None, model_dir: Path | None) -> dict[str, str | None]:
    """What a ranking is made from: the corpus, its train clips' labels and verified flags, the run or
    experiment folder, and the model's ``best.pt`` (size and time)."""
    clips = "\n".join(f"{c.fname}\t{','.join(c.labels)}\t{c.verified}" for c in corpus.train)
    key = {"corpus": str(Path(corpus.root).resolve()), "clips": hashlib.sha256(clips.encode()).hexdigest(),
           "source": str(source_dir.resolve()) if source_dir else None, "model": None}
    best = model_dir / "best.pt" if model_dir else None
    if best is not None and best.is_file():
        key["model"] = f"{best.resolve()} {best.stat().st_size} {best.stat().st_mtime_ns}"
    return key


def write_ranking(table: pd.DataFrame, folder: Path, key: dict[str, str | None]) -> None:
    """Save a ranking table and what it was made from in ``folder``, atomically."""
    atomic_write_text(folder / RANKING_FILE, table.to_csv(index=False))
    atomic_write_text(folder / RANKING_KEY_FILE, json.dumps(key, indent=1) + "\n")


def read_ranking(folder: Path, key: dict[str, str | None]) -> pd.DataFrame | None:
    """The ranking saved in ``folder`` when it was made from ``key``'s inputs, else None."""
    try:
        if json.loads((folder / RANKING_KEY_FILE).read_text(encoding="utf-8")) != key:
            return None
        text = {"fname": str, "given": str, **{f"suggestion_{k}": str for k in range(1, SUGGESTIONS + 1)}}
        table = pd.read_csv(folder / RANKING_FILE, dtype=text, keep_default_na=False,
                            na_values={"spread_doubts": [""], "model_probability": [""]})
    except (OSError, ValueError):
        return None
    return table.astype({"cl_doubts": bool, "model_doubts": bool})
