"""Sample-rate conversion with soxr, whole clips or as a stream."""

from __future__ import annotations

import numpy as np
import soxr


def resample(samples: np.ndarray, orig_sr: int, target_sr: int, quality: str = "HQ") -> np.ndarray:
    """Resample a mono float32 signal from ``orig_sr`` to ``target_sr`` (no-op when equal)."""
    if orig_sr == target_sr:
        return samples
    return soxr.resample(samples, orig_sr, target_sr, quality=quality).astype(np.float32, copy=False)


def resample_stream(orig_sr: int, target_sr: int, quality: str = "HQ") -> soxr.ResampleStream | None:
    """A streaming resampler for long files, or None when no resampling is needed."""
    if orig_sr == target_sr:
        return None
    return soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32", quality=quality)
