"""The feature kinds: each one's config dataclass next to its transform, an ``nn.Module`` with the
settings fixed at construction, registered together by :func:`register_feature`. Adding a kind is
a config and a transform here (or in any module imported before configs are loaded), and its test.

Each transform splits into a batched part (:meth:`FeatureTransform.frames`) that is safe on zero-padded
batches, and an item-wise part (:meth:`FeatureTransform.finish`) applied after trimming, so a
ragged batch gives exactly what each clip gives alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from soundtag.config import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, FeatureConfig, Range, setting
from soundtag.errors import ConfigError
from soundtag.features import functional as Fn
from soundtag.features.registry import register_feature, transform_type


class FeatureTransform(nn.Module):
    """Waveforms (batch, samples) at ``sample_rate`` to features (batch, bins, frames), built from a
    config of the class it was registered with (:func:`~soundtag.features.registry.register_feature`).
    """

    config_type: ClassVar[type[FeatureConfig]]
    #: The values are in dB, so a random gain is added to them.
    in_db: ClassVar[bool] = False
    #: Rows are frequency bins over frames, for 2-D models; False: the waveform as one row, for 1-D models.
    spectral: ClassVar[bool] = True

    def __init__(self, config: FeatureConfig, sample_rate: int) -> None:
        super().__init__()
        self.config = config
        self.sample_rate = sample_rate

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        """The batched part; trailing zero padding never changes earlier frames."""
        raise NotImplementedError

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        """The item-wise part (normalisation, deltas, resizing) on trimmed frames."""
        return frames

    def num_frames(self, num_samples: int) -> int:
        """Frames :meth:`frames` gives for a clip of ``num_samples`` samples."""
        raise NotImplementedError

    @property
    def fixed_frames(self) -> int | None:
        """The width :meth:`finish` resizes every clip to, or None when the width follows the clip."""
        return None

    @property
    def num_bins(self) -> int:
        """Rows of the output: frequency bins, mel bands, coefficients, or 1 for the waveform."""
        raise NotImplementedError

    @property
    def frame_hop(self) -> int:
        """Samples between the starts of consecutive frames."""
        raise NotImplementedError

    @property
    def frame_context(self) -> int:
        """Samples a frame reads on either side of its centre (0 when frames are samples)."""
        raise NotImplementedError

    def decode_rate(self, file_rate: int) -> int:
        """The rate to decode a file recorded at ``file_rate`` Hz at: :attr:`sample_rate`, unless the kind
        computes at the file's own rate (a log-mel's ``resample: false``) and can there."""
        return self.sample_rate

    def at_rate(self, sample_rate: int) -> FeatureTransform:
        """The transform for waveforms at ``sample_rate`` (one of :meth:`decode_rate`'s answers): itself
        at its own rate; a kind that computes at each file's rate gives the same frames and bands there."""
        if sample_rate != self.sample_rate:
            raise ValueError(f"{type(self).__name__} works at {self.sample_rate} Hz only, not {sample_rate} Hz")
        return self

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.finish(self.frames(waveforms))


@dataclass
class StftConfig(FeatureConfig):
    """Short-time Fourier transform framing shared by the spectral features. An odd ``n_fft`` would
    give centred frames one fewer than ``1 + samples // hop``, so a clip alone and in a batch would differ.
    """

    n_fft: int = setting(1024, Range(16, parity="even"))
    hop_length: int = setting(320, AT_LEAST_ONE)
    win_length: int | None = setting(None, AT_LEAST_ONE)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.win_length is not None and self.win_length > self.n_fft:
            raise ConfigError(f"features.win_length must be <= n_fft ({self.n_fft}), got {self.win_length}")


class StftTransform(FeatureTransform):
    """Features built on centred STFT frames of :attr:`n_fft` samples every :attr:`hop_length`: the config's
    sample counts, or (built for a file's own rate, ``reference_rate`` being the rate they are meant at)
    the same durations at ``sample_rate``, on an FFT size with small prime factors."""

    config: StftConfig

    def __init__(self, config: StftConfig, sample_rate: int, reference_rate: int | None = None) -> None:
        super().__init__(config, sample_rate)
        self.reference_rate = reference_rate or sample_rate
        ratio = Fraction(sample_rate, self.reference_rate)
        hop = config.hop_length * ratio
        if hop.denominator != 1:
            raise ValueError(f"a hop of {config.hop_length} samples at {self.reference_rate} Hz is not a whole "
                             f"number of samples at {sample_rate} Hz")
        self.hop_length = int(hop)
        self.win_length = max(2, round((config.win_length or config.n_fft) * ratio))
        self.n_fft = config.n_fft if ratio == 1 else fast_fft_size(max(self.win_length, round(config.n_fft * ratio)))
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def num_frames(self, num_samples: int) -> int:
        return int(Fn.num_frames(num_samples, self.hop_length))

    @property
    def frame_hop(self) -> int:
        return self.hop_length

    @property
    def frame_context(self) -> int:
        return self.n_fft // 2


def fast_fft_size(length: int) -> int:
    """The smallest even size >= ``length`` whose prime factors are 2, 3 and 5: an FFT of 1440 points
    runs about as fast as one of 1024, where one of 1411 (17 x 83) is 20 times slower."""
    size = length + length % 2
    while True:
        rest = size
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return size
        size += 2


@dataclass
class SpectrogramConfig(StftConfig):
    """The 2018 recipe's feature: STFT magnitude in dB re the clip's max, clipped, scaled to [0, 1]."""

    name: ClassVar[str] = "spectrogram"
    hop_length: int = setting(512, AT_LEAST_ONE)
    top_db: float = setting(80.0, POSITIVE)
    n_frames: int | None = setting(439, AT_LEAST_ONE)


@register_feature(SpectrogramConfig)
class Spectrogram(StftTransform):
    """The 2018 recipe's STFT feature: dB re the clip max, clipped, over -top_db, resized to ``n_frames``."""

    config: SpectrogramConfig

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        return Fn.stft_power(waveforms, self.n_fft, self.hop_length, self.win_length, power=2.0, window=self.window)

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        scaled = Fn.scale_db_to_unit(frames, self.config.top_db)
        return scaled if self.config.n_frames is None else Fn.resize_time(scaled, self.config.n_frames)

    @property
    def fixed_frames(self) -> int | None:
        return self.config.n_frames

    @property
    def num_bins(self) -> int:
        return self.n_fft // 2 + 1


@dataclass
class LogMelConfig(StftConfig):
    """Log-mel power spectrogram in dB with a floor: the default feature for new runs.

    ``resample: false`` computes it at each file's own rate instead of resampling the file to
    ``audio.sample_rate``: window and hop are the same durations there (``n_fft`` and ``hop_length``
    count samples at ``audio.sample_rate``), and the mel bands the same frequencies (``fmax`` null:
    half of ``audio.sample_rate``). A file whose rate does not make the hop a whole number of samples
    is resampled as before.
    """

    name: ClassVar[str] = "logmel"
    n_mels: int = setting(64, AT_LEAST_ONE)
    fmin: float = setting(50.0, NON_NEGATIVE)
    fmax: float | None = setting(None, POSITIVE)
    amin: float = setting(1e-10, POSITIVE)
    top_db: float | None = setting(None, POSITIVE)
    resample: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fmax is not None and self.fmax <= self.fmin:
            raise ConfigError(f"features.fmax must be > fmin ({self.fmin:g}), got {self.fmax:g}")

    def check_loaded(self) -> None:
        if self.n_mels > self.n_fft // 2 + 1:  # it computes, but some bands hold no FFT bin
            raise ConfigError(f"features.n_mels must be <= n_fft // 2 + 1 ({self.n_fft // 2 + 1}), got {self.n_mels}")


@register_feature(LogMelConfig)
class LogMel(StftTransform):
    """Log-mel power spectrogram in dB with a floor (``amin``) and an optional ``top_db``.

    Built for a file's own rate (:meth:`at_rate`), the filters are those of the reference rate in Hz,
    scaled so that a sound gives the power it gives at the reference rate: a band's power grows with
    the FFT size times the rate (each bin's with the square of the samples in the window, the bins per
    Hz with the FFT size over the rate).
    """

    config: LogMelConfig
    in_db = True

    def __init__(self, config: LogMelConfig, sample_rate: int, reference_rate: int | None = None) -> None:
        super().__init__(config, sample_rate, reference_rate)
        nyquist = self.reference_rate / 2
        if config.fmin >= nyquist or (config.fmax is not None and config.fmax > nyquist):
            raise ConfigError(f"features: fmin {config.fmin} and fmax {config.fmax} must lie below half the "
                              f"sample rate ({nyquist:g} Hz)")
        fb = Fn.mel_filterbank(sample_rate, self.n_fft, config.n_mels, config.fmin, config.fmax or nyquist)
        scale = (config.n_fft * self.reference_rate) / (self.n_fft * sample_rate)
        self.register_buffer("filterbank", (fb * scale).float(), persistent=False)
        self._at_rates: dict[int, LogMel] = {}

    def decode_rate(self, file_rate: int) -> int:
        keeps = (not self.config.resample and self.reference_rate == self.sample_rate and file_rate > 0
                 and (self.config.hop_length * file_rate) % self.sample_rate == 0)
        return file_rate if keeps else self.sample_rate

    def at_rate(self, sample_rate: int) -> FeatureTransform:
        if sample_rate == self.sample_rate:
            return self
        if self.decode_rate(sample_rate) != sample_rate:
            return super().at_rate(sample_rate)
        if sample_rate not in self._at_rates:
            self._at_rates[sample_rate] = type(self)(self.config, sample_rate, self.sample_rate)
        return self._at_rates[sample_rate]

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        return Fn.mel_power(waveforms, self.filterbank, self.n_fft, self.hop_length, self.win_length, self.window)

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        return Fn.power_to_db(frames, self.config.amin, self.config.top_db)

    @property
    def num_bins(self) -> int:
        return self.config.n_mels


@dataclass
class MfccConfig(LogMelConfig):
    """MFCCs: DCT-II (orthonormal) of the log-mel spectrogram, with optional deltas."""

    name: ClassVar[str] = "mfcc"
    n_mfcc: int = setting(20, AT_LEAST_ONE)
    top_db: float | None = setting(80.0, POSITIVE)
    deltas: Literal[0, 1, 2] = 0
    delta_width: int = setting(9, Range(3, parity="odd"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_mfcc > self.n_mels:
            raise ConfigError(f"features.n_mfcc must be <= n_mels ({self.n_mels}), got {self.n_mfcc}")


@register_feature(MfccConfig)
class MFCC(LogMel):
    """MFCCs with optional deltas stacked along the coefficient axis (not in dB: a gain moves only c0)."""

    config: MfccConfig
    in_db = False

    @property
    def num_bins(self) -> int:
        return self.config.n_mfcc * (1 + self.config.deltas)

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        c = self.config
        return Fn.mfcc_from_log_mel(super().finish(frames), c.n_mfcc, c.deltas, c.delta_width)


@dataclass
class RawConfig(FeatureConfig):
    """The waveform itself, for 1-D CNNs."""

    name: ClassVar[str] = "raw"


@register_feature(RawConfig)
class Raw(FeatureTransform):
    """The waveform itself as (batch, 1, samples)."""

    spectral = False

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        return waveforms.unsqueeze(1)

    def num_frames(self, num_samples: int) -> int:
        return num_samples

    @property
    def num_bins(self) -> int:
        return 1

    @property
    def frame_hop(self) -> int:
        return 1

    @property
    def frame_context(self) -> int:
        return 0


def build_transform(config: FeatureConfig, sample_rate: int) -> FeatureTransform:
    """The transform registered with ``config``'s class, built for audio at ``sample_rate``."""
    return transform_type(config)(config, sample_rate)


# Samples per packed call of :meth:`FeatureTransform.frames`: enough to amortise torch's per-call
# overhead over several short clips; the STFT itself works through a pack in cache-sized blocks.
PACK_SAMPLES = 1 << 18


def pack_offsets(lengths: list[int], hop: int, context: int, max_samples: int = PACK_SAMPLES) -> list[list[tuple[int, int]]]:
    """Clips laid end to end in packs of at most ``max_samples`` (a longer clip goes alone): per pack,
    (clip index, start sample). Starts fall on the hop grid and each clip is followed by at least
    ``context`` zeros, so no frame of one clip reads a sample of its neighbour.
    """
    packs: list[list[tuple[int, int]]] = []
    end = 0
    for index, length in enumerate(lengths):
        if not packs or end + length > max_samples:
            packs.append([])
            end = 0
        packs[-1].append((index, end))
        end = -(-(end + length + context) // hop) * hop
    return packs


@torch.inference_mode()
def extract_batch(
    transform: FeatureTransform, signals: list[np.ndarray], max_pack_samples: int = PACK_SAMPLES
) -> list[np.ndarray]:
    """Features of clips of any lengths, one float32 array each, computed on packs of clips laid end
    to end with zeros between them: exactly what each clip gives alone, with no padding to a common length.
    """
    outputs: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(signals)
    hop, context = transform.frame_hop, transform.frame_context
    for pack in pack_offsets([len(s) for s in signals], hop, context, max_pack_samples):
        last, last_start = pack[-1]
        buffer = torch.zeros(1, last_start + len(signals[last]))
        for i, start in pack:
            buffer[0, start : start + len(signals[i])] = torch.from_numpy(np.ascontiguousarray(signals[i], dtype=np.float32))
        frames = transform.frames(buffer)
        for i, start in pack:
            first = start // hop
            item = frames[:, :, first : first + transform.num_frames(len(signals[i]))]
            outputs[i] = transform.finish(item)[0].numpy().astype(np.float32, copy=False)
    return outputs
