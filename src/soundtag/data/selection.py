"""Which corpus clips a training run learns from: all or verified labels, plus extra (e.g. promoted)
labels from a CSV, and their examples with per-clip loss weights.

Extra labels are ``fname,label`` (one label a clip) for a single-label corpus and ``fname,labels``
(a label set a clip, comma-separated in one quoted field, empty for none, as in a manifest) for a
multi-label one.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from soundtag.data.corpus import Clip, Corpus, LabelMap, read_csv, split_labels
from soundtag.data.dataset import Example
from soundtag.errors import CorpusError

ExtraLabels = dict[str, str | tuple[str, ...]]
"""fname -> the clip's extra label: one label (a single-label corpus) or a label set (a multi-label one)."""


def read_extra_labels(path: str | Path, corpus: Corpus) -> ExtraLabels:
    """Extra labels (e.g. promoted ones) for train clips of ``corpus``: ``fname,label`` rows of a
    single-label corpus as one label each, ``fname,labels`` rows of a multi-label corpus as label sets.
    Every fname must be a train clip and every label in the vocabulary."""
    column, kind = ("labels", "multi-label") if corpus.multi_label else ("label", "single-label")
    frame = read_csv(Path(path), ("fname",), (column,))
    if column not in frame.columns:
        form = "fname,labels (comma-separated, empty for none)" if corpus.multi_label else "fname,label"
        raise CorpusError(f"{path}: missing column {column!r}: extra labels of {corpus.root}, a {kind} corpus, "
                          f"are {form}")
    known = {c.fname for c in corpus.train}
    vocabulary = set(corpus.labels)
    extra: ExtraLabels = {}
    for fname, cell in zip(frame["fname"], frame[column]):
        if fname not in known:
            raise CorpusError(f"{path}: fname {fname!r} is not a train clip of {corpus.root}")
        labels = split_labels(cell) if corpus.multi_label else (cell,)
        for label in labels:
            if label not in vocabulary:
                raise CorpusError(f"{path}: label {label!r} of {fname!r} is not in the vocabulary")
        extra[fname] = labels if corpus.multi_label else cell
    return extra


def choose_training_clips(corpus: Corpus, labels: str, extra: ExtraLabels | None = None) -> list[Clip]:
    """All labelled train clips or the verified ones, plus the clips of ``extra`` (fname -> label, or
    label set) with those labels. Extra clips are marked unverified, so the validation split stays the same.
    """
    clips = [c for c in corpus.train if labels == "all" or c.verified]
    if extra:
        chosen = {c.fname for c in clips}
        clips = [replace(c, labels=_label_set(extra[c.fname]), verified=False)
                 if c.fname in extra and not c.verified else c for c in clips]
        clips += [replace(c, labels=_label_set(extra[c.fname]), verified=False)
                  for c in corpus.train if c.fname in extra and c.fname not in chosen]
    return clips


def _label_set(extra: str | tuple[str, ...]) -> tuple[str, ...]:
    return (extra,) if isinstance(extra, str) else extra


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
