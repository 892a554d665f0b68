"""The recording-chain augmentations: shapes, finite output, seeded determinism, and that each does
what it says (parity with librosa for the phase vocoder, pitch shift and time stretch)."""

from __future__ import annotations

import doctest
import sys

import librosa
import numpy as np
import pytest

from soundtag.audio import augment
from soundtag.audio.augment import (
    band_limit,
    codec_round_trip,
    mix_at_snr,
    pitch_shift,
    quiet_parts,
    random_eq,
    random_eq_curve,
    reverberate,
    room_simulator,
    saturate,
    shoebox_rir,
    time_stretch,
)
from soundtag.errors import SoundtagError
from tests.helpers import peak_frequency, sine

SR = 16000


def noise(seconds: float = 1.0, seed: int = 0, sample_rate: int = SR) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sample_rate))).astype(np.float32)


def band_energy(signal: np.ndarray, low: float, high: float, sample_rate: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2  # windowed: no leakage from the ends
    freqs = np.fft.rfftfreq(len(signal), 1 / sample_rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def power(signal: np.ndarray) -> float:
    return float(np.mean(np.square(signal, dtype=np.float64)))


@pytest.fixture(scope="module")
def rir() -> np.ndarray:
    return shoebox_rir(np.random.default_rng(0), 8000, 0.3)


TRANSFORMS = {
    "random_eq": lambda x: random_eq(x, np.random.default_rng(1), SR, 6.0),
    "band_limit": lambda x: band_limit(x, SR, 200.0, 3000.0),
    "saturate": lambda x: saturate(x, 9.0),
    "mp3": lambda x: codec_round_trip(x, SR, "mp3", 0.9),
    "ogg": lambda x: codec_round_trip(x, SR, "ogg", 0.9),
    "mix_at_snr": lambda x: mix_at_snr(x, noise(0.3, seed=5), 10.0),
    "reverberate": lambda x: reverberate(x, np.hanning(64).astype(np.float32)),
    "pitch_shift": lambda x: pitch_shift(x, SR, 1.5),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_each_transform_keeps_the_length_and_gives_finite_float32(name):
    out = TRANSFORMS[name](noise(0.7))
    assert out.shape == (int(0.7 * SR),) and out.dtype == np.float32 and np.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_each_transform_leaves_its_input_alone_and_repeats_itself(name):
    signal = noise(0.5)
    kept = signal.copy()
    first, second = TRANSFORMS[name](signal), TRANSFORMS[name](signal)
    np.testing.assert_array_equal(signal, kept)
    np.testing.assert_array_equal(first, second)


def test_random_eq_is_seeded_and_stays_within_its_gain_range():
    x = noise(1.0)
    np.testing.assert_array_equal(random_eq(x, np.random.default_rng(3), SR, 6.0),
                                  random_eq(x, np.random.default_rng(3), SR, 6.0))
    assert not np.array_equal(random_eq(x, np.random.default_rng(3), SR, 6.0),
                              random_eq(x, np.random.default_rng(4), SR, 6.0))
    gains = 20 * np.log10(random_eq_curve(np.random.default_rng(3), SR, 6.0)(np.linspace(0, SR / 2, 500)))
    assert gains.max() <= 6.0 + 1e-9 and gains.min() >= -6.0 - 1e-9 and gains.max() - gains.min() > 1.0


def test_band_limit_removes_the_energy_outside_its_band():
    x = noise(1.0)
    out = band_limit(x, SR, 300.0, 2000.0)
    assert band_energy(out, 4000, 8000) < 1e-2 * band_energy(x, 4000, 8000)  # from an octave up: below -20 dB
    assert band_energy(out, 6000, 8000) < 1e-4 * band_energy(x, 6000, 8000)  # 24 dB per octave further on
    assert band_energy(out, 0, 75) < 1e-4 * band_energy(x, 0, 75)  # two octaves down
    assert band_energy(out, 600, 1000) == pytest.approx(band_energy(x, 600, 1000), rel=0.05)  # the passband


def test_saturate_compresses_the_peaks_and_keeps_the_peak_level():
    x = sine(200, 0.5, SR, amplitude=0.5)
    x[4000:4100] *= 0.1  # a quiet passage: nearly linear
    out = saturate(x, 12.0)
    crest = lambda s: np.max(np.abs(s)) / np.sqrt(power(s))  # noqa: E731
    assert np.max(np.abs(out)) == pytest.approx(0.5, rel=1e-5)
    assert crest(out) < crest(x) - 0.1
    assert np.all(np.sign(out) == np.sign(x))
    np.testing.assert_array_equal(saturate(np.zeros(10, np.float32), 12.0), np.zeros(10))


@pytest.mark.parametrize("codec", ["mp3", "ogg"])
def test_a_codec_round_trip_keeps_the_sound_in_time_and_loses_detail(codec):
    x = sine(440, 1.0, SR, amplitude=0.3) + noise(1.0) * 0.3
    out = codec_round_trip(x, SR, codec, 0.95)
    assert peak_frequency(out, SR) == pytest.approx(440, abs=5)
    error = power(out - x) / power(x)
    assert 1e-5 < error < 0.3  # aligned (a delay would give about 1) yet not lossless


def test_mp3_refuses_a_rate_it_cannot_hold():
    with pytest.raises(ValueError, match="MP3"):
        codec_round_trip(noise(0.1), 17000, "mp3", 0.5)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 12.5, 30.0])
def test_mix_at_snr_reaches_the_asked_snr(snr_db):
    x = sine(300, 1.0, SR)
    out = mix_at_snr(x, noise(0.37, seed=9), snr_db)  # a shorter noise is repeated
    assert 10 * np.log10(power(x) / power(out - x)) == pytest.approx(snr_db, abs=0.05)


def test_mix_at_snr_leaves_a_silent_signal_or_noise_alone():
    x = sine(300, 0.1, SR)
    np.testing.assert_array_equal(mix_at_snr(x, np.zeros(50, np.float32), 10.0), x)
    np.testing.assert_array_equal(mix_at_snr(np.zeros(100, np.float32), noise(0.1), 10.0), np.zeros(100))


def test_quiet_parts_are_the_background_and_never_digital_silence():
    loud, quiet = sine(500, 1.0, SR, amplitude=0.5), noise(1.0) * 0.01
    x = np.concatenate([np.zeros(SR // 2, np.float32), loud, quiet])
    parts = quiet_parts(x, SR, share=0.5)
    assert len(parts) == pytest.approx(SR, rel=0.05)  # half the audible frames: the quiet second
    assert power(parts) == pytest.approx(power(quiet), rel=0.1)
    assert len(quiet_parts(np.zeros(SR, np.float32), SR)) == 0


def test_shoebox_rirs_are_seeded_peak_at_one_and_decay_slower_in_livelier_rooms():
    short = shoebox_rir(np.random.default_rng(2), 8000, 0.1)
    np.testing.assert_array_equal(short, shoebox_rir(np.random.default_rng(2), 8000, 0.1))
    assert np.max(np.abs(short)) == pytest.approx(1.0)
    long = shoebox_rir(np.random.default_rng(2), 8000, 0.3)

    def decay_20db(h: np.ndarray) -> int:  # samples after the direct path until the remaining energy is -20 dB
        h = h[np.argmax(np.abs(h)):].astype(np.float64) ** 2
        remaining = np.cumsum(h[::-1])[::-1]
        return int(np.argmax(remaining < remaining[0] / 100))

    assert decay_20db(long) > 2 * decay_20db(short)


def test_reverberation_without_pyroomacoustics_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyroomacoustics", None)  # import fails as if absent
    with pytest.raises(SoundtagError, match=r"pip install 'soundtag\[augment\]'"):
        room_simulator()


def test_reverberation_keeps_timing_and_power_and_lengthens_the_decay(rir):
    burst = np.zeros(8000, np.float32)
    burst[1000:1400] = noise(0.05, sample_rate=8000)
    wet = reverberate(burst, rir)
    assert power(wet) == pytest.approx(power(burst), rel=1e-5)
    assert np.argmax(np.abs(wet) > 1e-3) == pytest.approx(1000, abs=2)  # starts with the direct sound
    tail = slice(1600, 3000)
    assert power(wet[tail]) > 1000 * (power(burst[tail]) + 1e-12) and power(wet[tail]) > 1e-5


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_time_stretch_matches_librosa_and_changes_the_length(rate):
    x = noise(0.8).astype(np.float64)
    out = time_stretch(x, rate)
    assert len(out) == round(len(x) / rate)
    np.testing.assert_allclose(out, librosa.effects.time_stretch(x, rate=rate), atol=1e-5)


def test_time_stretch_keeps_the_pitch():
    out = time_stretch(sine(440, 1.0, SR), 0.85)
    assert peak_frequency(out, SR) == pytest.approx(440, rel=0.01)


@pytest.mark.parametrize("semitones", [-2.0, 2.0])
def test_pitch_shift_moves_a_sine_by_the_ratio_and_matches_librosa(semitones):
    x = sine(440, 1.0, SR)
    out = pitch_shift(x, SR, semitones)
    assert peak_frequency(out, SR) == pytest.approx(440 * 2 ** (semitones / 12), rel=0.01)
    x = x.astype(np.float64)  # librosa computes in the input's precision, soundtag always in float64
    np.testing.assert_allclose(pitch_shift(x, SR, semitones), librosa.effects.pitch_shift(x, sr=SR, n_steps=semitones),
                               atol=1e-5)


def test_the_module_examples_run():
    assert doctest.testmod(augment).failed == 0
