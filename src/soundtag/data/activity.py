"""Where a clip has energy: so that training crops and scores skip its silence.

Features in dB (``FeatureTransform.in_db``: log-mel) carry their own energy: a frame's energy in dB is
``10 * log10`` of its mean power over the bands (the power mean, not the mean of the dB values, so an
empty band does not drag a loud frame down). Floors are RELATIVE, in dB below the clip's loudest frame
or window: the same clip recorded louder or quieter gives the same crops and scores, and a clip that is
silence throughout (every frame equally quiet) has every frame "active", so it still gets defined crops
and scores (uniform crops, the plain mean).

>>> loud, quiet = np.full((4, 3), 0.0), np.full((4, 3), -60.0)
>>> frame_energy_db(np.concatenate([loud, quiet], axis=1)).round(1).tolist()
[0.0, 0.0, 0.0, -60.0, -60.0, -60.0]
>>> loud_windows(np.stack([loud, quiet]), floor_db=30.0).tolist()
[True, False]
"""

from __future__ import annotations

import numpy as np

SILENCE_DB = -200.0
"""The level of a waveform whose samples are all zero (10 * log10 of a mean square floored at 1e-20)."""


def power_mean_db(values_db: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``10 * log10(mean(10 ** (values_db / 10)))`` over ``axis``, computed without overflow."""
    scaled = np.asarray(values_db, dtype=np.float64) * (np.log(10.0) / 10.0)
    top = scaled.max(axis=axis, keepdims=True)
    mean = np.exp(scaled - top).mean(axis=axis, keepdims=True)
    return np.squeeze((top + np.log(mean)) * (10.0 / np.log(10.0)), axis=axis)


def frame_energy_db(features: np.ndarray) -> np.ndarray:
    """Energy in dB of each frame of (..., frames) features in dB: the power mean over every other axis."""
    return power_mean_db(features.reshape(-1, features.shape[-1]), axis=0)


def activity_crop_offset(features: np.ndarray, width: int, floor_db: float, rng: np.random.Generator) -> int:
    """A crop start for ``width`` frames of (..., frames) dB features, drawn in proportion to the crop's
    activity: the summed dB by which its frames lie above a floor ``floor_db`` below the loudest frame.

    Every crop start has some chance when the clip is silent throughout (all frames at the loudest
    level); crops of frames all below the floor have none.

    >>> clip = np.full((2, 10), -80.0); clip[:, 7] = 0.0
    >>> {activity_crop_offset(clip, 3, 40.0, np.random.default_rng(s)) for s in range(50)} == {5, 6, 7}
    True
    """
    energy = frame_energy_db(features)
    activity = np.maximum(0.0, energy - (energy.max() - floor_db))
    per_crop = np.convolve(activity, np.ones(width), mode="valid")  # one sum per start 0..frames-width
    return int(rng.choice(len(per_crop), p=per_crop / per_crop.sum()))


def loud_windows(windows: np.ndarray, floor_db: float) -> np.ndarray:
    """Which of (n_windows, ..., width) dB windows lie within ``floor_db`` of the loudest one by energy
    (the power mean of all their values); the loudest is always among them."""
    energy = power_mean_db(windows.reshape(len(windows), -1), axis=1)
    return energy >= energy.max() - floor_db


def waveform_level_db(samples: np.ndarray) -> float:
    """The energy in dB of a waveform: ``10 * log10`` of its mean square (:data:`SILENCE_DB` when all zero)."""
    if samples.size == 0:
        return SILENCE_DB
    return float(10.0 * np.log10(max(float(np.mean(np.square(samples, dtype=np.float64))), 1e-20)))
