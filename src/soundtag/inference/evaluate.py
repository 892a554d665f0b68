"""Score a run on a corpus split, and write the Kaggle submission file.

A single-label run is scored by MAP@3, accuracy and per-class AP; a multi-label run by lwlrap, macro
mAP, per-class AP and macro/micro F1 at its tagging thresholds (the labels ``soundtag tag`` would give).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from soundtag.data import Clip, FeatureCache, LabelMap, cache_features
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.inference.tagger import Tagger
from soundtag.training import (
    accuracy,
    f1_scores,
    lwlrap,
    map_at_k,
    mean_average_precision,
    per_class_average_precision,
    top_k,
)


@dataclass
class EvaluationResult:
    """Probabilities of the clips that could be decoded, their targets (class indices; for a
    ``multi_label`` run a (clips, classes) 0/1 matrix), the clips that failed, and the labelled clips
    left out because the run does not know their label (``unknown``: fname, label)."""

    fnames: list[str]
    probabilities: np.ndarray
    targets: np.ndarray
    labels: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    n_given: int = 0
    """Clips given to evaluate (labelled or not)."""
    corpus_name: str | None = None
    """The corpus scored when it is not the run's own (its evaluation folder is named after it)."""
    multi_label: bool = False
    thresholds: np.ndarray | None = None
    """A multi-label run's per-class tagging thresholds, at which its F1 is scored."""

    def metrics(self) -> dict:
        """``map3``, ``accuracy``, ``n_clips``, ``n_failed``, ``n_unknown_label`` and per-class average
        precision; for a multi-label run ``lwlrap``, ``map`` (macro mAP over the classes some clip
        holds), ``f1_macro`` and ``f1_micro`` at its thresholds in place of ``map3`` and ``accuracy``,
        and the ``thresholds``."""
        ap = per_class_average_precision(self.probabilities, self.targets) if len(self.targets) else []
        counts = {"n_clips": len(self.fnames), "n_failed": len(self.failures), "n_unknown_label": len(self.unknown)}
        per_class = {label: (None if np.isnan(v) else round(float(v), 4)) for label, v in zip(self.labels, ap)}
        if not self.multi_label:
            return {"map3": map_at_k(self.probabilities, self.targets, 3),
                    "accuracy": accuracy(self.probabilities, self.targets), **counts, "per_class_ap": per_class}
        thresholds = self.thresholds if self.thresholds is not None else np.full(len(self.labels), 0.5)
        macro, micro = f1_scores(self.probabilities, self.targets, thresholds) if len(self.targets) else (0.0, 0.0)
        return {"lwlrap": lwlrap(self.probabilities, self.targets) if len(self.targets) else 0.0,
                "map": mean_average_precision(self.probabilities, self.targets) if len(self.targets) else 0.0,
                "f1_macro": macro, "f1_micro": micro, **counts, "per_class_ap": per_class,
                "thresholds": {label: round(float(t), 4) for label, t in zip(self.labels, thresholds)}}

    def describe_unknown(self, most: int = 3) -> str:
        """One line (for a warning) saying how many clips were skipped for labels the run does not
        know, naming the most frequent of those labels; '' when none were."""
        if not self.unknown:
            return ""
        counts = Counter(label for _, label in self.unknown)
        shown = ", ".join(f"{label!r} ({n})" for label, n in counts.most_common(most))
        more = f" and {len(counts) - most} more" if len(counts) > most else ""
        return (f"skipped {len(self.unknown)} of {self.n_given} clips whose label the run does not know: "
                f"{shown}{more}; is this corpus of another vocabulary?")


