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

    @property
    def frame_hop(self) -> int:
        """Samples between the starts of consecutive frames."""
        raise NotImplementedError

    @property
    def frame_context(self) -> int:
        """Samples a frame reads on either side of its centre (0 when frames are samples)."""
        raise NotImplementedError

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.finish(self.frames(waveforms))


class StftTransform(FeatureTransform):
    """Features built on centred STFT frames of ``config.n_fft`` samples every ``config.hop_length``."""

    def __init__(self, config: SpectrogramConfig | LogMelConfig, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self.config = config
        self.register_buffer("window", torch.hann_window(config.win_length or config.n_fft), persistent=False)

    def num_frames(self, num_samples: int) -> int:
        return int(Fn.num_frames(num_samples, self.config.hop_length))

    @property
    def frame_hop(self) -> int:
        return self.config.hop_length

    @property
    def frame_context(self) -> int:
        return self.config.n_fft // 2


class Spectrogram(StftTransform):
    """The seed's STFT feature: dB re the clip max, clipped, over -top_db, resized to ``n_frames``."""

    config: SpectrogramConfig

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        c = self.config
        return Fn.stft_power(waveforms, c.n_fft, c.hop_length, c.win_length, power=2.0, window=self.window)

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        scaled = Fn.scale_db_to_unit(frames, self.config.top_db)
        return scaled if self.config.n_frames is None else Fn.resize_time(scaled, self.config.n_frames)

    @property
    def num_bins(self) -> int:
        return self.config.n_fft // 2 + 1


class LogMel(StftTransform):
    """Log-mel power spectrogram in dB with a floor (``amin``) and an optional ``top_db``."""

    config: LogMelConfig

    def __init__(self, config: LogMelConfig, sample_rate: int) -> None:
        super().__init__(config, sample_rate)
        nyquist = sample_rate / 2
        if config.fmin >= nyquist or (config.fmax is not None and config.fmax > nyquist):
            raise ConfigError(f"features: fmin {config.fmin} and fmax {config.fmax} must lie below half the "
                              f"sample rate ({nyquist:g} Hz)")
        fb = Fn.mel_filterbank(sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
        self.register_buffer("filterbank", fb.float(), persistent=False)

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        c = self.config
        return Fn.mel_power(waveforms, self.filterbank, c.n_fft, c.hop_length, c.win_length, self.window)

    def finish(self, frames: torch.Tensor) -> torch.Tensor:
        return Fn.power_to_db(frames, self.config.amin, self.config.top_db)

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

    @property
    def frame_hop(self) -> int:
        return 1

    @property
    def frame_context(self) -> int:
        return 0


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
