"""soundtag.data.activity: frame energy of dB features, crops drawn by activity, loud windows, waveform level."""

from __future__ import annotations

import numpy as np
import pytest

from soundtag.data.activity import (
    SILENCE_DB,
    activity_crop_offset,
    frame_energy_db,
    loud_windows,
    power_mean_db,
    waveform_level_db,
)


def burst_clip(frames: int = 100, loud: tuple[int, int] = (60, 70), bins: int = 8) -> np.ndarray:
    """(bins, frames) dB features: -90 dB everywhere but a 0 dB burst over frames ``loud``."""
    features = np.full((bins, frames), -90.0, dtype=np.float32)
    features[:, loud[0] : loud[1]] = 0.0
    return features


def test_frame_energy_is_the_power_mean_over_the_bands():
    features = np.array([[0.0, -20.0], [-100.0, -20.0]], dtype=np.float32)  # one band empty in frame 0
    expected = 10 * np.log10([(1.0 + 1e-10) / 2, 0.01])
    np.testing.assert_allclose(frame_energy_db(features), expected, atol=1e-6)


def test_power_mean_does_not_overflow_on_large_values():
    np.testing.assert_allclose(power_mean_db(np.array([4000.0, 4000.0])), 4000.0)


def test_crops_are_drawn_only_where_the_clip_has_energy():
    clip = burst_clip()
    offsets = [activity_crop_offset(clip, 20, 40.0, np.random.default_rng(seed)) for seed in range(300)]
    assert min(offsets) >= 60 - 20 + 1 and max(offsets) <= 69  # every crop holds some of the burst
    assert len(set(offsets)) > 10


def test_crops_favour_the_loudest_part_in_proportion_to_its_activity():
    clip = burst_clip()
    clip[:, 10:20] = -30.0  # 10 dB above a 40-dB floor, against 40 dB for the burst
    offsets = np.array([activity_crop_offset(clip, 10, 40.0, np.random.default_rng(s)) for s in range(500)])
    near_burst = ((offsets > 50) & (offsets < 70)).mean()
    near_quiet = ((offsets > 0) & (offsets < 20)).mean()
    assert near_burst == pytest.approx(0.8, abs=0.06) and near_quiet == pytest.approx(0.2, abs=0.06)


def test_crops_are_the_same_for_a_seed_and_a_gain():
    clip = burst_clip()
    clip[:, 30:40] = -25.0
    first = [activity_crop_offset(clip, 20, 40.0, np.random.default_rng([7, s])) for s in range(20)]
    again = [activity_crop_offset(clip, 20, 40.0, np.random.default_rng([7, s])) for s in range(20)]
    louder = [activity_crop_offset(clip + 12.0, 20, 40.0, np.random.default_rng([7, s])) for s in range(20)]
    assert first == again == louder


def test_a_silent_clip_gets_crops_everywhere():
    silent = np.full((8, 50), -100.0, dtype=np.float32)
    offsets = {activity_crop_offset(silent, 10, 40.0, np.random.default_rng(s)) for s in range(400)}
    assert offsets == set(range(41))


def test_loud_windows_keep_those_within_the_floor_of_the_loudest():
    windows = np.stack([np.full((4, 5), level, dtype=np.float32) for level in (-50.0, -5.0, -30.0, -20.0)])
    assert loud_windows(windows, 20.0).tolist() == [False, True, False, True]
    assert loud_windows(windows, 100.0).all()


def test_loud_windows_of_a_silent_clip_are_all_of_them():
    silent = np.full((3, 4, 5), -100.0, dtype=np.float32)
    assert loud_windows(silent, 1.0).all()


def test_waveform_level():
    t = np.arange(32000) / 32000
    assert waveform_level_db(np.sin(2 * np.pi * 440 * t)) == pytest.approx(-3.0103, abs=1e-3)
    assert waveform_level_db(np.zeros(100, dtype=np.float32)) == SILENCE_DB
    assert waveform_level_db(np.zeros(0, dtype=np.float32)) == SILENCE_DB
