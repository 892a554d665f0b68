"""Feature extractors as ``nn.Module``s with their settings fixed at construction.

Each splits into a batched part (:meth:`FeatureTransform.frames`) that is safe on zero-padded
batches, and an item-wise part (:meth:`FeatureTransform.finish`) applied after trimming, so a
ragged batch gives exactly what each clip gives alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from soundtag.config import FeatureConfig, LogMelConfig, MfccConfig, RawConfig, SpectrogramConfig
from soundtag.errors import ConfigError
from soundtag.features import functional as Fn


class FeatureTransform(nn.Module):
    """Waveforms (batch, samples) at ``sample_rate`` to features (batch, bins, frames)."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
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
    def num_bins(self) -> int:
        """Rows of the output: frequency bins, mel bands, coefficients, or 1 for the waveform."""
        raise NotImplementedError

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.finish(self.frames(waveforms))


class Spectrogram(FeatureTransform):
    """The seed's STFT feature: dB re the clip max, clipped, over -top_db, resized to ``n_frames``."""

    def __init__(self, config: SpectrogramConfig, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self.config = config
        self.register_buffer("window", torch.hann_window(config.win_length or config.n_fft), persistent=False)

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        c = self.config
        return Fn.stft_power(waveforms, c.n_fft, c.hop_length, c.win_length, power=2.0, window=self.window)

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        scaled = Fn.scale_db_to_unit(frames, self.config.top_db)
        return scaled if self.config.n_frames is None else Fn.resize_time(scaled, self.config.n_frames)

    def num_frames(self, num_samples: int) -> int:
        return int(Fn.num_frames(num_samples, self.config.hop_length))

    @property
    def num_bins(self) -> int:
        return self.config.n_fft // 2 + 1


class LogMel(FeatureTransform):
    """Log-mel power spectrogram in dB with a floor (``amin``) and an optional ``top_db``."""

    def __init__(self, config: LogMelConfig, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self.config = config
        nyquist = sample_rate / 2
        if config.fmin >= nyquist or (config.fmax is not None and config.fmax > nyquist):
            raise ConfigError(f"features: fmin {config.fmin} and fmax {config.fmax} must lie below half the "
                              f"sample rate ({nyquist:g} Hz)")
        fb = Fn.mel_filterbank(sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
        self.register_buffer("filterbank", fb.float(), persistent=False)
        self.register_buffer("window", torch.hann_window(config.win_length or config.n_fft), persistent=False)

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        c = self.config
        return Fn.mel_power(waveforms, self.filterbank, c.n_fft, c.hop_length, c.win_length, self.window)

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        return Fn.power_to_db(frames, self.config.amin, self.config.top_db)

    def num_frames(self, num_samples: int) -> int:
        return int(Fn.num_frames(num_samples, self.config.hop_length))

    @property
    def num_bins(self) -> int:
        return self.config.n_mels


class MFCC(LogMel):
    """MFCCs with optional deltas stacked along the coefficient axis."""

    config: MfccConfig

    @property
    def num_bins(self) -> int:
        return self.config.n_mfcc * (1 + self.config.deltas)

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        c = self.config
        return Fn.mfcc_from_log_mel(super().finish(frames), c.n_mfcc, c.deltas, c.delta_width)


class Raw(FeatureTransform):
    """The waveform itself as (batch, 1, samples)."""

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        return waveforms.unsqueeze(1)

    def num_frames(self, num_samples: int) -> int:
        return num_samples

    @property
    def num_bins(self) -> int:
        return 1


def build_transform(config: FeatureConfig, sample_rate: int) -> FeatureTransform:
    """The transform for a feature config, found by its ``name``."""
    if isinstance(config, SpectrogramConfig):
        return Spectrogram(config, sample_rate)
    if isinstance(config, MfccConfig):
        return MFCC(config, sample_rate)
    if isinstance(config, LogMelConfig):
        return LogMel(config, sample_rate)
    if isinstance(config, RawConfig):
        return Raw(sample_rate)
    raise TypeError(f"no transform for feature config {type(config).__name__}")


# On CPU a batch beyond ~2**18 samples spills out of cache and runs slower per clip (measured: 64
# two-second clips take 49 ms in batches of 4 and 183 ms as one batch); a GPU can take far more.
CPU_BATCH_SAMPLES = 1 << 18


def length_groups(lengths: list[int], tolerance: float = 1.1, max_samples: int = CPU_BATCH_SAMPLES) -> list[list[int]]:
    """Indices grouped so each group's longest clip is at most ``tolerance`` times its shortest
    and the padded group holds at most ``max_samples`` samples (a longer clip goes alone).
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    for index in order:
        fits = groups and lengths[index] * (len(groups[-1]) + 1) <= max_samples
        if fits and lengths[index] <= tolerance * max(1, lengths[groups[-1][0]]):
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


@torch.inference_mode()
def extract_batch(
    transform: FeatureTransform, signals: list[np.ndarray], max_batch_samples: int = CPU_BATCH_SAMPLES
) -> list[np.ndarray]:
    """Features of clips of any lengths, batched in groups of similar length; one float32 array each."""
    outputs: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(signals)
    for group in length_groups([len(s) for s in signals], max_samples=max_batch_samples):
        longest = max(len(signals[i]) for i in group)
        batch = torch.zeros(len(group), longest)
        for row, i in zip(batch, group):
            row[: len(signals[i])] = torch.from_numpy(np.ascontiguousarray(signals[i], dtype=np.float32))
        frames = transform.frames(batch)
        for row, i in enumerate(group):
            item = frames[row : row + 1, :, : transform.num_frames(len(signals[i]))]
            outputs[i] = transform.finish(item)[0].numpy().astype(np.float32, copy=False)
    return outputs
