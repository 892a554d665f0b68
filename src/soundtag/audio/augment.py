"""Waveform augmentations that imitate the recording chain: the room, the microphone and channel, the
background, and the source's own pitch and tempo.

Each is a pure function of a mono float32 signal (and, where it draws anything, a seeded
``numpy.random.Generator``), returning a new float32 signal; which of them a training clip gets, and
with which settings, is decided in :mod:`soundtag.data.variants`. Filters work on the whole signal's
spectrum (zero phase, no scipy); room impulse responses come from pyroomacoustics (the ``augment``
extra), imported only when asked for.

>>> import numpy as np
>>> x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
>>> band_limit(x, 16000, 100.0, 2000.0).shape, mix_at_snr(x, x[::-1].copy(), 10.0).dtype
((8000,), dtype('float32'))
"""

from __future__ import annotations

import io
from collections.abc import Callable
from types import ModuleType

import numpy as np
import soundfile as sf
import soxr
import torch

from soundtag.errors import SoundtagError

#: Short-time Fourier transform of the phase vocoder (librosa's defaults, so time_stretch matches
#: ``librosa.effects.time_stretch``): 2048-point Hann frames every 512 samples.
VOCODER_FFT = 2048
VOCODER_HOP = 512

#: compression_level of libsndfile's MP3 writer is refused at 1.0; this is the highest taken.
MAX_COMPRESSION = 0.99

#: Sabine's constant (s/m): reverberation time = SABINE * volume / (surface * absorption), sound at 343 m/s.
SABINE = 24 * np.log(10) / 343.0

#: Sample rates an MP3 file can have (MPEG 1, 2 and 2.5).
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def _power(signal: np.ndarray) -> float:
    """Mean square of ``signal`` in float64."""
    return float(np.mean(np.square(signal, dtype=np.float64))) if len(signal) else 0.0


def _fit_length(signal: np.ndarray, length: int) -> np.ndarray:
    """``signal`` cut or zero-padded at its end to ``length`` samples, as float32."""
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(signal))] = signal[:length]
    return out


# --- the microphone and channel: spectral colouring, band limits, saturation, codecs ---------------


