"""A trained run as a tagger: its feature transform and PyTorch model under the streaming of
:class:`~soundtag.inference.segments.SegmentTagger` (which also tags with exported graphs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from soundtag.audio import Segment, stream_segments
from soundtag.config import AudioConfig, RunConfig
from soundtag.data import LabelMap, fit_width
from soundtag.data.activity import waveform_level_db
from soundtag.errors import SoundtagError
from soundtag.features import FeatureTransform, build_transform, extract_batch
from soundtag.inference.segments import NO_FRAMES, FileMean, FileTags, SegmentTagger, SegmentTags
from soundtag.models import build_model
from soundtag.runs import BEST_CHECKPOINT, RunFolder
from soundtag.training import (
    activation,
    checkpoint_weights,
    clip_windows,
    load_checkpoint,
    predict_clips,
    resolve_device,
    weights_mismatch,
    window_frames,
)

__all__ = ["NO_FRAMES", "FileMean", "FileTags", "SegmentTagger", "SegmentTags", "Tagger", "fitted_model"]


def fitted_model(config: RunConfig, transform: FeatureTransform, n_labels: int, weights: dict[str, torch.Tensor],
                 weights_path: Path, config_path: Path) -> nn.Module:
    """The model of ``config`` with ``n_labels`` outputs and ``weights`` loaded; weights of another
    structure or shape are refused in one line naming both files."""
    model = build_model(config.model, transform.num_bins, n_labels)
    refusal = f"{weights_path}: weights do not fit the model of {config_path} with {n_labels} labels"
    problem = weights_mismatch(model, weights)
    if problem:
        raise SoundtagError(f"{refusal} ({problem})")
    try:
        model.load_state_dict(weights)
    except (RuntimeError, ValueError, TypeError):
        raise SoundtagError(refusal) from None
    return model


class Tagger(SegmentTagger):
    """A classifier with its feature transform and labels. Build one from memory with the constructor
    (settings not given come from ``config``, by default the built-in defaults; ``multi_label`` for a
    model trained with sigmoid outputs, with its per-class ``thresholds``), or load a trained run
    folder's with :meth:`from_run`, or a model folder written by ``soundtag export --format hf`` with
    :meth:`from_pretrained`.
    """

    def __init__(self, model: nn.Module, transform: FeatureTransform, labels: Sequence[str],
                 config: RunConfig | None = None, device: str | torch.device = "auto",
                 channels_last: bool = True, run_dir: str | Path | None = None, multi_label: bool = False,
                 thresholds: Sequence[float] | None = None) -> None:
        if config is None:
            config = RunConfig(audio=AudioConfig(sample_rate=transform.sample_rate), features=transform.config)
        if config.audio.sample_rate != transform.sample_rate:
            raise SoundtagError(f"the transform works at {transform.sample_rate} Hz but the config says "
                                f"audio.sample_rate {config.audio.sample_rate}")
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.label_map = LabelMap(list(labels))
        if self.label_map.labels != list(labels):
            raise SoundtagError("labels must be sorted and unique: the model's output i is the i-th label")
        self.labels = self.label_map.labels
        self.multi_label = multi_label
        if thresholds is not None and len(thresholds) != len(self.labels):
            raise SoundtagError(f"{len(thresholds)} thresholds given for {len(self.labels)} labels")
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        self.sample_rate = config.audio.sample_rate
        self.resample_quality = config.audio.resample_quality
        self.default_segment = config.tag.segment or config.train.crop_seconds
        self.window_seconds = config.train.crop_seconds
        self.window_floor_db = config.tag.window_floor_db
        self.source = None if run_dir is None else str(run_dir)
        self.default_top_k = config.tag.top_k
        self.batch_size = config.tag.batch_size
        self.block_seconds = config.tag.block_seconds
        self.default_framewise = config.tag.framewise
        self.default_events = config.tag.events
        self.device = resolve_device(str(device) if str(device) != "auto" else config.train.device)
        self.transform = transform
        self.model = model.to(self.device).eval()
        if channels_last and self.device.type == "cpu":
            # oneDNN runs the 2-D CNNs about twice as fast on NHWC tensors on CPU, with the same
            # results to float rounding (benchmarks/classifiers.py); 1-D models are left as they are.
            self.model = self.model.to(memory_format=torch.channels_last)
        self.width = window_frames(config)
        self.hop = max(1, self.width // 2)
        if hasattr(model, "frame_logits"):
            self.frame_seconds = model.frame_hop * transform.frame_hop / self.sample_rate

    @classmethod
    def from_run(cls, run_dir: str | Path, checkpoint: str = BEST_CHECKPOINT, device: str = "auto",
                 channels_last: bool = True) -> Tagger:
        """The tagger of a run folder's checkpoint (``best.pt`` by default), its config, labels and (of a
        multi-label run) thresholds checked against the run's manifest."""
        folder = RunFolder(run_dir)
        config = folder.read_config()
        label_map = folder.read_label_map()
        transform = build_transform(config.features, config.audio.sample_rate)
        path = folder.checkpoint_path(checkpoint)
        weights = checkpoint_weights(path, load_checkpoint(path, "cpu"))
        model = fitted_model(config, transform, len(label_map), weights, path, folder.config_path)
        multi_label = folder.is_multi_label()
        chosen = folder.read_thresholds(label_map.labels) if multi_label else None
        thresholds = None if chosen is None else [chosen[label] for label in label_map.labels]
        tagger = cls(model, transform, label_map.labels, config, device, channels_last, run_dir=folder.path,
                     multi_label=multi_label, thresholds=thresholds)
        tagger.checkpoint = checkpoint
        return tagger

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "auto", channels_last: bool = True) -> Tagger:
        """The tagger of a model folder written by ``soundtag export --format hf`` (``model.safetensors``
        and ``config.json``), read from the LOCAL folder ``path`` only: soundtag never downloads (see
        :mod:`soundtag.inference.pretrained`). It tags as :meth:`from_run` of the exported run does."""
        from soundtag.inference.pretrained import load_pretrained

        return load_pretrained(path, device, channels_last)

    def source_digest(self) -> str | None:
        """The run's config digest (``config_sha256`` of its manifest); None when built in memory."""
        if self.run_dir is None:
            return None
        manifest = RunFolder(self.run_dir).read_manifest() or {}
        return manifest.get("config_sha256")

    def probabilities(self, features: Iterable[np.ndarray]) -> np.ndarray:
        """Class probabilities of each clip's (bins, frames) features, windows averaged."""
        return predict_clips(self.model, features, self.width, self.hop, self.device,
                             self.batch_size, self.config.train.pad_mode, self.multi_label, self.window_floor_db)

    def decode_rate(self, file_rate: int) -> int:
        """The rate the run's features are computed at for a file recorded at ``file_rate`` Hz: the run's
        ``audio.sample_rate``, or the file's own (``features.resample: false``)."""
        return self.transform.decode_rate(file_rate)

    def segment_probabilities(self, segments: list[np.ndarray], sample_rate: int | None = None) -> np.ndarray:
        return self.probabilities(extract_batch(self.transform.at_rate(sample_rate or self.sample_rate), segments))

    @torch.inference_mode()
    def segment_embeddings(self, segments: list[np.ndarray], sample_rate: int | None = None) -> np.ndarray:
        """The model's embedding (``model.embed``) of each mono waveform at ``sample_rate`` (None:
        :attr:`sample_rate`), (n_segments, dim): the mean over its windows, which are those
        :meth:`probabilities` averages."""
        rows = []
        for features in extract_batch(self.transform.at_rate(sample_rate or self.sample_rate), segments):
            windows = torch.from_numpy(clip_windows(features, self.width, self.hop, self.config.train.pad_mode))
            rows.append(self.model.embed(windows.to(self.device)).float().mean(dim=0).cpu().numpy())
        return np.stack(rows)

    def file_embeddings(self, path: str | Path) -> tuple[np.ndarray, list[Segment], np.ndarray]:
        """One file's clip embedding (the duration-weighted mean, as its tags are made: see
        :meth:`tag_files`), its windows of :meth:`file_window` seconds (samples dropped) and their
        embeddings."""
        windows, rows, levels = [], [], []
        pending: list[Segment] = []

        def flush() -> None:
            rows.extend(self.segment_embeddings([seg.samples for seg in pending], pending[0].sample_rate))
            levels.extend(waveform_level_db(seg.samples) for seg in pending)
            windows.extend(Segment(seg.start, seg.end, np.zeros(0, np.float32), seg.sample_rate) for seg in pending)
            pending.clear()

        for seg in stream_segments(path, self.decode_rate, self.file_window(), self.file_window(),
                                   quality=self.resample_quality):
            pending.append(seg)
            if len(pending) >= self.batch_size:
                flush()
        if pending:
            flush()
        whole = FileMean(self.window_floor_db)
        for seg, row, level in zip(windows, rows, levels):
            whole.add(row, seg.end - seg.start, level)
        return whole.value(), windows, np.stack(rows)

    @torch.inference_mode()
    def frame_probabilities(self, signal: np.ndarray, sample_rate: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        transform = self.transform.at_rate(sample_rate or self.sample_rate)
        features = extract_batch(transform, [signal])[0]
        per_frame = self.model.frame_hop  # feature frames per output frame
        if features.shape[-1] < per_frame:
            features = fit_width(features, per_frame, 0, self.config.train.pad_mode)
        batch = torch.from_numpy(features)[None].to(self.device)
        probs = activation(self.model.frame_logits(batch).float(), self.multi_label)[0].cpu().numpy()
        # output frame j pools feature frames [j, j + 1) * per_frame; feature frame t sits at t * frame_hop
        seconds = transform.frame_hop / transform.sample_rate
        centres = (np.arange(len(probs)) * per_frame + (per_frame - 1) / 2) * seconds
        return probs, centres

