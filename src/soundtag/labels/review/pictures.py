"""The log-mel picture of a clip on the review page, drawn from soundtag's own features with a time axis
in seconds and a frequency axis in Hz, cached as PNG in the review folder.

Features come from the feature cache when a run computed them with the same settings (it is only read),
else they are computed in memory; pictures are drawn on a matplotlib ``Figure`` (never pyplot).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np

from soundtag.config import AudioConfig, LogMelConfig
from soundtag.data.cache import FeatureCache, file_key
from soundtag.fileio import atomic_write

PICTURE_SECONDS = 120.0
"""A longer clip's picture shows its first two minutes."""

FREQUENCY_TICKS = (500, 1000, 2000, 4000, 8000, 16000)


class Pictures:
    """PNG pictures of clips, made once each under ``folder`` (one drawing at a time: they are small)."""

    def __init__(self, folder: str | Path, audio: AudioConfig, features: LogMelConfig,
                 cache_dir: str | None = None) -> None:
        self.folder = Path(folder)
        self.audio = audio
        self.features = features
        self.cache = FeatureCache(cache_dir, audio, features)
        self._lock = threading.Lock()
        self._transform = None

    def png(self, audio_path: Path) -> Path:
        """The picture of ``audio_path`` (drawn now unless cached)."""
        target = self.folder / f"{file_key(audio_path)}.png"
        with self._lock:
            if not target.is_file():
                with atomic_write(target, "wb", durable=False) as handle:
                    handle.write(self.draw(audio_path))
        return target

    def draw(self, audio_path: Path) -> bytes:
        """The PNG bytes of the log-mel picture of ``audio_path``."""
        features = self.log_mel(audio_path)
        return draw_log_mel(features, self.features.hop_length / self.audio.sample_rate, self.mel_edges())

    def log_mel(self, audio_path: Path) -> np.ndarray:
        """(bands, frames) log-mel of the clip's first :data:`PICTURE_SECONDS`: cached, else computed."""
        frames = int(PICTURE_SECONDS * self.audio.sample_rate / self.features.hop_length)
        cached = self.cache.load(audio_path)
        if cached is not None:
            return cached[:, :frames]
        from soundtag.audio import load_audio
        from soundtag.features import build_transform, extract_batch

        if self._transform is None:
            self._transform = build_transform(self.features, self.audio.sample_rate)
        signal = load_audio(audio_path, self.audio.sample_rate, quality=self.audio.resample_quality,
                            max_seconds=PICTURE_SECONDS)
        return extract_batch(self._transform, [signal])[0]

    def mel_edges(self) -> tuple[float, float]:
        """The lowest and highest frequency of the mel bands, in Hz."""
        return self.features.fmin, self.features.fmax or self.audio.sample_rate / 2


def band_of(hz: list[float], edges: tuple[float, float], bands: int) -> list[float]:
    """Where frequencies ``hz`` lie on a picture of ``bands`` mel bands spanning ``edges`` (Hz), on the mel
    scale of soundtag's filterbank."""
    import torch

    from soundtag.features.functional import hz_to_mel

    low, high, *mels = hz_to_mel(torch.tensor([*edges, *hz], dtype=torch.float64)).tolist()
    return [(mel - low) / (high - low) * bands for mel in mels]


def draw_log_mel(features: np.ndarray, seconds_per_frame: float, edges: tuple[float, float]) -> bytes:
    """PNG of a (bands, frames) log-mel in dB: time in seconds across, frequency in Hz up."""
    from matplotlib.figure import Figure

    bands, frames = features.shape
    fig = Figure(figsize=(9.0, 2.6), dpi=100)
    ax = fig.add_axes((0.07, 0.2, 0.92, 0.76))
    floor = np.percentile(features, 5) if features.size else 0.0
    ax.imshow(features, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
              extent=(0, max(frames, 1) * seconds_per_frame, 0, bands), vmin=floor)
    ticks = [hz for hz in FREQUENCY_TICKS if edges[0] <= hz <= edges[1]]
    ax.set_yticks(band_of(ticks, edges, bands))
    ax.set_yticklabels([f"{hz / 1000:g}k" if hz >= 1000 else str(hz) for hz in ticks])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Hz")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
