"""A validation split stratified by label, drawn from verified clips only as in the 2018 recipe.

A single-label clip's stratum is its label; a multi-label clip's is its rarest label among the
candidates (:func:`soundtag.data.splits.stratum_keys`), so that rare classes reach validation, and clips
with no label (negatives) form a stratum of their own.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from soundtag.data import Clip
from soundtag.data.splits import held_out_count, stratum_keys


def validation_split(
    clips: list[Clip], fraction: float, seed: int, from_verified: bool = True
) -> tuple[list[Clip], list[Clip]]:
    """Split ``clips`` into (train, validation): per stratum, ``fraction`` of the candidate clips
    (rounded, at least one where a stratum has two or more candidates, never all) go to validation.
    """
    candidates = [i for i, clip in enumerate(clips) if clip.verified or not from_verified]
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for i, key in zip(candidates, stratum_keys([clips[i] for i in candidates])):
        by_stratum[key].append(i)
    rng = np.random.default_rng(seed)
    held_out: set[int] = set()
    for key in sorted(by_stratum):
        members = by_stratum[key]
        n_val = held_out_count(len(members), fraction)
        if n_val:
            held_out.update(rng.choice(members, size=n_val, replace=False).tolist())
    train = [c for i, c in enumerate(clips) if i not in held_out]
    val = [c for i, c in enumerate(clips) if i in held_out]
    return train, val
