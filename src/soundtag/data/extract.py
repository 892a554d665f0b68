"""Decode, featurise and cache many files in worker processes, with progress, a failure list and warnings.

Short clips are decoded whole and featurised in packed batches (:func:`~soundtag.features.extract_batch`);
a clip longer than :data:`STREAM_SAMPLES` is featurised as it is decoded (:func:`stream_features`),
so memory follows the size of its features, never of its samples; ``audio.max_seconds`` cuts longer
files, with a warning naming each.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from soundtag.audio import AudioStream, check_file, display_name
from soundtag.config import AudioConfig, FeatureConfig
from soundtag.data.cache import FeatureCache
from soundtag.errors import AudioError
from soundtag.features import FeatureTransform, build_transform, extract_batch

CHUNK_CLIPS = 16

#: A clip with more samples than this (at the target rate: 32 s at 32 kHz) is featurised as a stream.
STREAM_SAMPLES = 1 << 20

#: Samples a streamed clip is featurised in (each call of ``FeatureTransform.frames`` about this many).
CALL_SAMPLES = 1 << 18

#: Values (16 MiB of float32) of each preallocated piece that streamed frames are gathered in.
STORE_PIECE = 1 << 22

log = logging.getLogger("soundtag.audio")


@dataclass
class ExtractionReport:
    """What one extraction run did: counts, audio seconds featurised, time, and failed files."""

    n_clips: int = 0
    n_cached: int = 0
    n_extracted: int = 0
    seconds: float = 0.0
    elapsed: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """Files used with a caveat, as (path, note): cut at ``audio.max_seconds``, or silent."""

    @property
    def clips_per_second(self) -> float:
        """Clips featurised per wall-clock second in this run."""
        return self.n_extracted / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio featurised per wall-clock second."""
        return self.seconds / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class ChunkResult:
    """Outcome of one chunk: per file, seconds of audio or the reason it failed; and warnings."""

    done: list[tuple[str, float]]
    failed: list[tuple[str, str]]
    warnings: list[tuple[str, str]] = field(default_factory=list)


_TRANSFORMS: dict[tuple[str, int], FeatureTransform] = {}


def shared_transform(audio: AudioConfig, features: FeatureConfig) -> FeatureTransform:
    """One transform per process and settings (the mel filterbank is built once)."""
    key = (repr(features), audio.sample_rate)
    if key not in _TRANSFORMS:
        _TRANSFORMS[key] = build_transform(features, audio.sample_rate)
    return _TRANSFORMS[key]


def extract_chunk(paths: Sequence[str], audio: AudioConfig, features: FeatureConfig, cache: FeatureCache) -> ChunkResult:
    """Decode ``paths`` and cache each one's features: short clips as packed batches (one per rate
    they are decoded at, see :meth:`~FeatureTransform.decode_rate`), long ones streamed one by one.
    A file that fails is listed with its reason; the others go on.
    """
    transform = shared_transform(audio, features)
    short: dict[int, list[tuple[str, np.ndarray]]] = {}
    result = ChunkResult([], [], [])
    for path in paths:
        stream = AudioStream(path, transform.decode_rate, quality=audio.resample_quality, max_seconds=audio.max_seconds)
        try:
            blocks = iter(stream)
            head = list(_take_samples(blocks, STREAM_SAMPLES))
            if sum(map(len, head)) <= STREAM_SAMPLES:  # the file ended within the limit
                short.setdefault(stream.output_rate, []).append((path, head[0] if len(head) == 1 else np.concatenate(head)))
            else:
                cache.save(path, _streamed(path, transform.at_rate(stream.output_rate), itertools.chain(head, blocks)))
                result.done.append((path, stream.samples / stream.output_rate))
        except AudioError as exc:
            result.failed.append((path, exc.problem))
            continue
        result.warnings.extend((path, note) for note in stream.notes)
    for rate, clips in short.items():
        for (path, signal), feats in zip(clips, extract_batch(transform.at_rate(rate), [signal for _, signal in clips])):
            cache.save(path, feats)
            result.done.append((path, len(signal) / rate))
    return result


