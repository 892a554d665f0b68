"""Splits a corpus layout does not give: strata of single- and multi-label clips, the test split drawn
for class folders without ``test/``, and the ``split.csv`` that records it.

A clip's stratum is its rarest label: the one the fewest clips in the set carry (ties by name), so a
rare class of a multi-label corpus is represented in every split; a single-label clip's stratum is its
label, and clips with no label form a stratum of their own. The drawn test split ranks the clips of
each stratum by a BLAKE2b of the seed and the clip's name and takes the first :data:`TEST_FRACTION`
(rounded, at least one where a stratum has two or more clips, never all): it does not depend on the
order files are listed in, and adding a file moves at most one other across the line.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from soundtag.audio import display_name
from soundtag.data.corpus import SPLITS, Clip, Corpus
from soundtag.fileio import atomic_write_text

#: Share of each class's clips drawn as the test split of a class-folder corpus without ``test/``.
TEST_FRACTION = 0.2

NO_LABEL = ""
"""The stratum of clips without labels (no class name is empty)."""


def stratum_keys(clips: Sequence[Clip]) -> list[str]:
    """Each clip's stratum: its rarest label among ``clips`` (ties by name), or :data:`NO_LABEL`.

    >>> from pathlib import Path
    >>> clips = [Clip(n, Path(n), labels) for n, labels in
    ...          [("a", ("dog",)), ("b", ("dog", "owl")), ("c", ("dog",)), ("d", ())]]
    >>> stratum_keys(clips)
    ['dog', 'owl', 'dog', '']
    """
    counts = Counter(label for clip in clips for label in clip.labels)
    return [min(clip.labels, key=lambda label: (counts[label], label)) if clip.labels else NO_LABEL
            for clip in clips]


def held_out_count(n: int, fraction: float) -> int:
    """How many of a stratum's ``n`` clips go to the held-out split: ``fraction`` of them rounded, at
    least one where there are two or more, never all."""
    return 0 if n < 2 else min(n - 1, max(1, int(round(fraction * n))))


def draw_test_split(clips: Sequence[Clip], seed: int, fraction: float = TEST_FRACTION
                    ) -> tuple[list[Clip], list[Clip]]:
    """Split ``clips`` into (train, test), stratified by :func:`stratum_keys`; each keeps the order of
    ``clips``. The same clips and seed always give the same split, in whatever order they come."""
    by_stratum: dict[str, list[Clip]] = defaultdict(list)
    for clip, key in zip(clips, stratum_keys(clips)):
        by_stratum[key].append(clip)
    held: set[str] = set()
    for members in by_stratum.values():
        ranked = sorted(members, key=lambda clip: _rank(seed, clip.fname))
        held.update(clip.fname for clip in ranked[:held_out_count(len(members), fraction)])
    return [c for c in clips if c.fname not in held], [c for c in clips if c.fname in held]


def _rank(seed: int, fname: str) -> str:
    return hashlib.blake2b(f"{seed}\0{fname}".encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def write_split(corpus: Corpus, path: str | Path) -> None:
    """Write which split each clip of ``corpus`` is in as ``fname,split`` rows (train, val, test),
    atomically: the record of a split the corpus's layout did not give (:attr:`Corpus.split_note`).
    Names that are not UTF-8 are written with ``\\xNN`` escapes."""
    import pandas as pd  # here: the commands that import this module to tag need no pandas

    rows = [(display_name(clip.fname), name) for name in SPLITS for clip in corpus.split(name)]
    frame = pd.DataFrame(rows, columns=["fname", "split"])
    atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
