"""A validation split stratified by label, drawn from verified clips only as in the 2018 recipe."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from soundtag.data import Clip


def validation_split(
    clips: list[Clip], fraction: float, seed: int, from_verified: bool = True
) -> tuple[list[Clip], list[Clip]]:
    """Split ``clips`` into (train, validation): per label, ``fraction`` of the candidate clips
    (rounded, at least one where a label has two or more candidates) go to validation.
    """
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, clip in enumerate(clips):
        if clip.verified or not from_verified:
            by_label[str(clip.label)].append(i)
    rng = np.random.default_rng(seed)
    held_out: set[int] = set()
    for label in sorted(by_label):
        candidates = by_label[label]
        if len(candidates) < 2:
            continue
        n_val = min(len(candidates) - 1, max(1, int(round(fraction * len(candidates)))))
        held_out.update(rng.choice(candidates, size=n_val, replace=False).tolist())
    train = [c for i, c in enumerate(clips) if i not in held_out]
    val = [c for i, c in enumerate(clips) if i in held_out]
    return train, val