def _take_samples(blocks: Iterator[np.ndarray], limit: int) -> Iterator[np.ndarray]:
    """Blocks from ``blocks`` until more than ``limit`` samples have been taken (or it ends)."""
    taken = 0
    for block in blocks:
        yield block
        taken += len(block)
        if taken > limit:
            return


def _streamed(path: str, transform: FeatureTransform, blocks: Iterable[np.ndarray]) -> np.ndarray:
    """:func:`stream_features`, with running out of memory said of the file rather than of the batch."""
    try:
        return stream_features(transform, blocks)
    except MemoryError:
        raise AudioError(path, "too long to featurise in memory (set audio.max_seconds)") from None


@torch.inference_mode()
def stream_features(transform: FeatureTransform, blocks: Iterable[np.ndarray]) -> np.ndarray:
    """Features of the signal that ``blocks`` (consecutive mono float32 pieces at the transform's
    rate) make up, equal to ``extract_batch(transform, [whole signal])[0]`` (the STFT frames exactly,
    the mel projection to float rounding), holding a fixed window of samples and the batched frames
    (:meth:`~FeatureTransform.frames`) in memory, never the signal.

    Frame ``t`` reads the samples from ``t * hop - frame_context`` up to ``t * hop + frame_context``
    (the sample ``t`` itself for raw waveforms). Each call of :meth:`~FeatureTransform.frames` gets
    the same number of samples and keeps the same number of frames, those whose samples all lie in
    the window: the window starts ``frame_context`` (rounded up to the hop grid) before the first of
    them, and the signal starts with that many zeros, as the whole signal's padding. The samples wait
    in one fixed buffer, the frames in preallocated pieces (:class:`_FrameStore`); the item-wise
    :meth:`~FeatureTransform.finish` then runs once on all frames.
    """
    hop, context = transform.frame_hop, transform.frame_context
    lead = -(-context // hop) * hop  # samples before a call's first frame centre, on the hop grid
    reach = max(context, 1)  # samples a frame reads from its centre on (exclusive)
    per_call = max(1, CALL_SAMPLES // hop)  # frames a call keeps
    span = lead + (per_call - 1) * hop + reach  # samples a call reads
    window = np.zeros(span + CALL_SAMPLES, dtype=np.float32)  # samples from ``lead`` before frame ``done``
    filled, total, done = lead, 0, 0  # the window starts with the zeros before the signal
    frames = _FrameStore()

    def call(samples: int, keep: int) -> None:
        nonlocal filled, done
        out = transform.frames(torch.from_numpy(window[:samples])[None])
        first = lead // hop
        if out.shape[-1] < first + keep:
            raise RuntimeError(f"{type(transform).__name__}.frames gave {out.shape[-1]} frames where "
                               f"{first + keep} were due")
        frames.add(out[..., first : first + keep])
        done += keep
        drop = keep * hop
        window[: filled - drop] = window[drop:filled].copy()
        filled -= drop

    for block in blocks:
        block = np.asarray(block, dtype=np.float32)
        total += len(block)
        while len(block):
            take = min(len(block), len(window) - filled)
            window[filled : filled + take] = block[:take]
            filled, block = filled + take, block[take:]
            while filled >= span:
                call(span, per_call)
    last = transform.num_frames(total)
    if last > done or not frames.width:
        call(filled, last - done)
    return transform.finish(frames.join())[0].numpy().astype(np.float32, copy=False)


class _FrameStore:
    """Frames gathered piece by piece along the last axis into preallocated pieces of about
    :data:`STORE_PIECE` values, joined once at the end. Many small tensors kept between the large
    short-lived ones of each call would fragment the allocator's heap: it grew several times faster
    than the frames it held.
    """

    def __init__(self) -> None:
        self.pieces: list[torch.Tensor] = []
        self.used = 0  # frames filled in the last piece
        self.width = 0

    def add(self, frames: torch.Tensor) -> None:
        while frames.shape[-1]:
            if not self.pieces or self.used == self.pieces[-1].shape[-1]:
                capacity = max(frames.shape[-1], STORE_PIECE // max(1, frames[..., 0].numel()))
                self.pieces.append(frames.new_empty((*frames.shape[:-1], capacity)))
                self.used = 0
            take = min(frames.shape[-1], self.pieces[-1].shape[-1] - self.used)
            self.pieces[-1][..., self.used : self.used + take] = frames[..., :take]
            self.used += take
            self.width += take
            frames = frames[..., take:]

    def join(self) -> torch.Tensor:
        """All frames as one tensor; the pieces are freed as they are copied."""
        if len(self.pieces) == 1:
            return self.pieces.pop()[..., : self.used]
        last = self.pieces[-1]
        joined = last.new_empty((*last.shape[:-1], self.width))
        at = 0
        self.pieces.reverse()
        while self.pieces:
            piece = self.pieces.pop()
            width = piece.shape[-1] if self.pieces else self.used
            joined[..., at : at + width] = piece[..., :width]
            at += width
        return joined


def _init_worker() -> None:
    """Workers compute single-threaded (the parallelism is across processes) and end with the
    process that started them: one killed with SIGKILL would otherwise leave them waiting forever.
    """
    torch.set_num_threads(1)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def cache_features(
    paths: Sequence[str | Path],
    audio: AudioConfig,
    features: FeatureConfig,
    cache: FeatureCache,
    *,
    num_workers: int = 2,
    progress: bool = True,
    extract: Callable[..., ChunkResult] = extract_chunk,
    desc: str = "features",
) -> ExtractionReport:
    """Make sure every decodable file in ``paths`` has cached features; report what happened.

    ``extract`` replaces :func:`extract_chunk` (same arguments, with ``cache`` whatever it takes: e.g.
    :func:`soundtag.data.variants.extract_variants` and a bank); ``desc`` names the progress bar."""
    start = time.perf_counter()
    report = ExtractionReport(n_clips=len(paths))
    todo: list[str] = []
    for path in map(str, paths):
        try:
            check_file(path)  # a missing file, a broken link, a pipe or a device: said as such, never opened
            if cache.contains(path):
                report.n_cached += 1
            else:
                todo.append(path)
        except AudioError as exc:
            report.failures.append((path, exc.problem))
    bar = tqdm(total=len(todo), unit="clip", desc=desc,
               disable=None if progress and todo else True)  # None: off unless stderr is a terminal
    for result in _run_chunks(todo, audio, features, cache, num_workers, extract):
        report.n_extracted += len(result.done)
        report.seconds += sum(seconds for _, seconds in result.done)
        report.failures.extend(result.failed)
        report.warnings.extend(result.warnings)
        for path, note in result.warnings:
            log.warning("%s: %s", display_name(path), note)
        bar.update(len(result.done) + len(result.failed))
        bar.set_postfix(audio_h=f"{report.seconds / 3600:.2f}", refresh=False)
    bar.close()
    report.failures.sort()
    report.warnings.sort()
    report.elapsed = time.perf_counter() - start
    return report


def _run_chunks(
    todo: list[str], audio: AudioConfig, features: FeatureConfig, cache: FeatureCache, num_workers: int,
    extract: Callable[..., ChunkResult] = extract_chunk,
) -> Iterable[ChunkResult]:
    """Chunk results of ``extract``, computed in this process or in ``num_workers`` worker processes."""
    chunks = list(_chunks(todo, CHUNK_CLIPS))
    if num_workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield extract(chunk, audio, features, cache)
        return
    with ProcessPoolExecutor(max_workers=num_workers, initializer=_init_worker) as pool:
        futures = [pool.submit(extract, chunk, audio, features, cache) for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()
