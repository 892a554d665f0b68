"""Decode, featurise and cache many files in worker processes, with progress and a failure list."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from soundtag.audio import load_audio
from soundtag.config import AudioConfig, FeatureConfig
from soundtag.data.cache import FeatureCache
from soundtag.errors import AudioError
from soundtag.features import FeatureTransform, build_transform, extract_batch

CHUNK_CLIPS = 16


@dataclass
class ExtractionReport:
    """What one extraction run did: counts, audio seconds featurised, time, and failed files."""

    n_clips: int = 0
    n_cached: int = 0
    n_extracted: int = 0
    seconds: float = 0.0
    elapsed: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def clips_per_second(self) -> float:
        """Clips featurised per wall-clock second in this run."""
        return self.n_extracted / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio featurised per wall-clock second."""
        return self.seconds / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class _ChunkResult:
    """Outcome of one chunk: per file, seconds of audio or the reason it failed."""

    done: list[tuple[str, float]]
    failed: list[tuple[str, str]]


_TRANSFORMS: dict[tuple[str, int], FeatureTransform] = {}


def _transform_for(audio: AudioConfig, features: FeatureConfig) -> FeatureTransform:
    """One transform per process and settings (the mel filterbank is built once)."""
    key = (repr(features), audio.sample_rate)
    if key not in _TRANSFORMS:
        _TRANSFORMS[key] = build_transform(features, audio.sample_rate)
    return _TRANSFORMS[key]


def extract_chunk(paths: Sequence[str], audio: AudioConfig, features: FeatureConfig, cache: FeatureCache) -> _ChunkResult:
    """Decode ``paths``, featurise them as one batch and cache each result."""
    signals, names, failed = [], [], []
    for path in paths:
        try:
            signals.append(load_audio(path, audio.sample_rate, quality=audio.resample_quality))
            names.append(path)
        except AudioError as exc:
            failed.append((path, exc.problem))
    done = []
    for path, signal, feats in zip(names, signals, extract_batch(_transform_for(audio, features), signals)):
        cache.save(path, feats)
        done.append((path, len(signal) / audio.sample_rate))
    return _ChunkResult(done, failed)


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
) -> ExtractionReport:
    """Make sure every decodable file in ``paths`` has cached features; report what happened."""
    start = time.perf_counter()
    report = ExtractionReport(n_clips=len(paths))
    todo: list[str] = []
    for path in map(str, paths):
        try:
            if cache.contains(path):
                report.n_cached += 1
            else:
                todo.append(path)
        except AudioError as exc:
            report.failures.append((path, exc.problem))
    bar = tqdm(total=len(todo), unit="clip", desc="features", disable=not progress or not todo)
    for result in _run_chunks(todo, audio, features, cache, num_workers):
        report.n_extracted += len(result.done)
        report.seconds += sum(seconds for _, seconds in result.done)
        report.failures.extend(result.failed)
        bar.update(len(result.done) + len(result.failed))
        bar.set_postfix(audio_h=f"{report.seconds / 3600:.2f}", refresh=False)
    bar.close()
    report.failures.sort()
    report.elapsed = time.perf_counter() - start
    return report


def _run_chunks(
    todo: list[str], audio: AudioConfig, features: FeatureConfig, cache: FeatureCache, num_workers: int
) -> Iterable[_ChunkResult]:
    """Chunk results, computed in this process or in ``num_workers`` worker processes."""
    chunks = list(_chunks(todo, CHUNK_CLIPS))
    if num_workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield extract_chunk(chunk, audio, features, cache)
        return
    with ProcessPoolExecutor(max_workers=num_workers, initializer=_init_worker) as pool:
        futures = [pool.submit(extract_chunk, chunk, audio, features, cache) for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()
