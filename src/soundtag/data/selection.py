"""Which corpus clips a training run learns from: all or verified labels, plus extra (e.g. promoted)
labels from a ``fname,label`` CSV, and their examples with per-clip loss weights.

Extra labels are one label per clip: they are refused for a multi-label corpus.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from soundtag.data.corpus import Clip, Corpus, LabelMap, read_csv
from soundtag.data.dataset import Example
from soundtag.errors import CorpusError


def read_extra_labels(path: str | Path, corpus: Corpus) -> dict[str, str]:
    """``fname,label`` rows (e.g. promoted labels) for train clips of ``corpus`` (single-label only)."""
    if corpus.multi_label:
        raise CorpusError(f"{path}: extra labels give one label per clip, but {corpus.root} is a multi-label corpus "
                          "(clips with several labels, or none); leave train.extra_labels empty")
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
        clips = [replace(c, labels=(extra[c.fname],), verified=False) if c.fname in extra and not c.verified else c
                 for c in clips]
        clips += [replace(c, labels=(extra[c.fname],), verified=False)
                  for c in corpus.train if c.fname in extra and c.fname not in chosen]
    return clips


def examples_for(clips: list[Clip], label_map: LabelMap, unverified_weight: float = 1.0,
                 trusted: set[str] | frozenset[str] = frozenset()) -> list[Example]:
    """Examples with class indices from ``label_map``: ``target`` is the index of a clip's one label
    (-1 when it has several or none), ``targets`` the indices of all its labels. Clips neither verified
    nor ``trusted`` (e.g. promoted) get ``unverified_weight``.
    """
    examples = []
    for clip in clips:
        targets = tuple(label_map.index(label) for label in clip.labels)
        examples.append(Example(str(clip.path), targets[0] if len(targets) == 1 else -1, clip.fname,
                                1.0 if clip.verified or clip.fname in trusted else unverified_weight, targets))
    return examples
