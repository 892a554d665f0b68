"""Streamed tags for any file, whatever computes the probabilities: segments, file-level means, the
labels chosen and the records written. Free of torch, so that tagging with an exported ONNX graph
(:mod:`soundtag.inference.graph`) never imports it; :class:`~soundtag.inference.tagger.Tagger` adds a
run's PyTorch model.

Which labels a file or segment gets (:meth:`SegmentTagger.select`): a single-label run gives its ``k``
most probable labels; a multi-label run gives the labels whose probability is at or above their
class's threshold (the run's ``thresholds.json``, chosen on its validation clips), most probable first
and at most ``k``, and an EMPTY list when no class reaches its threshold ("nothing here"). A threshold
given to :meth:`SegmentTagger.tag_files` (``soundtag tag --threshold``) replaces every class's, for
single-label runs too.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundtag.audio import (
    AudioStream,
    Segment,
    display_name,
    split_signal,
    stream_layouts,
    stream_segments,
)
from soundtag.audio.ahead import read_ahead
from soundtag.audio.decode import check_samples, header_problem, to_mono
from soundtag.audio.resample import resample_stream
from soundtag.audio.segment import BLOCK_SECONDS
from soundtag.config import EventsConfig
from soundtag.data.activity import waveform_level_db
from soundtag.errors import AudioError, SoundtagError
from soundtag.inference.events import Event, detect_events
from soundtag.outputs import NOT_FINITE
from soundtag.training.metrics import DEFAULT_THRESHOLD, top_k

NO_FRAMES = ("frame-wise tagging needs a run folder whose model has frame-wise outputs (an exported graph gives "
             "clip probabilities only)")


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
    (its tags then say nothing of it); ``events`` when asked for (:meth:`SegmentTagger.tag_files`)."""

    path: str
    duration: float
    tags: list[tuple[str, float]]
    segments: list[SegmentTags] = field(default_factory=list)
    silent: bool = False
    events: list[Event] | None = None

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
        if self.events is not None:
            result["events"] = [event.to_dict() for event in self.events]
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
    window_floor_db: float | None = None
    """A file's own tags leave out its windows more than this many dB quieter than its loudest window (see
    :class:`FileMean`; a run's ``tag.window_floor_db``); None: every window."""
    source: str | None = None
    """The run folder or exported file the tagger was loaded from (None: built in memory)."""
    checkpoint: str | None = None
    """The checkpoint of the run folder, when loaded from one."""
    default_events: EventsConfig = EventsConfig()
    """How ``events`` are read when :meth:`tag_files` is given none (a run's ``tag.events``)."""
    frame_seconds: float | None = None
    """The hop of :meth:`frame_probabilities`'s frames in seconds (None: the tagger has none)."""

    def decode_rate(self, file_rate: int) -> int:
        """The rate a file recorded at ``file_rate`` Hz is decoded at for this tagger: :attr:`sample_rate`
        (a run whose features keep some files' own rates says so: :class:`~soundtag.inference.Tagger`)."""
        return self.sample_rate

    def segment_probabilities(self, segments: list[np.ndarray], sample_rate: int | None = None) -> np.ndarray:
        """Class probabilities (n_segments, n_classes) of mono waveforms at ``sample_rate`` (one of
        :meth:`decode_rate`'s answers; None: :attr:`sample_rate`)."""
        raise NotImplementedError

    def frame_probabilities(self, signal: np.ndarray, sample_rate: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities of each output frame of one waveform at ``sample_rate`` (None:
        :attr:`sample_rate`), (frames, n_classes), and each frame's centre in seconds; only taggers
        whose model has frame-wise outputs have them."""
        raise SoundtagError(NO_FRAMES)

    def event_cutoffs(self, events: EventsConfig) -> np.ndarray:
        """Each class's event threshold: ``events.thresholds`` for the classes it names, else
        ``events.threshold``, else the tagger's own (:meth:`cutoffs`; 0.5 for a single-label tagger).
        A label the model does not have is refused."""
        unknown = sorted(set(events.thresholds) - set(self.labels))
        if unknown:
            raise SoundtagError(f"event thresholds for {len(unknown)} label(s) the model does not have: "
                                f"{', '.join(unknown[:3])}{' ...' if len(unknown) > 3 else ''}")
        cut = self.cutoffs(events.threshold)
        cut = np.full(len(self.labels), DEFAULT_THRESHOLD) if cut is None else cut.copy()
        for label, value in events.thresholds.items():
            cut[self.labels.index(label)] = value
        return cut

    def event_reader(self, events: EventsConfig) -> Callable[[np.ndarray, np.ndarray, float], list[Event]]:
        """What turns a file's frames (probabilities, centres in seconds) and its duration into its
        events with these settings (:func:`~soundtag.inference.events.detect_events`); refused up
        front when the tagger has no frame-wise outputs."""
        if self.frame_seconds is None:
            raise SoundtagError(f"--events: {NO_FRAMES}")
        cut, hop = self.event_cutoffs(events), self.frame_seconds

        def read(probs: np.ndarray, times: np.ndarray, duration: float) -> list[Event]:
            return detect_events(probs, self.labels, times, hop, cut, events.hysteresis, events.min_duration,
                                 events.merge_gap, end=duration)

        return read

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
                  hop: float | None = None, k: int | None = None, threshold: float | None = None,
                  events: EventsConfig | None = None) -> FileTags:
        """Tag a waveform held in memory as :meth:`tag_file` tags the file it was decoded from: the same
        mono mix, resampling, segments, file-level windows and, with ``events``, sound events
        (``FileTags.path`` is ``"array"``).

        ``waveform`` is ``(samples,)`` or ``(samples, channels)`` as soundfile returns it, float or
        integer PCM (scaled as soundfile scales it to float) at ``sample_rate`` Hz, any rate from
        1000 Hz to 1 MHz. Empty, non-finite, absurdly loud (beyond +-1000) or wrongly shaped input
        raises an :class:`AudioError` naming ``array``.
        """
        block, rate = _pcm_block(waveform, sample_rate)
        check_samples("array", block)
        signal = to_mono(block)
        decode_rate = self.decode_rate(rate)
        resampler = resample_stream(rate, decode_rate, self.resample_quality)
        if resampler is not None:  # as AudioStream resamples a file: one stream, flushed at the end
            signal = np.concatenate([resampler.resample_chunk(signal, last=False),
                                     resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)])
        segment, hop, k = self.settings(segment, hop, k)
        layouts = self.window_layouts(segment, hop)
        windows = [(layout, seg) for layout, (window, step) in enumerate(layouts)
                   for seg in split_signal(signal, decode_rate, window, step)]
        read_events = None if events is None else self.event_reader(events)
        state = _FileState("array", read_events, self.window_floor_db)
        state.duration = len(block) / rate
        if read_events is not None:  # frame-wise outputs over blocks, as tag_files reads a file's events
            for piece in split_signal(signal, decode_rate, self.block_seconds, self.block_seconds):
                self._add_frames(state, piece)
        for first in range(0, len(windows), self.batch_size):
            chosen = windows[first : first + self.batch_size]
            probs = self.segment_probabilities([seg.samples for _, seg in chosen], decode_rate)
            for (layout, seg), row in zip(chosen, probs):
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
                   framewise: bool = False, threshold: float | None = None,
                   events: EventsConfig | None = None) -> dict:
        """What an output of :meth:`tag_files` with these settings was made with: soundtag's version,
        the run (or exported file) and its digest, the sample rate, segment, hop, frame-wise or not,
        the window of the file-level tags, top-k and the thresholds that apply (None: the top k),
        the event settings with each class's event threshold (None: no events), and when (UTC)."""
        import datetime

        from soundtag import __version__

        segment, hop, k = self.settings(segment, hop, k)
        cut = self.cutoffs(threshold)
        return {"version": __version__, "run": self.source, "checkpoint": self.checkpoint,
                "run_digest": self.source_digest(), "sample_rate": self.sample_rate, "segment": segment,
                "hop": hop, "framewise": bool(framewise), "file_window": self.file_window(),
                "window_floor_db": self.window_floor_db, "top_k": k,
                "thresholds": None if cut is None else [round(float(c), 4) for c in cut],
                "events": None if events is None else {
                    "thresholds": [round(float(c), 4) for c in self.event_cutoffs(events)],
                    "hysteresis": events.hysteresis, "min_duration": events.min_duration,
                    "merge_gap": events.merge_gap},
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}

    def file_probabilities(self, signal: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """A waveform's own probabilities at ``sample_rate`` (None: :attr:`sample_rate`; the file-level
        answer of :meth:`tag_files`): the duration-weighted mean over its windows of :meth:`file_window` seconds."""
        rate = sample_rate or self.sample_rate
        whole = FileMean(self.window_floor_db)
        windows = split_signal(signal, rate, self.file_window(), self.file_window())
        for first in range(0, len(windows), self.batch_size):
            chosen = windows[first : first + self.batch_size]
            for seg, row in zip(chosen, self.segment_probabilities([seg.samples for seg in chosen], rate)):
                whole.add(row, seg.end - seg.start, waveform_level_db(seg.samples))
        return whole.value()

    def tag_files(self, paths: Iterable[str | Path], segment: float | None = None, hop: float | None = None,
                  k: int | None = None, framewise: bool = False, threshold: float | None = None,
                  events: EventsConfig | None = None) -> Iterator[FileTags | AudioError]:
        """Tags of each file in order (or the AudioError that stopped it), with segments of many
        files batched together so short files still fill the model's batches. ``framewise`` runs
        the model once over long blocks and reads segment tags off its frame-wise outputs instead.
        Labels are chosen by :meth:`select`: ``threshold`` replaces every class's threshold.
        ``events`` also reads each file's sound events off the frame-wise outputs of blocks of
        :attr:`block_seconds` (:meth:`event_reader`), in the same pass over the file.

        A file's own tags never depend on ``segment``, ``hop`` or ``framewise``: they are the
        duration-weighted mean of the probabilities of non-overlapping windows of
        :meth:`file_window` seconds (the training window) covering the whole file, a trailing piece
        shorter than half a window joining the window before it (:mod:`soundtag.audio.segment`).
        When the segments asked for are those windows, they are computed once.
        """
        segment, hop, k = self.settings(segment, hop, k)
        read_events = None if events is None else self.event_reader(events)

        def choose(row: np.ndarray) -> list[tuple[str, float]]:
            return self.select(row, k, threshold)

        if framewise:
            yield from (self._tag_framewise(path, segment, hop, choose, read_events) for path in paths)
            return
        layouts = self.window_layouts(segment, hop)
        whole = len(layouts) - 1  # the layout of the file-level windows
        if read_events is not None:
            layouts.append((self.block_seconds, self.block_seconds))
        pending: list[tuple[_FileState, int, Segment]] = []
        waiting: deque[_FileState] = deque()
        state = _FileState("")
        last = -1

        def flush() -> None:
            probs = self.segment_probabilities([seg.samples for _, _, seg in pending], pending[0][2].sample_rate)
            for (state, layout, seg), row in zip(pending, probs):
                state.add(seg, row, choose(row), segment=layout == 0, whole=layout == whole)
            pending.clear()

        for index, path, item in read_ahead(self._decoded_windows(paths, layouts), self.batch_size):
            if index != last:
                state, last = _FileState(str(path), read_events, self.window_floor_db), index
                waiting.append(state)
            if isinstance(item, tuple):
                layout, seg = item
                if layout > whole:
                    self._add_frames(state, seg)
                    continue
                if pending and pending[0][2].sample_rate != seg.sample_rate:  # a batch holds one rate
                    flush()
                pending.append((state, layout, seg))
                if len(pending) >= self.batch_size:
                    flush()
                continue
            if isinstance(item, AudioError):
                state.error = item
                pending[:] = [entry for entry in pending if entry[0] is not state]
            else:
                state.duration = item
            while waiting and (waiting[0].error or not any(entry[0] is waiting[0] for entry in pending)):
                yield waiting.popleft().result(choose)
        if pending:
            flush()
        while waiting:
            yield waiting.popleft().result(choose)

    def _decoded_windows(self, paths: Iterable[str | Path], layouts: list[tuple[float, float]]
                         ) -> Iterator[tuple[int, str | Path, tuple[int, Segment] | float | AudioError]]:
        """What :meth:`tag_files` reads ahead, in a worker thread: each file's ``(layout, segment)``
        windows in order, then its duration in seconds, or the AudioError that stopped it; each item
        with the file's place in ``paths`` and its path. Each file is opened once."""
        for index, path in enumerate(paths):
            stream = AudioStream(path, self.decode_rate, quality=self.resample_quality, block_seconds=BLOCK_SECONDS)
            try:
                for window in stream_layouts(stream, layouts):
                    yield index, path, window
            except AudioError as exc:
                yield index, path, exc
                continue
            yield index, path, stream.decoded_seconds

    def file_frames(self, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
        """A file's frame-wise class probabilities (frames, n_classes) and each frame's centre in
        seconds, from blocks of :attr:`block_seconds` as :meth:`tag_files` reads events off them."""
        state = _FileState(str(path))
        for block in stream_segments(path, self.decode_rate, self.block_seconds, self.block_seconds,
                                     quality=self.resample_quality):
            self._add_frames(state, block)
        return np.concatenate(state.frames), np.concatenate(state.times)

    def _add_frames(self, state: _FileState, block: Segment) -> None:
        """Add the frame-wise outputs of one block of a file to its state: the frames centred inside the
        block (at least its first), at their times in the file."""
        block_probs, block_centres = self.frame_probabilities(block.samples, block.sample_rate)
        inside = block_centres < max(block.end - block.start, block_centres[0] + 1e-9)
        state.frames.append(block_probs[inside])
        state.times.append(block.start + block_centres[inside])

    def _tag_framewise(self, path: str | Path, segment: float, hop: float,
                       choose: Callable[[np.ndarray], list[tuple[str, float]]],
                       read_events: Callable[[np.ndarray, np.ndarray, float], list[Event]] | None = None
                       ) -> FileTags | AudioError:
        """One file's tags from frame-wise outputs over blocks of :attr:`block_seconds`: a segment's
        probabilities are the mean of the frames centred in it. The file's own tags are those of
        :meth:`tag_files` (windows of :meth:`file_window`), read in the same pass over the file."""
        state = _FileState(str(path), read_events, self.window_floor_db)
        windows: list[Segment] = []

        def flush() -> None:
            for seg, row in zip(windows, self.segment_probabilities([seg.samples for seg in windows],
                                                                    windows[0].sample_rate)):
                state.add(seg, row, [], segment=False, whole=True)
            windows.clear()

        layouts = [(self.block_seconds, self.block_seconds), (self.file_window(), self.file_window())]
        stream = AudioStream(path, self.decode_rate, quality=self.resample_quality, block_seconds=BLOCK_SECONDS)
        try:
            for layout, block in stream_layouts(stream, layouts):
                if layout == 1:
                    windows.append(block)
                    if len(windows) >= self.batch_size:
                        flush()
                    continue
                self._add_frames(state, block)
            duration = stream.decoded_seconds
        except AudioError as exc:
            return exc
        if windows:
            flush()
        frames, times = np.concatenate(state.frames), np.concatenate(state.times)
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
    answer of every tagger (:meth:`SegmentTagger.tag_files`). With ``floor_db`` it leaves out the windows
    whose level (dB, e.g. :func:`~soundtag.data.activity.waveform_level_db`) lies more than ``floor_db``
    below the loudest window's, keeping every row until :meth:`value` (a file silent throughout: all).

    >>> mean = FileMean(floor_db=30.0); mean.add(np.array([1.0, 0.0]), 1.0, -10.0)
    >>> mean.add(np.array([0.0, 1.0]), 1.0, -60.0); mean.value().tolist()
    [1.0, 0.0]
    """

    def __init__(self, floor_db: float | None = None) -> None:
        self.floor_db = floor_db
        self.total: np.ndarray | None = None
        self.weight = 0.0
        self.windows: list[tuple[np.ndarray, float, float]] = []

    def add(self, probs: np.ndarray, length: float, level_db: float = 0.0) -> None:
        if self.floor_db is not None:
            self.windows.append((probs, length, level_db))
            return
        self.total = probs * length if self.total is None else self.total + probs * length
        self.weight += length

    def value(self) -> np.ndarray:
        if self.floor_db is None:
            return self.total / self.weight
        loudest = max(level for _, _, level in self.windows)
        loud = FileMean()
        for probs, length, level in self.windows:
            if level >= loudest - self.floor_db:
                loud.add(probs, length)
        return loud.value()


class _FileState:
    """What has been predicted of one file so far: its segments' tags (``segment`` windows), the
    mean of its file windows (``whole`` windows), which may be the same windows, and the frame-wise
    probabilities and times that ``read_events`` turns into its events."""

    def __init__(self, path: str,
                 read_events: Callable[[np.ndarray, np.ndarray, float], list[Event]] | None = None,
                 floor_db: float | None = None) -> None:
        self.path = path
        self.whole = FileMean(floor_db)
        self.segments: list[SegmentTags] = []
        self.duration = 0.0
        self.error: AudioError | None = None
        self.silent = True
        self.frames: list[np.ndarray] = []
        self.times: list[np.ndarray] = []
        self.read_events = read_events

    def add(self, seg: Segment, probs: np.ndarray, tags: list[tuple[str, float]], segment: bool = True,
            whole: bool = True) -> None:
        if segment:
            self.segments.append(SegmentTags(seg.start, seg.end, tags))
        if whole:
            self.whole.add(probs, seg.end - seg.start, waveform_level_db(seg.samples))
            self.silent = self.silent and not seg.samples.any()

    def result(self, choose: Callable[[np.ndarray], list[tuple[str, float]]]) -> FileTags | AudioError:
        if self.error is not None:
            return self.error
        tags = choose(self.whole.value())
        result = FileTags(self.path, self.duration, tags, self.segments if len(self.segments) > 1 else [],
                          silent=self.silent)
        if self.read_events is not None and self.frames:
            probs = np.concatenate(self.frames)
            if not np.isfinite(probs).all():
                return AudioError(self.path, NOT_FINITE)
            result.events = self.read_events(probs, np.concatenate(self.times), self.duration)
        return result