def shape_spectrum(signal: np.ndarray, sample_rate: int, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``signal`` filtered with zero phase by the magnitude response ``gain(frequencies in Hz)``,
    applied to the spectrum of the whole signal (zero-padded to a power of two at least a quarter
    longer, so the filter's short response does not wrap around onto its start, and the FFT is fast)."""
    n = 1 << (len(signal) + max(256, len(signal) // 4) - 1).bit_length()
    spectrum = np.fft.rfft(signal.astype(np.float64), n)
    spectrum *= gain(np.fft.rfftfreq(n, 1 / sample_rate))
    return np.fft.irfft(spectrum, n)[: len(signal)].astype(np.float32)


def random_eq_curve(rng: np.random.Generator, sample_rate: int, max_db: float, points: int = 6,
                    low_hz: float = 50.0) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth random magnitude response: gains drawn uniformly in ±``max_db`` at ``points``
    frequencies spaced evenly on a log scale from ``low_hz`` to Nyquist, joined linearly in dB over
    log frequency (flat beyond the ends), as a microphone's or a small loudspeaker's colouring."""
    anchors = np.log(np.geomspace(low_hz, sample_rate / 2, points))
    gains_db = rng.uniform(-max_db, max_db, points)

    def gain(freqs: np.ndarray) -> np.ndarray:
        return 10.0 ** (np.interp(np.log(np.maximum(freqs, 1.0)), anchors, gains_db) / 20)

    return gain


def random_eq(signal: np.ndarray, rng: np.random.Generator, sample_rate: int, max_db: float) -> np.ndarray:
    """``signal`` coloured by :func:`random_eq_curve`."""
    return shape_spectrum(signal, sample_rate, random_eq_curve(rng, sample_rate, max_db))


def band_limit(signal: np.ndarray, sample_rate: int, low_hz: float, high_hz: float, order: int = 4) -> np.ndarray:
    """``signal`` through a zero-phase band pass from ``low_hz`` to ``high_hz``: the magnitudes of an
    ``order``-th order Butterworth high pass and low pass (24 dB per octave for 4), as a cheap
    microphone, a telephone line or a band-limited recording."""

    def gain(freqs: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            low = 1 / np.sqrt(1 + (low_hz / freqs) ** (2 * order))
        return low / np.sqrt(1 + (freqs / high_hz) ** (2 * order))

    return shape_spectrum(signal, sample_rate, gain)


def saturate(signal: np.ndarray, drive_db: float) -> np.ndarray:
    """Soft clipping: ``tanh`` of the signal driven ``drive_db`` above its own peak, scaled back to
    that peak, so quiet passages pass unchanged and peaks are compressed (a lower crest factor), as an
    overdriven preamplifier or a limiter. A silent signal is returned as it is."""
    peak = float(np.max(np.abs(signal))) if len(signal) else 0.0
    if peak == 0.0 or drive_db <= 0:
        return signal.astype(np.float32, copy=True)
    drive = 10.0 ** (drive_db / 20)
    return (peak * np.tanh(drive * signal.astype(np.float64) / peak) / np.tanh(drive)).astype(np.float32)


def codec_round_trip(signal: np.ndarray, sample_rate: int, codec: str, compression: float) -> np.ndarray:
    """``signal`` encoded to ``codec`` (``mp3`` or ``ogg``: Vorbis) in memory with soundfile at
    ``compression`` (libsndfile's compression_level: 0 the highest bit rate, 1 the lowest), decoded
    back and fitted to its length. MP3 needs one of :data:`MP3_RATES`; another rate is refused."""
    formats = {"mp3": ("MP3", "MPEG_LAYER_III"), "ogg": ("OGG", "VORBIS")}
    if codec not in formats:
        raise ValueError(f"codec must be one of {', '.join(formats)}, got {codec!r}")
    if codec == "mp3" and sample_rate not in MP3_RATES:
        raise ValueError(f"MP3 cannot hold {sample_rate} Hz audio (rates: {MP3_RATES})")
    container, subtype = formats[codec]
    buffer = io.BytesIO()
    peak = max(1.0, float(np.max(np.abs(signal)))) if len(signal) else 1.0  # the codecs clip at full scale
    sf.write(buffer, signal / peak, sample_rate, format=container, subtype=subtype,
             compression_level=min(max(compression, 0.0), MAX_COMPRESSION))
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    return _fit_length(decoded * peak, len(signal))


# --- the background ----------------------------------------------------------------------------


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal`` plus ``noise`` (repeated or cut to its length) scaled so the ratio of their mean
    powers is ``snr_db``; a silent signal or a silent noise leaves the signal as it is."""
    if not len(noise) or not len(signal):
        return signal.astype(np.float32, copy=True)
    fitted = np.resize(noise, len(signal)).astype(np.float64)  # np.resize repeats the noise
    signal_power, noise_power = _power(signal), _power(fitted)
    if signal_power == 0.0 or noise_power == 0.0:
        return signal.astype(np.float32, copy=True)
    scale = np.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10)))
    return (signal + scale * fitted).astype(np.float32)


def quiet_parts(signal: np.ndarray, sample_rate: int, share: float = 0.25, frame_seconds: float = 0.05,
                floor_db: float = -80.0) -> np.ndarray:
    """The quietest ``share`` of a clip's ``frame_seconds`` frames, joined in their order: its
    background, to mix into other clips. Frames below ``floor_db`` (dB re full scale, RMS) are digital
    silence, not background, and are left out; a clip with no frame above it gives an empty array."""
    size = max(1, int(round(frame_seconds * sample_rate)))
    frames = signal[: len(signal) // size * size].reshape(-1, size)
    if not len(frames):
        return np.zeros(0, dtype=np.float32)
    level = 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-20)
    audible = np.flatnonzero(level > floor_db)
    keep = audible[np.argsort(level[audible], kind="stable")[: int(np.ceil(share * len(audible)))]]
    return frames[np.sort(keep)].reshape(-1).astype(np.float32)


# --- the room ------------------------------------------------------------------------------------


def room_simulator() -> ModuleType:
    """pyroomacoustics (the ``augment`` extra), or a one-line error saying how to install it."""
    try:
        import pyroomacoustics
    except ImportError:
        raise SoundtagError("room reverberation (train.augment.chain.reverb) needs pyroomacoustics: "
                            "pip install 'soundtag[augment]'") from None
    return pyroomacoustics


def shoebox_rir(rng: np.random.Generator, sample_rate: int, rt60: float, max_order: int = 150) -> np.ndarray:
    """The impulse response from a random source to a random microphone in a random shoebox room
    whose wall absorption gives reverberation time ``rt60`` (Sabine), by pyroomacoustics' image source
    method: rooms 3-10 m by 3-8 m by 2.5-4 m (shrunk where even fully absorbing walls would ring longer
    than ``rt60``), both positions at least 0.5 m from every wall (a quarter of a shrunk room). Image
    sources are cut at ``max_order`` reflections, which bounds the cost (a few seconds a response)
    and shortens only the tails of small rooms that ring for much longer than a second.
    Normalised to a direct-path peak of 1."""
    pra = room_simulator()
    dims = rng.uniform([3.0, 3.0, 2.5], [10.0, 8.0, 4.0])
    surface = 2 * (dims[0] * dims[1] + dims[1] * dims[2] + dims[2] * dims[0])
    dims *= min(1.0, rt60 / (1.1 * SABINE * np.prod(dims) / surface))
    margin = np.minimum(0.5, dims / 4)
    source, microphone = (rng.uniform(margin, dims - margin) for _ in range(2))
    absorption, order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=min(order, max_order))
    room.add_source(source)
    room.add_microphone(microphone)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    return (rir / np.max(np.abs(rir))).astype(np.float32)


def reverberate(signal: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``signal`` convolved with room impulse response ``rir``, started at the direct path (its
    largest sample) so the sound keeps its timing, cut to the signal's length and scaled back to its
    mean power (the room adds a tail and colour, not loudness)."""
    if not len(signal) or _power(signal) == 0.0:
        return signal.astype(np.float32, copy=True)
    rir = rir[int(np.argmax(np.abs(rir))):].astype(np.float64)
    n = len(signal) + len(rir) - 1
    size = 1 << (n - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(signal.astype(np.float64), size) * np.fft.rfft(rir, size), size)[: len(signal)]
    wet_power = _power(wet)
    scale = np.sqrt(_power(signal) / wet_power) if wet_power > 0 else 0.0
    return (wet * scale).astype(np.float32)


# --- the source: tempo and pitch ---------------------------------------------------------------------


def _stft(signal: np.ndarray) -> torch.Tensor:
    """Centred (zero-padded) STFT with a periodic Hann window, in float64, as librosa's ``stft``."""
    return torch.stft(torch.from_numpy(signal.astype(np.float64)), VOCODER_FFT, VOCODER_HOP,
                      window=torch.hann_window(VOCODER_FFT, dtype=torch.float64), center=True,
                      pad_mode="constant", return_complex=True)


def phase_vocoder(spectrum: np.ndarray, rate: float, hop: int = VOCODER_HOP) -> np.ndarray:
    """A (bins, frames) complex STFT played ``rate`` times faster: frames read every ``rate`` frames
    with magnitudes interpolated linearly and phases advanced by each bin's measured frequency
    (librosa's ``phase_vocoder``, vectorised: the running phase is a cumulative sum)."""
    bins, frames = spectrum.shape
    steps = np.arange(0, frames, rate, dtype=np.float64)
    padded = np.pad(spectrum, [(0, 0), (0, 2)])
    size, angle = np.abs(padded), np.angle(padded)
    left, alpha = steps.astype(int), steps % 1.0
    magnitude = (1.0 - alpha) * size[:, left] + alpha * size[:, left + 1]
    advance = hop * np.linspace(0, np.pi, bins)[:, None]  # expected phase advance of each bin per hop
    delta = angle[:, left + 1] - angle[:, left] - advance
    delta -= 2.0 * np.pi * np.round(delta / (2.0 * np.pi))
    increments = np.cumsum(advance + delta, axis=1)
    phase = angle[:, :1] + np.concatenate([np.zeros((bins, 1)), increments[:, :-1]], axis=1)
    return magnitude * np.exp(1j * phase)


def time_stretch(signal: np.ndarray, rate: float) -> np.ndarray:
    """``signal`` played ``rate`` times faster at the same pitch (phase vocoder; length divided by
    ``rate``), as ``librosa.effects.time_stretch``: a slower or faster player of the same instrument."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    stretched = phase_vocoder(_stft(signal).numpy(), rate)
    length = int(round(len(signal) / rate))
    out = torch.istft(torch.from_numpy(stretched), VOCODER_FFT, VOCODER_HOP,
                      window=torch.hann_window(VOCODER_FFT, dtype=torch.float64), center=True, length=length)
    return out.numpy().astype(np.float32)


def pitch_shift(signal: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """``signal`` ``semitones`` higher (lower when negative) at the same length: stretched in time by
    the frequency ratio, then resampled with soxr back to its length (as ``librosa.effects.pitch_shift``)."""
    if semitones == 0:
        return signal.astype(np.float32, copy=True)
    rate = 2.0 ** (-semitones / 12)
    shifted = soxr.resample(time_stretch(signal, rate), sample_rate / rate, sample_rate, quality="HQ")
    return _fit_length(shifted, len(signal))
