"""A trained run as a tagger: clip probabilities from features, and streamed tags for any file.

Which labels a file or segment gets (:meth:`SegmentTagger.select`): a single-label run gives its ``k``
most probable labels; a multi-label run gives the labels whose probability is at or above their
class's threshold (the run's ``thresholds.json``, chosen on its validation clips), most probable first
and at most ``k``, and an EMPTY list when no class reaches its threshold ("nothing here"). A threshold
given to :meth:`SegmentTagger.tag_files` (``soundtag tag --threshold``) replaces every class's, for
single-label runs too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from soundtag.audio import Segment, audio_info, display_name, split_signal, stream_segments, stream_windows
from soundtag.audio.decode import check_samples, header_problem, to_mono
from soundtag.audio.resample import resample_stream
from soundtag.config import AudioConfig, RunConfig
from soundtag.data import LabelMap, fit_width
from soundtag.errors import AudioError, SoundtagError
from soundtag.features import FeatureTransform, build_transform, extract_batch
from soundtag.models import build_model
from soundtag.runs import BEST_CHECKPOINT, RunFolder
from soundtag.training import (
    activation,
    checkpoint_weights,
    clip_windows,
    load_checkpoint,
    predict_clips,
    resolve_device,
    top_k,
    weights_mismatch,
    window_frames,
)
from soundtag.training.metrics import DEFAULT_THRESHOLD


@dataclass
class SegmentTags:
    """The labels of one segment of a file (see :meth:`SegmentTagger.select`), with its start and end
    in seconds."""

    start: float
    end: float
    tags: list[tuple[str, float]]


@dataclass
class FileTags:
    """Clip-level labels of a file, and per-segment tags when it spans several segments (an empty
    list: none of the classes, from a multi-label run); ``silent`` when every sample of the file is 0
    (its tags then say nothing of it)."""

    path: str
    duration: float
    tags: list[tuple[str, float]]
    segments: list[SegmentTags] = field(default_factory=list)
    silent: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form; the file's name as :func:`~soundtag.audio.display_name` writes it."""
        result: dict = {"file": display_name(self.path), "duration": round(self.duration, 3),
                        "tags": _tag_dicts(self.tags)}
        if self.silent:
            result["silent"] = True
        if self.segments:
            result["segments"] = [
                {"start": round(s.start, 3), "end": round(s.end, 3), "tags": _tag_dicts(s.tags)} for s in self.segments
            ]
        return result


def _tag_dicts(tags: list[tuple[str, float]]) -> list[dict]:
    return [{"label": label, "probability": round(float(p), 4)} for label, p in tags]