def clip_probabilities(tagger: Tagger, clips: list[Clip], cache_dir: str | None, progress: bool = True
                       ) -> tuple[list[Clip], np.ndarray, list[tuple[str, str]]]:
    """Cache features of ``clips`` and predict each; returns the usable clips, probabilities, failures."""
    config = tagger.config
    cache = FeatureCache(cache_dir, config.audio, config.features)
    report = cache_features([c.path for c in clips], config.audio, config.features, cache,
                            num_workers=config.data.num_workers, progress=progress)
    failed = {path for path, _ in report.failures}
    usable = [c for c in clips if str(c.path) not in failed]
    probs = tagger.probabilities(cache.load(c.path) for c in usable)
    return usable, probs.reshape(len(usable), len(tagger.label_map)), report.failures


def evaluate_clips(tagger: Tagger, clips: list[Clip], cache_dir: str | None = None, progress: bool = True,
                   negatives: bool = False) -> EvaluationResult:
    """Predict labelled ``clips`` and keep what the metrics need; clips of labels the run does not know
    are skipped and listed in ``unknown`` (see :meth:`EvaluationResult.describe_unknown`).

    A single-label run is scored on the clips with one label. A multi-label run is scored on the clips
    with labels and, with ``negatives`` (a multi-label corpus, where a clip without labels holds none of
    the classes), on those without too; a clip with a label the run does not know is left out whole."""
    if not tagger.multi_label:
        known = [c for c in clips if c.label is not None and c.label in tagger.label_map]
        unknown = [(c.fname, str(c.label)) for c in clips if c.label is not None and c.label not in tagger.label_map]
    else:
        stranger = [next((label for label in c.labels if label not in tagger.label_map), None) for c in clips]
        known = [c for c, odd in zip(clips, stranger) if odd is None and (c.labels or negatives)]
        unknown = [(c.fname, odd) for c, odd in zip(clips, stranger) if odd is not None]
    usable, probs, failures = clip_probabilities(tagger, known, cache_dir, progress)
    if tagger.multi_label:
        targets = np.zeros((len(usable), len(tagger.label_map)), dtype=np.int8)
        for row, clip in zip(targets, usable):
            row[[tagger.label_map.index(label) for label in clip.labels]] = 1
    else:
        targets = np.array([tagger.label_map.index(str(c.label)) for c in usable], dtype=int)
    return EvaluationResult([c.fname for c in usable], probs, targets, tagger.label_map.labels, failures, unknown,
                            len(clips), multi_label=tagger.multi_label,
                            thresholds=tagger.cutoffs() if tagger.multi_label else None)


def check_submission_labels(label_map: LabelMap) -> None:
    """Refuse class names a Kaggle submission cannot carry: its top 3 labels are joined by spaces, so a
    name holding whitespace (or nothing) could not be read back."""
    for label in label_map.labels:
        if not label or any(ch.isspace() for ch in label):
            raise SoundtagError(f"class {label!r} contains whitespace: a Kaggle submission separates its top 3 "
                                "labels with spaces, so it could not be parsed; rename the class in the corpus "
                                "(e.g. with '_') and train again")


def write_submission(path: str | Path, tagger: Tagger, clips: list[Clip], train_clips: list[Clip],
                     cache_dir: str | None = None, progress: bool = True) -> list[tuple[str, str]]:
    """Write ``fname,label`` with the top 3 labels space-separated, one row per clip in order.

    A clip that cannot be decoded still gets a row: the three most frequent training labels. Class
    names holding whitespace are refused before any work (see :func:`check_submission_labels`).
    """
    check_submission_labels(tagger.label_map)
    usable, probs, failures = clip_probabilities(tagger, clips, cache_dir, progress)
    predicted = {c.fname: " ".join(tagger.label_map.label(int(i)) for i in row)
                 for c, row in zip(usable, top_k(probs, 3))}
    counts = Counter(str(c.label) for c in train_clips if c.label in tagger.label_map)
    fallback = " ".join(label for label, _ in counts.most_common(3)) or " ".join(tagger.label_map.labels[:3])
    rows = [(c.fname, predicted.get(c.fname, fallback)) for c in clips]
    atomic_write_text(path, pd.DataFrame(rows, columns=["fname", "label"]).to_csv(index=False))
    return failures
