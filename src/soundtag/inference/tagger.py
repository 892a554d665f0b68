"""A trained run as a tagger: clip probabilities from features, and streamed tags for any file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundtag.audio import audio_info, stream_segments
from soundtag.config import load_config
from soundtag.data import LabelMap
from soundtag.errors import SoundtagError
from soundtag.features import build_transform, extract_batch
from soundtag.models import build_model
from soundtag.training import (
    CONFIG_FILE,
    LABEL_MAP_FILE,
    load_checkpoint,
    predict_clips,
    resolve_device,
    top_k,
    window_frames,
)


@dataclass
class SegmentTags:
    """Top labels of one segment of a file, with its start and end in seconds."""

    start: float
    end: float
    tags: list[tuple[str, float]]


@dataclass
class FileTags:
    """Clip-level top labels of a file, and per-segment tags when it spans several segments."""

    path: str
    duration: float
    tags: list[tuple[str, float]]
    segments: list[SegmentTags] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        result: dict = {"file": self.path, "duration": round(self.duration, 3), "tags": _tag_dicts(self.tags)}
        if self.segments:
            result["segments"] = [
                {"start": round(s.start, 3), "end": round(s.end, 3), "tags": _tag_dicts(s.tags)} for s in self.segments
            ]
        return result


def _tag_dicts(tags: list[tuple[str, float]]) -> list[dict]:
    return [{"label": label, "probability": round(float(p), 4)} for label, p in tags]


class SegmentTagger:
    """Tags files streamed in segments; subclasses say how a batch of segments becomes probabilities."""

    labels: list[str]
    sample_rate: int
    default_segment: float
    default_top_k: int = 3
    batch_size: int = 32
    resample_quality: str = "HQ"

    def segment_probabilities(self, segments: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (n_segments, n_classes) of mono waveforms at :attr:`sample_rate`."""
        raise NotImplementedError

    def top(self, probs: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` best labels of one probability vector."""
        return [(self.labels[int(i)], float(probs[i])) for i in top_k(probs[None, :], k)[0]]

    def tag_file(self, path: str | Path, segment: float | None = None, hop: float | None = None,
                 k: int | None = None) -> FileTags:
        """Tag one file streamed in segments; the file's tags are the duration-weighted mean."""
        segment = segment or self.default_segment
        hop = hop or segment
        k = k or self.default_top_k
        total = np.zeros(len(self.labels))
        weight = 0.0
        segments: list[SegmentTags] = []
        stream = stream_segments(path, self.sample_rate, segment, hop, quality=self.resample_quality)
        for batch in _batched(stream, self.batch_size):
            for seg, probs in zip(batch, self.segment_probabilities([s.samples for s in batch])):
                length = seg.end - seg.start
                total += probs * length
                weight += length
                segments.append(SegmentTags(seg.start, seg.end, self.top(probs, k)))
        duration = audio_info(path).duration
        return FileTags(str(path), duration, self.top(total / weight, k), segments if len(segments) > 1 else [])


class Tagger(SegmentTagger):
    """The model of a run folder (``best.pt`` by default) with its features and labels."""

    def __init__(self, run_dir: str | Path, checkpoint: str = "best.pt", device: str = "auto") -> None:
        run_dir = Path(run_dir)
        if not (run_dir / CONFIG_FILE).is_file():
            raise SoundtagError(f"{run_dir}: not a run folder (no {CONFIG_FILE})")
        self.run_dir = run_dir
        self.config = load_config(run_dir / CONFIG_FILE)
        self.label_map = LabelMap.load(run_dir / LABEL_MAP_FILE)
        self.labels = self.label_map.labels
        self.sample_rate = self.config.audio.sample_rate
        self.resample_quality = self.config.audio.resample_quality
        self.default_segment = self.config.tag.segment or self.config.train.crop_seconds
        self.default_top_k = self.config.tag.top_k
        self.batch_size = self.config.tag.batch_size
        self.device = resolve_device(device if device != "auto" else self.config.train.device)
        self.transform = build_transform(self.config.features, self.config.audio.sample_rate)
        self.model = build_model(self.config.model, self.transform.num_bins, len(self.label_map)).to(self.device)
        weights = load_checkpoint(run_dir / checkpoint, self.device)["model"]
        try:
            self.model.load_state_dict(weights)
        except RuntimeError:
            raise SoundtagError(f"{run_dir / checkpoint}: weights do not fit the model in {CONFIG_FILE}") from None
        self.model.eval()
        self.width = window_frames(self.config)
        self.hop = max(1, self.width // 2)

    def probabilities(self, features: Iterable[np.ndarray]) -> np.ndarray:
        """Class probabilities of each clip's (bins, frames) features, windows averaged."""
        return predict_clips(self.model, features, self.width, self.hop, self.device,
                             self.config.tag.batch_size, self.config.train.pad_mode)

    def segment_probabilities(self, segments: list[np.ndarray]) -> np.ndarray:
        return self.probabilities(extract_batch(self.transform, segments))


def _batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of up to ``size`` consecutive items."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