def _pcm_block(waveform: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """A waveform given to :meth:`SegmentTagger.tag_array` as a float32 (samples, channels) block, as
    soundfile reads a file (integer PCM scaled to [-1, 1)), and its rate; an :class:`AudioError` naming
    ``array`` when it cannot be audio."""
    data = np.asarray(waveform)
    if data.dtype.kind in "iu":
        half = float(2 ** (8 * data.dtype.itemsize - 1))
        data = (data.astype(np.float64) - (half if data.dtype.kind == "u" else 0.0)) / half
    elif data.dtype.kind != "f":
        raise AudioError("array", f"dtype {data.dtype} is not PCM audio (give float or integer samples)")
    if data.ndim not in (1, 2) or (data.ndim == 2 and data.shape[1] > data.shape[0] > 0):
        hint = ", e.g. the transpose of a (channels, samples) array" if data.ndim == 2 else ""
        raise AudioError("array", f"shape {data.shape} is not (samples,) or (samples, channels){hint}")
    if data.size == 0:
        raise AudioError("array", f"contains no audio samples (shape {data.shape})")
    whole = isinstance(sample_rate, (int, np.integer)) and not isinstance(sample_rate, bool)
    rate = int(sample_rate) if whole or (isinstance(sample_rate, float) and sample_rate.is_integer()) else 0
    problem = (header_problem(rate, 1) if rate > 0
               else f"sample rate {sample_rate!r} is not a positive whole number of Hz")
    if problem:
        raise AudioError("array", problem)
    return np.ascontiguousarray(data.reshape(len(data), -1), dtype=np.float32), rate


class SegmentTagger:
    """Tags files streamed in segments; subclasses say how a batch of segments becomes probabilities."""

    labels: list[str]
    sample_rate: int
    default_segment: float
    default_top_k: int = 3
    batch_size: int = 32
    resample_quality: str = "HQ"
    block_seconds: float = 30.0
    default_framewise: bool = False
    multi_label: bool = False
    thresholds: np.ndarray | None = None
    """Per-class thresholds of a multi-label tagger (None: :data:`DEFAULT_THRESHOLD` for every class)."""
    window_seconds: float | None = None
    """The training window: the windows of a file's own tags (None: :attr:`default_segment`)."""
    source: str | None = None
    """The run folder or exported file the tagger was loaded from (None: built in memory)."""
    checkpoint: str | None = None
    """The checkpoint of the run folder, when loaded from one."""

    def segment_probabilities(self, segments: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (n_segments, n_classes) of mono waveforms at :attr:`sample_rate`."""
        raise NotImplementedError

    def frame_probabilities(self, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities of each output frame of one waveform, (frames, n_classes), and each
        frame's centre in seconds; only taggers whose model has frame-wise outputs have them."""
        raise SoundtagError("frame-wise tagging needs a run folder whose model has frame-wise outputs "
                            "(an exported graph gives clip probabilities only)")

    def top(self, probs: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` best labels of one probability vector."""
        return [(self.labels[int(i)], float(probs[i])) for i in top_k(probs[None, :], k)[0]]

    def cutoffs(self, threshold: float | None = None) -> np.ndarray | None:
        """Each class's threshold: ``threshold`` for all when given, else a multi-label tagger's own
        (0.5 where it has none); None for a single-label tagger, which tags its top ``k``."""
        if threshold is not None:
            return np.full(len(self.labels), float(threshold))
        if not self.multi_label:
            return None
        return self.thresholds if self.thresholds is not None else np.full(len(self.labels), DEFAULT_THRESHOLD)

    def select(self, probs: np.ndarray, k: int, threshold: float | None = None) -> list[tuple[str, float]]:
        """The labels of one probability vector: the top ``k`` (single-label), or those at or above their
        threshold (:meth:`cutoffs`), most probable first, at most ``k``, possibly none. A vector that is
        not finite gives its top ``k`` as they are, so the caller sees the NaN and reports the file.

        >>> tagger = SegmentTagger(); tagger.labels, tagger.multi_label = ["a", "b", "c"], True
        >>> tagger.thresholds = np.array([0.5, 0.3, 0.9])
        >>> tagger.select(np.array([0.6, 0.7, 0.8]), k=3), tagger.select(np.array([0.1, 0.2, 0.3]), k=3)
        ([('b', 0.7), ('a', 0.6)], [])
        """
        cut = self.cutoffs(threshold)
        if cut is None or not np.isfinite(probs).all():
            return self.top(probs, k)
        ranked = top_k(probs[None, :], len(probs))[0]
        return [(self.labels[int(i)], float(probs[i])) for i in ranked if probs[i] >= cut[i]][:k]

    def tag_file(self, path: str | Path, segment: float | None = None, hop: float | None = None,
                 k: int | None = None, framewise: bool = False, threshold: float | None = None) -> FileTags:
        """Tag one file streamed in segments; the file's tags are the duration-weighted mean."""
        (result,) = self.tag_files([path], segment, hop, k, framewise, threshold)
        if isinstance(result, AudioError):
            raise result
        return result

    def tag_array(self, waveform: np.ndarray, sample_rate: int, segment: float | None = None,
                  hop: float | None = None, k: int | None = None, threshold: float | None = None) -> FileTags:
        """Tag a waveform held in memory as :meth:`tag_file` tags the file it was decoded from: the same
        mono mix, resampling, segments and file-level windows (``FileTags.path`` is ``"array"``).

        ``waveform`` is ``(samples,)`` or ``(samples, channels)`` as soundfile returns it, float or
        integer PCM (scaled as soundfile scales it to float) at ``sample_rate`` Hz, any rate from
        1000 Hz to 1 MHz. Empty, non-finite, absurdly loud (beyond +-1000) or wrongly shaped input
        raises an :class:`AudioError` naming ``array``.
        """
        block, rate = _pcm_block(waveform, sample_rate)
        check_samples("array", block)
        signal = to_mono(block)
        resampler = resample_stream(rate, self.sample_rate, self.resample_quality)
        if resampler is not None:  # as AudioStream resamples a file: one stream, flushed at the end
            signal = np.concatenate([resampler.resample_chunk(signal, last=False),
                                     resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)])
        segment, hop, k = self.settings(segment, hop, k)
        layouts = self.window_layouts(segment, hop)
        windows = [(layout, seg) for layout, (window, step) in enumerate(layouts)
                   for seg in split_signal(signal, self.sample_rate, window, step)]
        state = _FileState("array")
        state.duration = len(block) / rate
        for first in range(0, len(windows), self.batch_size):
            chosen = windows[first : first + self.batch_size]
            for (layout, seg), row in zip(chosen, self.segment_probabilities([seg.samples for _, seg in chosen])):
                tags = self.select(row, k, threshold) if layout == 0 else []
                state.add(seg, row, tags, segment=layout == 0, whole=layout == len(layouts) - 1)
        return state.result(lambda row: self.select(row, k, threshold))  # type: ignore[return-value]

    def settings(self, segment: float | None = None, hop: float | None = None,
                 k: int | None = None) -> tuple[float, float, int]:
        """``(segment, hop, k)`` with the tagger's defaults filled in; a hop longer than the segment (the
        audio between segments would go untagged) or a length that is not positive is refused."""
        segment = segment or self.default_segment
        hop = hop or segment
        k = k or self.default_top_k
        if not (segment > 0 and hop > 0):  # NaN fails too
            raise SoundtagError(f"segment {segment:g} s and hop {hop:g} s must be positive")
        if hop > segment * (1 + 1e-9):
            raise SoundtagError(f"a hop of {hop:g} s is longer than the segment of {segment:g} s: the audio "
                                "between segments would go untagged")
        return segment, hop, k

    def file_window(self) -> float:
        """The length of the windows that make a file's own tags (see :meth:`tag_files`): the training
        window."""
        return self.window_seconds or self.default_segment

    def window_layouts(self, segment: float, hop: float) -> list[tuple[float, float]]:
        """(window, hop) layouts to cut a file into: the segments asked for, then the file-level windows
        (:meth:`file_window`, back to back) unless they are the same, so they are computed once."""
        whole = (self.file_window(), self.file_window())
        return [(segment, hop)] if np.allclose((segment, hop), whole, rtol=0, atol=1e-9) else [(segment, hop), whole]

    def source_digest(self) -> str | None:
        """What identifies the model's weights and settings: a run's config digest, an exported file's SHA-256."""
        return None

    def provenance(self, segment: float | None = None, hop: float | None = None, k: int | None = None,
                   framewise: bool = False, threshold: float | None = None) -> dict:
        """What an output of :meth:`tag_files` with these settings was made with: soundtag's version,
        the run (or exported file) and its digest, the sample rate, segment, hop, frame-wise or not,
        the window of the file-level tags, top-k and the thresholds that apply (None: the top k),
        and when (UTC)."""
        import datetime

        from soundtag import __version__

        segment, hop, k = self.settings(segment, hop, k)
        cut = self.cutoffs(threshold)
        return {"version": __version__, "run": self.source, "checkpoint": self.checkpoint,
                "run_digest": self.source_digest(), "sample_rate": self.sample_rate, "segment": segment,
                "hop": hop, "framewise": bool(framewise), "file_window": self.file_window(), "top_k": k,
                "thresholds": None if cut is None else [round(float(c), 4) for c in cut],
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}

    def file_probabilities(self, signal: np.ndarray) -> np.ndarray:
        """A waveform's own probabilities (the file-level answer of :meth:`tag_files`): the
        duration-weighted mean over its windows of :meth:`file_window` seconds."""
        whole = FileMean()
        windows = split_signal(signal, self.sample_rate, self.file_window(), self.file_window())
        for first in range(0, len(windows), self.batch_size):
            chosen = windows[first : first + self.batch_size]
            for seg, row in zip(chosen, self.segment_probabilities([seg.samples for seg in chosen])):
                whole.add(row, seg.end - seg.start)
        return whole.value()

    def tag_files(self, paths: Iterable[str | Path], segment: float | None = None, hop: float | None = None,
                  k: int | None = None, framewise: bool = False, threshold: float | None = None
                  ) -> Iterator[FileTags | AudioError]:
        """Tags of each file in order (or the AudioError that stopped it), with segments of many
        files batched together so short files still fill the model's batches. ``framewise`` runs
        the model once over long blocks and reads segment tags off its frame-wise outputs instead.
        Labels are chosen by :meth:`select`: ``threshold`` replaces every class's threshold.

        A file's own tags never depend on ``segment``, ``hop`` or ``framewise``: they are the
        duration-weighted mean of the probabilities of non-overlapping windows of
        :meth:`file_window` seconds (the training window) covering the whole file, a trailing piece
        shorter than half a window joining the window before it (:mod:`soundtag.audio.segment`).
        When the segments asked for are those windows, they are computed once.
        """
        segment, hop, k = self.settings(segment, hop, k)

        def choose(row: np.ndarray) -> list[tuple[str, float]]:
            return self.select(row, k, threshold)

        if framewise:
            yield from (self._tag_framewise(path, segment, hop, choose) for path in paths)
            return
        layouts = self.window_layouts(segment, hop)
        pending: list[tuple[_FileState, int, Segment]] = []
        waiting: deque[_FileState] = deque()

        def flush() -> None:
            probs = self.segment_probabilities([seg.samples for _, _, seg in pending])
            for (state, layout, seg), row in zip(pending, probs):
                state.add(seg, row, choose(row), segment=layout == 0, whole=layout == len(layouts) - 1)
            pending.clear()

        for path in paths:
            state = _FileState(str(path))
            waiting.append(state)
            try:
                for layout, seg in stream_windows(path, self.sample_rate, layouts, quality=self.resample_quality):
                    pending.append((state, layout, seg))
                    if len(pending) >= self.batch_size:
                        flush()
                state.duration = audio_info(path).duration
            except AudioError as exc:
                state.error = exc
                pending[:] = [item for item in pending if item[0] is not state]
            while waiting and (waiting[0].error or not any(item[0] is waiting[0] for item in pending)):
                yield waiting.popleft().result(choose)
        if pending:
            flush()
        while waiting:
            yield waiting.popleft().result(choose)

    def _tag_framewise(self, path: str | Path, segment: float, hop: float,
                       choose: Callable[[np.ndarray], list[tuple[str, float]]]) -> FileTags | AudioError:
        """One file's tags from frame-wise outputs over blocks of :attr:`block_seconds`: a segment's
        probabilities are the mean of the frames centred in it. The file's own tags are those of
        :meth:`tag_files` (windows of :meth:`file_window`), read in the same pass over the file."""
        probs, centres = [], []
        state = _FileState(str(path))
        windows: list[Segment] = []

        def flush() -> None:
            for seg, row in zip(windows, self.segment_probabilities([seg.samples for seg in windows])):
                state.add(seg, row, [], segment=False, whole=True)
            windows.clear()

        layouts = [(self.block_seconds, self.block_seconds), (self.file_window(), self.file_window())]
        try:
            for layout, block in stream_windows(path, self.sample_rate, layouts, quality=self.resample_quality):
                if layout == 1:
                    windows.append(block)
                    if len(windows) >= self.batch_size:
                        flush()
                    continue
                block_probs, block_centres = self.frame_probabilities(block.samples)
                inside = block_centres < max(block.end - block.start, block_centres[0] + 1e-9)
                probs.append(block_probs[inside])
                centres.append(block.start + block_centres[inside])
            duration = audio_info(path).duration
        except AudioError as exc:
            return exc
        if windows:
            flush()
        frames, times = np.concatenate(probs), np.concatenate(centres)
        segments = []
        for start in np.arange(0.0, max(duration - 1e-9, 1e-9), hop):
            end = min(start + segment, duration)
            chosen = (times >= start) & (times < end)
            row = frames[chosen].mean(axis=0) if chosen.any() else frames[np.abs(times - (start + end) / 2).argmin()]
            segments.append(SegmentTags(float(start), float(end), choose(row)))
        state.duration = duration
        result = state.result(choose)
        if isinstance(result, FileTags):
            result.segments = segments if len(segments) > 1 else []
        return result


class FileMean:
    """The duration-weighted mean of probability rows, added one window at a time: the file-level
    answer of every tagger (:meth:`SegmentTagger.tag_files`)."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.weight = 0.0

    def add(self, probs: np.ndarray, length: float) -> None:
        self.total = probs * length if self.total is None else self.total + probs * length
        self.weight += length

    def value(self) -> np.ndarray:
        return self.total / self.weight


class _FileState:
    """What has been predicted of one file so far: its segments' tags (``segment`` windows) and the
    mean of its file windows (``whole`` windows), which may be the same windows."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.whole = FileMean()
        self.segments: list[SegmentTags] = []
        self.duration = 0.0
        self.error: AudioError | None = None
        self.silent = True

    def add(self, seg: Segment, probs: np.ndarray, tags: list[tuple[str, float]], segment: bool = True,
            whole: bool = True) -> None:
        if segment:
            self.segments.append(SegmentTags(seg.start, seg.end, tags))
        if whole:
            self.whole.add(probs, seg.end - seg.start)
            self.silent = self.silent and not seg.samples.any()

    def result(self, choose: Callable[[np.ndarray], list[tuple[str, float]]]) -> FileTags | AudioError:
        if self.error is not None:
            return self.error
        tags = choose(self.whole.value())
        return FileTags(self.path, self.duration, tags, self.segments if len(self.segments) > 1 else [],
                        silent=self.silent)


class Tagger(SegmentTagger):
    """A classifier with its feature transform and labels. Build one from memory with the constructor
    (settings not given come from ``config``, by default the built-in defaults; ``multi_label`` for a
    model trained with sigmoid outputs, with its per-class ``thresholds``), or load a trained run
    folder's with :meth:`from_run`.
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
        self.source = None if run_dir is None else str(run_dir)
        self.default_top_k = config.tag.top_k
        self.batch_size = config.tag.batch_size
        self.block_seconds = config.tag.block_seconds
        self.default_framewise = config.tag.framewise
        self.device = resolve_device(str(device) if str(device) != "auto" else config.train.device)
        self.transform = transform
        self.model = model.to(self.device).eval()
        if channels_last and self.device.type == "cpu":
            # oneDNN runs the 2-D CNNs about twice as fast on NHWC tensors on CPU, with the same
            # results to float rounding (benchmarks/classifiers.py); 1-D models are left as they are.
            self.model = self.model.to(memory_format=torch.channels_last)
        self.width = window_frames(config)
        self.hop = max(1, self.width // 2)

    @classmethod
    def from_run(cls, run_dir: str | Path, checkpoint: str = BEST_CHECKPOINT, device: str = "auto",
                 channels_last: bool = True) -> Tagger:
        """The tagger of a run folder's checkpoint (``best.pt`` by default), its config, labels and (of a
        multi-label run) thresholds checked against the run's manifest."""
        folder = RunFolder(run_dir)
        config = folder.read_config()
        label_map = folder.read_label_map()
        transform = build_transform(config.features, config.audio.sample_rate)
        model = build_model(config.model, transform.num_bins, len(label_map))
        path = folder.checkpoint_path(checkpoint)
        weights = checkpoint_weights(path, load_checkpoint(path, "cpu"))
        problem = weights_mismatch(model, weights)
        if problem:
            raise SoundtagError(f"{path}: weights do not fit the model of {folder.config_path} with "
                                f"{len(label_map)} labels ({problem})")
        try:
            model.load_state_dict(weights)
        except (RuntimeError, ValueError, TypeError):
            raise SoundtagError(f"{path}: weights do not fit the model of {folder.config_path} with "
                                f"{len(label_map)} labels") from None
        multi_label = folder.is_multi_label()
        chosen = folder.read_thresholds(label_map.labels) if multi_label else None
        thresholds = None if chosen is None else [chosen[label] for label in label_map.labels]
        tagger = cls(model, transform, label_map.labels, config, device, channels_last, run_dir=folder.path,
                     multi_label=multi_label, thresholds=thresholds)
        tagger.checkpoint = checkpoint
        return tagger

    def source_digest(self) -> str | None:
        """The run's config digest (``config_sha256`` of its manifest); None when built in memory."""
        if self.run_dir is None:
            return None
        manifest = RunFolder(self.run_dir).read_manifest() or {}
        return manifest.get("config_sha256")

    def probabilities(self, features: Iterable[np.ndarray]) -> np.ndarray:
        """Class probabilities of each clip's (bins, frames) features, windows averaged."""
        return predict_clips(self.model, features, self.width, self.hop, self.device,
                             self.batch_size, self.config.train.pad_mode, self.multi_label)

    def segment_probabilities(self, segments: list[np.ndarray]) -> np.ndarray:
        return self.probabilities(extract_batch(self.transform, segments))

    @torch.inference_mode()
    def segment_embeddings(self, segments: list[np.ndarray]) -> np.ndarray:
        """The model's embedding (``model.embed``) of each mono waveform, (n_segments, dim): the mean over
        its windows, which are those :meth:`probabilities` averages."""
        rows = []
        for features in extract_batch(self.transform, segments):
            windows = torch.from_numpy(clip_windows(features, self.width, self.hop, self.config.train.pad_mode))
            rows.append(self.model.embed(windows.to(self.device)).float().mean(dim=0).cpu().numpy())
        return np.stack(rows)

    def file_embeddings(self, path: str | Path) -> tuple[np.ndarray, list[Segment], np.ndarray]:
        """One file's clip embedding (the duration-weighted mean, as its tags are made: see
        :meth:`tag_files`), its windows of :meth:`file_window` seconds (samples dropped) and their
        embeddings."""
        windows, rows = [], []
        pending: list[Segment] = []

        def flush() -> None:
            rows.extend(self.segment_embeddings([seg.samples for seg in pending]))
            windows.extend(Segment(seg.start, seg.end, np.zeros(0, np.float32)) for seg in pending)
            pending.clear()

        for seg in stream_segments(path, self.sample_rate, self.file_window(), self.file_window(),
                                   quality=self.resample_quality):
            pending.append(seg)
            if len(pending) >= self.batch_size:
                flush()
        if pending:
            flush()
        whole = FileMean()
        for seg, row in zip(windows, rows):
            whole.add(row, seg.end - seg.start)
        return whole.value(), windows, np.stack(rows)

    @torch.inference_mode()
    def frame_probabilities(self, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features = extract_batch(self.transform, [signal])[0]
        per_frame = self.model.frame_hop  # feature frames per output frame
        if features.shape[-1] < per_frame:
            features = fit_width(features, per_frame, 0, self.config.train.pad_mode)
        batch = torch.from_numpy(features)[None].to(self.device)
        probs = activation(self.model.frame_logits(batch).float(), self.multi_label)[0].cpu().numpy()
        # output frame j pools feature frames [j, j + 1) * per_frame; feature frame t sits at t * frame_hop
        seconds = self.transform.frame_hop / self.sample_rate
        centres = (np.arange(len(probs)) * per_frame + (per_frame - 1) / 2) * seconds
        return probs, centres

