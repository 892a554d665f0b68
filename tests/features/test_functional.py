"""soundtag.features.functional: each pure function against librosa / scipy on the same input."""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest
import scipy.fft
import torch

from soundtag.features import functional as Fn


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return (0.2 * np.random.default_rng(0).standard_normal(16000 + 37)).astype(np.float32)


# --- mel scale and filterbank ---------------------------------------------------------------------


def test_hz_mel_conversions_match_librosa_slaney():
    freqs = np.array([0.0, 20.0, 440.0, 999.0, 1000.0, 1001.0, 4000.0, 16000.0])
    mels = Fn.hz_to_mel(torch.tensor(freqs, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(mels, librosa.hz_to_mel(freqs, htk=False), rtol=1e-12, atol=1e-12)
    back = Fn.mel_to_hz(torch.tensor(mels, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(back, freqs, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(back, librosa.mel_to_hz(mels, htk=False), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "fmin", "fmax"),
    [
        (32000, 1024, 64, 50.0, None),
        (16000, 512, 40, 0.0, None),
        (44100, 2048, 128, 20.0, 16000.0),
        (22050, 256, 10, 0.0, 8000.0),
    ],
)
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax):
    ours = Fn.mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    assert ours.dtype == torch.float64
    assert ours.shape == (n_mels, n_fft // 2 + 1)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float64)
    # both float64 with the same formulas: equal to rounding (weights are ~1e-2, tolerance 1e-10)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=0, atol=1e-10)


# --- DCT ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_mfcc", "n_mels"), [(20, 64), (13, 40), (64, 64), (1, 8)])
def test_dct_matrix_matches_scipy_ortho_dct(n_mfcc, n_mels):
    x = np.random.default_rng(1).standard_normal((7, n_mels))
    basis = Fn.dct_matrix(n_mfcc, n_mels, torch.float64).numpy()
    assert basis.shape == (n_mfcc, n_mels)
    ref = scipy.fft.dct(x, type=2, norm="ortho", axis=-1)[:, :n_mfcc]
    np.testing.assert_allclose(x @ basis.T, ref, rtol=0, atol=1e-12)


def test_full_dct_matrix_is_orthonormal():
    basis = Fn.dct_matrix(32, 32, torch.float64).numpy()
    np.testing.assert_allclose(basis @ basis.T, np.eye(32), atol=1e-12)
    assert Fn.dct_matrix(4, 8).dtype == torch.float32


# --- STFT and dB ----------------------------------------------------------------------------------


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_stft_power_matches_librosa(noise, power):
    ours = Fn.stft_power(torch.from_numpy(noise)[None], n_fft=1024, hop_length=320, power=power)[0].numpy()
    ref = np.abs(librosa.stft(noise, n_fft=1024, hop_length=320, pad_mode="constant")) ** power
    assert ours.shape == ref.shape
    # float32 FFTs of a signal with |x| ~ 0.2: magnitudes ~10, tolerance relative to the peak
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * ref.max())


@pytest.mark.parametrize("length", [1, 2, 100, 319, 320, 511, 512, 513, 1023, 1024, 5000])
def test_frame_count_matches_librosa_even_for_tiny_signals(length):
    signal = np.random.default_rng(length).standard_normal(length).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns that n_fft is larger than the signal
        ref = librosa.stft(signal, n_fft=1024, hop_length=320, pad_mode="constant")
    ours = Fn.stft_power(torch.from_numpy(signal)[None], n_fft=1024, hop_length=320)
    assert ours.shape[-1] == ref.shape[-1] == Fn.num_frames(length, 320)
    power = np.abs(ref) ** 2
    np.testing.assert_allclose(ours[0].numpy(), power, rtol=1e-4, atol=1e-6 * max(1.0, float(power.max())))


@pytest.mark.parametrize("top_db", [None, 80.0, 40.0])
def test_power_to_db_matches_librosa_per_item(top_db):
    rng = np.random.default_rng(2)
    power = rng.exponential(size=(3, 16, 20)) * np.array([1.0, 1e-4, 1e3])[:, None, None]
    power[1, 0, 0] = 0.0  # below amin: floored
    ours = Fn.power_to_db(torch.tensor(power), amin=1e-10, top_db=top_db).numpy()
    for item in range(3):  # top_db is relative to each item's own peak, as librosa on that item alone
        ref = librosa.power_to_db(power[item], ref=1.0, amin=1e-10, top_db=top_db)
        np.testing.assert_allclose(ours[item], ref, rtol=0, atol=1e-9)


def test_power_to_db_does_not_modify_its_input():
    power = torch.rand(1, 4, 5)
    copy = power.clone()
    Fn.power_to_db(power)
    assert torch.equal(power, copy)


def test_spectrogram_db_matches_the_seed_recipe(noise):
    ours = Fn.spectrogram_db(torch.from_numpy(noise)[None], n_fft=1024, hop_length=512)[0].numpy()
    magnitude = np.abs(librosa.stft(noise, n_fft=1024, hop_length=512, pad_mode="constant"))
    ref = np.clip(librosa.amplitude_to_db(magnitude, ref=np.max, top_db=None), -80, 0) / -80
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-4)
    assert ours.min() >= 0.0 and ours.max() <= 1.0
    assert ours.min() == 0.0  # the loudest bin is 0 dB re max


def test_scale_db_to_unit_is_per_item():
    quiet = torch.rand(8, 10, dtype=torch.float64) + 0.1
    power = torch.stack([quiet, quiet * 1e6])  # a much louder copy must not change the quiet one
    together = Fn.scale_db_to_unit(power)
    np.testing.assert_allclose(together[0], Fn.scale_db_to_unit(power[:1])[0], atol=1e-6)
    np.testing.assert_allclose(together[0], together[1], atol=1e-5)  # scale invariant


# --- deltas and resizing --------------------------------------------------------------------------


@pytest.mark.parametrize("width", [3, 5, 9])
def test_deltas_match_librosa_inside(width):
    features = np.random.default_rng(3).standard_normal((2, 13, 50))
    ours = Fn.deltas(torch.tensor(features), width).numpy()
    assert ours.shape == features.shape
    half = width // 2
    for item in range(2):
        ref = librosa.feature.delta(features[item], width=width, order=1)
        # librosa interpolates at the edges, we replicate: compare the interior frames
        np.testing.assert_allclose(ours[item][:, half:-half], ref[:, half:-half], rtol=1e-10, atol=1e-10)


def test_deltas_of_a_ramp_are_its_slope_and_of_a_constant_zero():
    ramp = torch.arange(30, dtype=torch.float64).repeat(1, 2, 1) * 0.5
    np.testing.assert_allclose(Fn.deltas(ramp, 9)[..., 4:-4].numpy(), 0.5, atol=1e-12)
    np.testing.assert_allclose(Fn.deltas(torch.ones(1, 3, 12), 5).numpy(), 0.0, atol=1e-7)


def test_resize_time():
    features = torch.rand(2, 5, 30)
    assert Fn.resize_time(features, 30) is features
    resized = Fn.resize_time(features, 439)
    assert resized.shape == (2, 5, 439)
    assert resized.min() >= features.min() - 1e-6 and resized.max() <= features.max() + 1e-6
    constant = torch.full((1, 2, 7), 0.25)
    np.testing.assert_allclose(Fn.resize_time(constant, 100).numpy(), 0.25, atol=1e-7)


def test_num_frames():
    assert Fn.num_frames(0, 320) == 1
    assert Fn.num_frames(319, 320) == 1
    assert Fn.num_frames(320, 320) == 2
    assert Fn.num_frames(32000, 320) == 101


@pytest.mark.parametrize("win_length", [None, 800])
def test_framed_power_equals_torch_stft_across_frame_blocks(win_length):
    """Block boundaries (FRAME_BLOCK frames) and a window shorter than n_fft change nothing."""
    waveforms = torch.randn(3, 320 * (Fn.FRAME_BLOCK + 77))
    window = torch.hann_window(win_length or 1024)
    ours = Fn.framed_power(waveforms, 1024, 320, win_length, window).transpose(-1, -2)
    spec = torch.stft(waveforms, 1024, 320, win_length, window, center=True, pad_mode="constant", return_complex=True)
    assert ours.shape == spec.shape
    torch.testing.assert_close(ours, spec.abs().square(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("win_length", [None, 800])
def test_dft_power_as_a_convolution_equals_torch_stft(win_length):
    """The formulation an exported graph uses (a strided convolution with the windowed DFT basis)
    gives the same power spectrum as torch.stft, frame-major."""
    waveforms = torch.randn(2, 32000)
    window = torch.hann_window(win_length or 1024)
    if win_length:
        window = torch.nn.functional.pad(window, ((1024 - win_length) // 2, (1024 - win_length + 1) // 2))
    ours = Fn.dft_power(waveforms, 1024, 640, window).transpose(-1, -2)
    spec = torch.stft(waveforms, 1024, 640, window=window, center=True, pad_mode="constant", return_complex=True)
    torch.testing.assert_close(ours, spec.abs().square(), rtol=1e-4, atol=1e-3)


def test_dft_basis_rows_are_the_windowed_cosines_and_sines():
    window = torch.hann_window(16, dtype=torch.float64)
    basis = Fn.dft_basis(window).squeeze(1)
    assert basis.shape == (2 * 9, 16)
    frame = torch.randn(16, dtype=torch.float64)
    spec = torch.fft.rfft(frame * window)
    torch.testing.assert_close(basis[:9] @ frame, spec.real)
    torch.testing.assert_close(basis[9:] @ frame, spec.imag)
