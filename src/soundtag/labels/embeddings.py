"""Clip embeddings for label spreading besides autoencoder latents: MFCC mean and std per clip."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from soundtag.config import AudioConfig, MfccConfig
from soundtag.data import Clip, FeatureCache, cache_features


def mfcc_statistics(clips: Sequence[Clip], audio: AudioConfig, cache_dir: str | None, num_workers: int = 2,
                    progress: bool = True) -> tuple[list[Clip], np.ndarray]:
    """Per-clip mean and standard deviation of 20 MFCCs over time (40 numbers a clip), for the clips
    that could be decoded.
    """
    mfcc = MfccConfig()
    cache = FeatureCache(cache_dir, audio, mfcc)
    report = cache_features([c.path for c in clips], audio, mfcc, cache, num_workers=num_workers, progress=progress)
    failed = {path for path, _ in report.failures}
    usable = [c for c in clips if str(c.path) not in failed]
    stats = []
    for clip in usable:
        features = cache.load(clip.path)
        stats.append(np.concatenate([features.mean(axis=1), features.std(axis=1)]))
    return usable, np.asarray(stats, dtype=np.float32)
