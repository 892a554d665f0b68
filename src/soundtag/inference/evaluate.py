"""Score a run on a corpus split, and write the Kaggle submission file."""

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
from soundtag.training import accuracy, map_at_k, per_class_average_precision, top_k


@dataclass
class EvaluationResult:
    """Probabilities of the clips that could be decoded, their targets, the clips that failed, and the
    labelled clips left out because the run does not know their label (``unknown``: fname, label)."""

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

    def metrics(self) -> dict:
        """``map3``, ``accuracy``, ``n_clips``, ``n_failed``, ``n_unknown_label`` and per-class average
        precision."""
        ap = per_class_average_precision(self.probabilities, self.targets) if len(self.targets) else []
        return {
            "map3": map_at_k(self.probabilities, self.targets, 3),
            "accuracy": accuracy(self.probabilities, self.targets),
            "n_clips": len(self.fnames),
            "n_failed": len(self.failures),
            "n_unknown_label": len(self.unknown),
            "per_class_ap": {label: (None if np.isnan(v) else round(float(v), 4)) for label, v in zip(self.labels, ap)},
        }

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


def evaluate_clips(tagger: Tagger, clips: list[Clip], cache_dir: str | None = None, progress: bool = True
                   ) -> EvaluationResult:
    """Predict labelled ``clips`` and keep what the metrics need; clips of labels the run does not know
    are skipped and listed in ``unknown`` (see :meth:`EvaluationResult.describe_unknown`)."""
    known = [c for c in clips if c.label is not None and c.label in tagger.label_map]
    unknown = [(c.fname, str(c.label)) for c in clips if c.label is not None and c.label not in tagger.label_map]
    usable, probs, failures = clip_probabilities(tagger, known, cache_dir, progress)
    targets = np.array([tagger.label_map.index(str(c.label)) for c in usable], dtype=int)
    return EvaluationResult([c.fname for c in usable], probs, targets, tagger.label_map.labels, failures, unknown,
                            len(clips))


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
