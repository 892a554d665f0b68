"""soundtag.data.extract: cache a folder's features, skipping bad files with reasons, in workers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from soundtag.audio import load_audio
from soundtag.config import AudioConfig, LogMelConfig, MfccConfig
from soundtag.data import FeatureCache, cache_features, find_audio_files
from soundtag.data.extract import CHUNK_CLIPS
from soundtag.features import build_transform, extract_batch
from tests.helpers import write_corrupt_audio, write_nan_wav

N_GOOD = CHUNK_CLIPS + 4  # more than one chunk, so worker processes really are used
AUDIO = AudioConfig()
FEATURES = LogMelConfig()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, demo_train_files) -> tuple[Path, list[Path], dict[Path, str]]:
    """A folder of real demo clips plus bad files; returns it, the good files and the bad ones
    with a word their failure reason must contain."""
    root = tmp_path_factory.mktemp("mixed")
    good = []
    for source in demo_train_files[:N_GOOD]:
        target = root / ("nested" if len(good) % 3 == 0 else "") / source.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(source, target)
        good.append(target)
    bad = {
        write_corrupt_audio(root / "corrupt.wav"): "not a readable audio file",
        write_nan_wav(root / "nan.wav"): "NaN",
        root / "empty.flac": "empty",
    }
    (root / "empty.flac").write_bytes(b"")
    return root, sorted(good), bad


def test_good_files_are_cached_and_bad_ones_reported(folder, tmp_path):
    root, good, bad = folder
    paths = find_audio_files([root])
    assert len(paths) == N_GOOD + len(bad)
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)

    report = cache_features(paths, AUDIO, FEATURES, cache, num_workers=0, progress=False)
    assert report.n_clips == len(paths)
    assert report.n_cached == 0
    assert report.n_extracted == N_GOOD
    assert [path for path, _ in report.failures] == sorted(str(p) for p in bad)
    for path, reason in report.failures:
        assert bad[Path(path)] in reason
    assert all(cache.contains(p) for p in good)
    assert not any(cache.contains(p) for p in bad)
    durations = sum(len(load_audio(p, AUDIO.sample_rate)) for p in good) / AUDIO.sample_rate
    assert report.seconds == pytest.approx(durations)
    assert report.elapsed > 0 and report.clips_per_second > 0 and report.realtime_factor > 0


def test_cached_features_are_those_of_the_clip(folder, tmp_path):
    root, good, _ = folder
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    cache_features(good[:3], AUDIO, FEATURES, cache, num_workers=0, progress=False)
    transform = build_transform(FEATURES, AUDIO.sample_rate)
    for path in good[:3]:
        expected = extract_batch(transform, [load_audio(path, AUDIO.sample_rate)])[0]
        cached = cache.load(path)
        assert cached.dtype == np.float32
        np.testing.assert_allclose(cached, expected, rtol=0, atol=1e-4)


def test_second_run_is_all_cache_hits(folder, tmp_path):
    root, good, bad = folder
    paths = find_audio_files([root])
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    cache_features(paths, AUDIO, FEATURES, cache, num_workers=0, progress=False)
    entries = {p: cache.entry(p).stat().st_mtime_ns for p in good}

    again = cache_features(paths, AUDIO, FEATURES, cache, num_workers=0, progress=False)
    assert again.n_cached == N_GOOD
    assert again.n_extracted == 0
    assert again.seconds == 0.0
    assert len(again.failures) == len(bad)  # bad files are retried, and fail again
    assert {p: cache.entry(p).stat().st_mtime_ns for p in good} == entries  # nothing rewritten


def test_changed_file_is_extracted_again(folder, tmp_path):
    _, good, _ = folder
    clip = tmp_path / "clip.flac"
    shutil.copy(good[0], clip)
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    assert cache_features([clip], AUDIO, FEATURES, cache, num_workers=0, progress=False).n_extracted == 1
    shutil.copy(good[1], clip)  # new contents, size and mtime
    report = cache_features([clip], AUDIO, FEATURES, cache, num_workers=0, progress=False)
    assert (report.n_cached, report.n_extracted) == (0, 1)
    expected = extract_batch(build_transform(FEATURES, AUDIO.sample_rate), [load_audio(good[1], AUDIO.sample_rate)])[0]
    np.testing.assert_allclose(cache.load(clip), expected, atol=1e-4)


def test_workers_and_in_process_give_identical_arrays(folder, tmp_path):
    root, good, bad = folder
    paths = find_audio_files([root])
    features = MfccConfig(deltas=1)
    serial = FeatureCache(tmp_path / "serial", AUDIO, features)
    parallel = FeatureCache(tmp_path / "parallel", AUDIO, features)

    one = cache_features(paths, AUDIO, features, serial, num_workers=0, progress=False)
    two = cache_features(paths, AUDIO, features, parallel, num_workers=2, progress=False)
    assert (one.n_extracted, two.n_extracted) == (N_GOOD, N_GOOD)
    assert one.failures == two.failures
    for path in good:
        np.testing.assert_array_equal(parallel.load(path), serial.load(path))
    leftovers = [p for p in (tmp_path / "parallel").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_missing_file_in_the_list_is_a_failure_not_a_crash(folder, tmp_path):
    _, good, _ = folder
    missing = tmp_path / "gone.wav"
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    report = cache_features([good[0], missing], AUDIO, FEATURES, cache, num_workers=0, progress=False)
    assert report.n_extracted == 1
    assert report.failures == [(str(missing), "file not found")]


def test_nothing_to_do(tmp_path):
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    report = cache_features([], AUDIO, FEATURES, cache, num_workers=2, progress=False)
    assert (report.n_clips, report.n_extracted, report.failures) == (0, 0, [])
    assert report.clips_per_second >= 0.0
