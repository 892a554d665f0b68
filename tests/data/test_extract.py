"""soundtag.data.extract: cache a folder's features, skipping bad files with reasons, in workers; long
clips featurised as they are decoded, equal to the whole."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from soundtag.audio import load_audio
from soundtag.config import AudioConfig, LogMelConfig, MfccConfig, RawConfig, SpectrogramConfig
from soundtag.data import FeatureCache, cache_features, extract, find_audio_files
from soundtag.data.extract import CHUNK_CLIPS, STREAM_SAMPLES, stream_features
from soundtag.features import build_transform, extract_batch
from tests.helpers import sine, write_corrupt_audio, write_nan_wav

N_GOOD = CHUNK_CLIPS + 4  # more than one chunk, so worker processes really are used
AUDIO = AudioConfig()
FEATURES = LogMelConfig()
SR = AUDIO.sample_rate


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


# --- long clips: featurised as they are decoded, equal to the whole ---------------------------------

STREAMED_KINDS = {
    "logmel": LogMelConfig(),
    "logmel-odd-framing": LogMelConfig(n_fft=2048, hop_length=100, win_length=1500, top_db=80.0),
    "mfcc-deltas": MfccConfig(deltas=2),
    "spectrogram": SpectrogramConfig(n_frames=None),
    "spectrogram-resized": SpectrogramConfig(),
    "raw": RawConfig(),
}


@pytest.mark.parametrize("kind", sorted(STREAMED_KINDS))
@pytest.mark.parametrize("block", [1, 700, 4097, 1 << 17])
def test_streamed_features_equal_those_of_the_whole_signal(kind, block):
    """Frames computed block by block with the STFT's context kept: the power frames bit for bit
    (spectrogram, raw), the mel projection to float rounding (its matrix products are blocked
    differently), whatever the block size, including blocks shorter than one hop."""
    signal = (0.3 * np.random.default_rng(7).standard_normal(3 * 32000 + 777)).astype(np.float32)
    if block == 1:
        signal = signal[:5000]  # one sample a block: keep it short
    transform = build_transform(STREAMED_KINDS[kind], 32000)
    whole = extract_batch(transform, [signal])[0]
    streamed = stream_features(transform, (signal[i : i + block] for i in range(0, len(signal), block)))
    assert streamed.dtype == np.float32 and streamed.shape == whole.shape
    if kind.startswith(("spectrogram", "raw")):
        np.testing.assert_array_equal(streamed, whole)
    else:
        np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-4)


def test_a_200_second_clip_is_cached_streamed_and_equal_to_the_whole(tmp_path, monkeypatch):
    """A clip longer than STREAM_SAMPLES goes through stream_features (decode, resample and features
    block by block) and its cache entry equals the features of the whole decoded clip."""
    path = tmp_path / "long.wav"
    rng = np.random.default_rng(3)
    with sf.SoundFile(path, "w", 44100, 2, subtype="PCM_16") as handle:
        for _ in range(20):
            handle.write((0.2 * rng.standard_normal((441000, 2))).astype(np.float32))
    calls = []
    monkeypatch.setattr(extract, "stream_features", lambda *a: calls.append(1) or stream_features(*a))
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    report = cache_features([path], AUDIO, FEATURES, cache, num_workers=0, progress=False)
    assert (report.n_extracted, report.failures, report.warnings, calls) == (1, [], [], [1])
    whole = load_audio(path, AUDIO.sample_rate)
    assert len(whole) > STREAM_SAMPLES and report.seconds == pytest.approx(200.0, abs=1e-3)
    expected = extract_batch(build_transform(FEATURES, AUDIO.sample_rate), [whole])[0]
    np.testing.assert_allclose(cache.load(path), expected, rtol=0, atol=1e-4)


def test_running_out_of_memory_on_one_long_file_keeps_the_others(folder, tmp_path, monkeypatch):
    _, good, _ = folder
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(STREAM_SAMPLES + 1, dtype=np.float32), AUDIO.sample_rate)

    def out_of_memory(*args):
        raise MemoryError

    monkeypatch.setattr(extract, "stream_features", out_of_memory)
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    report = cache_features([good[0], long, good[1]], AUDIO, FEATURES, cache, num_workers=0, progress=False)
    assert report.failures == [(str(long), "too long to featurise in memory (set audio.max_seconds)")]
    assert report.n_extracted == 2 and cache.contains(good[0]) and cache.contains(good[1])


def test_cut_and_silent_files_are_warnings_not_failures(tmp_path):
    cut = tmp_path / "cut.wav"
    sf.write(cut, sine(440, 3.0, 16000), 16000)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    audio = AudioConfig(max_seconds=2.0)
    cache = FeatureCache(tmp_path / "cache", audio, FEATURES)
    report = cache_features([silent, cut], audio, FEATURES, cache, num_workers=0, progress=False)
    assert report.failures == []
    assert report.warnings == [(str(cut), "longer than audio.max_seconds: only its first 2 s are used"),
                               (str(silent), "silent: every sample is 0")]
    assert cache.load(cut).shape == (64, 1 + 2 * 32000 // 320)
    assert report.seconds == pytest.approx(3.0)


@pytest.mark.parametrize("kind", ["pipe", "device", "dangling"])
def test_special_files_fail_before_anything_opens_them(tmp_path, kind):
    path = tmp_path / f"{kind}.wav"
    if kind == "pipe":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero" if kind == "device" else tmp_path / "nowhere")
    cache = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    report = cache_features([path], AUDIO, FEATURES, cache, num_workers=0, progress=False)
    problem = {"pipe": "not a regular file (a named pipe)", "device": "not a regular file (a character device)",
               "dangling": f"broken symbolic link (to {tmp_path / 'nowhere'})"}[kind]
    assert report.failures == [(str(path), problem)]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_property_streamed_features_equal_the_whole_at_any_framing(data):
    """Any framing (a hop longer than the FFT too), any length and any block sizes."""
    n_fft = 2 * data.draw(st.integers(8, 1024))
    framing = {"n_fft": n_fft, "hop_length": data.draw(st.integers(1, 2 * n_fft)),
               "win_length": data.draw(st.none() | st.integers(1, n_fft))}
    config = data.draw(st.sampled_from([LogMelConfig(n_mels=16, **framing), SpectrogramConfig(n_frames=None, **framing),
                                        RawConfig()]))
    transform = build_transform(config, 16000)
    signal = np.random.default_rng(data.draw(st.integers(0, 99))).uniform(-1, 1, data.draw(st.integers(1, 40000)))
    signal = signal.astype(np.float32)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(signal)), max_size=6)))
    blocks = [signal[a:b] for a, b in zip([0, *cuts], [*cuts, len(signal)])]
    streamed = stream_features(transform, blocks)
    whole = extract_batch(transform, [signal])[0]
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-4)


def test_own_rate_features_are_cached_per_file_rate(tmp_path, demo_train_files):
    # features.resample: false: each file's features at its own rate (22.05 kHz puts the hop of 320
    # samples at 32 kHz between samples, so that file is resampled), in their own cache folder
    folder = tmp_path / "rates"
    folder.mkdir()
    signal = load_audio(demo_train_files[0])
    rates = {"a.wav": 44100, "b.wav": 48000, "c.wav": 22050, "d.wav": 16000, "e.wav": 44100}
    for name, rate in rates.items():
        sf.write(folder / name, load_audio(demo_train_files[0], rate) if rate != 44100 else signal, rate, subtype="FLOAT")
    own = LogMelConfig(resample=False)
    cache = FeatureCache(tmp_path / "cache", AUDIO, own)
    assert cache.root != FeatureCache(tmp_path / "cache", AUDIO, FEATURES).root
    report = cache_features(sorted(folder.iterdir()), AUDIO, own, cache, num_workers=0, progress=False)
    assert report.n_extracted == len(rates) and not report.failures
    assert report.seconds == pytest.approx(len(rates) * len(signal) / 44100, rel=1e-3)
    transform = build_transform(own, AUDIO.sample_rate)
    for name, rate in rates.items():
        at = SR if rate == 22050 else rate
        expected = extract_batch(transform.at_rate(at), [load_audio(folder / name, at)])[0]
        np.testing.assert_allclose(cache.load(folder / name), expected, rtol=0, atol=1e-4)
