"""Which corpus clips a training run learns from: all or verified labels, plus extra (e.g. promoted)
labels from a ``fname,label`` CSV, and their examples with per-clip loss weights.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from soundtag.data.corpus import Clip, Corpus, LabelMap, read_csv
from soundtag.data.dataset import Example
from soundtag.errors import CorpusError


def read_extra_labels(path: str | Path, corpus: Corpus) -> dict[str, str]:
    """``fname,label`` rows (e.g. promoted labels) for train clips of ``corpus``."""
    frame = read_csv(Path(path), ("fname", "label"))
    known = {c.fname for c in corpus.train}
    vocabulary = set(corpus.labels)
    for fname, label in zip(frame["fname"], frame["label"]):
        if fname not in known:
            raise CorpusError(f"{path}: fname {fname!r} is not a train clip of {corpus.root}")
        if label not in vocabulary:
            raise CorpusError(f"{path}: label {label!r} of {fname!r} is not in the vocabulary")
    return dict(zip(frame["fname"], frame["label"]))


def choose_training_clips(corpus: Corpus, labels: str, extra: dict[str, str] | None = None) -> list[Clip]:
    """All labelled train clips or the verified ones, plus the clips of ``extra`` (fname -> label) with
    those labels. Extra clips are marked unverified, so the validation split stays the same.
    """
    clips = [c for c in corpus.train if labels == "all" or c.verified]
    if extra:
        chosen = {c.fname for c in clips}
        clips = [replace(c, label=extra[c.fname], verified=False) if c.fname in extra and not c.verified else c
                 for c in clips]
        clips += [replace(c, label=extra[c.fname], verified=False)
                  for c in corpus.train if c.fname in extra and c.fname not in chosen]
    return clips


def examples_for(clips: list[Clip], label_map: LabelMap, unverified_weight: float = 1.0,
                 trusted: set[str] | frozenset[str] = frozenset()) -> list[Example]:
    """Examples with class indices from ``label_map``; clips neither verified nor ``trusted``
    (e.g. promoted) get ``unverified_weight``.
    """
    return [Example(str(c.path), label_map.index(str(c.label)), c.fname,
                    1.0 if c.verified or c.fname in trusted else unverified_weight) for c in clips]
