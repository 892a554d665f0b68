"""soundtag.data.cache: keyed by settings and file identity, atomic writes, corrupt entries recomputed."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from soundtag.config import AudioConfig, LogMelConfig, MfccConfig, SpectrogramConfig, to_plain
from soundtag.data import FeatureCache, default_cache_dir
from soundtag.errors import AudioError


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "audio" / "clip.wav"
    path.parent.mkdir()
    path.write_bytes(b"pretend audio" * 100)  # the cache keys on path, size and mtime only
    return path


@pytest.fixture
def cache(tmp_path) -> FeatureCache:
    return FeatureCache(tmp_path / "cache", AudioConfig(), LogMelConfig())


def features(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((64, 50)).astype(np.float32)


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_miss_then_hit(cache, source, tmp_path):
    assert cache.load(source) is None
    assert not cache.contains(source)
    cache.save(source, features())
    assert cache.contains(source)
    loaded = cache.load(source)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, features())
    assert cache.root.parent == tmp_path / "cache" / "features"
    assert cache.root.name.startswith("logmel-")
    assert cache.entry(source).is_relative_to(cache.root)


def test_same_settings_hit_from_a_new_cache_object(cache, source, tmp_path):
    cache.save(source, features())
    again = FeatureCache(tmp_path / "cache", AudioConfig(), LogMelConfig())
    assert again.root == cache.root
    np.testing.assert_array_equal(again.load(source), features())


def test_settings_are_recorded_beside_the_features(cache, source):
    cache.save(source, features())
    recorded = yaml.safe_load((cache.root / "settings.yaml").read_text(encoding="utf-8"))
    assert recorded == {"audio": to_plain(AudioConfig()), "features": to_plain(LogMelConfig())}


@pytest.mark.parametrize(
    ("audio", "feature"),
    [
        (AudioConfig(sample_rate=16000), LogMelConfig()),
        (AudioConfig(resample_quality="VHQ"), LogMelConfig()),
        (AudioConfig(), LogMelConfig(n_mels=128)),
        (AudioConfig(), LogMelConfig(fmin=0.0)),
        (AudioConfig(), LogMelConfig(top_db=80.0)),
        (AudioConfig(), MfccConfig()),
        (AudioConfig(), SpectrogramConfig()),
    ],
)
def test_changing_a_setting_changes_the_cache_root(cache, source, tmp_path, audio, feature):
    cache.save(source, features())
    other = FeatureCache(tmp_path / "cache", audio, feature)
    assert other.root != cache.root
    assert other.root.name.startswith(f"{feature.name}-")
    assert other.load(source) is None
    assert not other.contains(source)


def test_touching_the_file_misses(cache, source):
    cache.save(source, features())
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not cache.contains(source)
    assert cache.load(source) is None


def test_changing_the_size_misses(cache, source):
    cache.save(source, features())
    mtime = source.stat().st_mtime_ns
    source.write_bytes(source.read_bytes() + b"more")
    os.utime(source, ns=(mtime, mtime))  # same mtime: the size alone tells
    assert source.stat().st_mtime_ns == mtime
    assert cache.load(source) is None


def test_a_copy_elsewhere_is_another_file(cache, source, tmp_path):
    cache.save(source, features())
    copy = tmp_path / "copy.wav"
    copy.write_bytes(source.read_bytes())
    os.utime(copy, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns))
    assert cache.load(copy) is None


def test_relative_and_absolute_paths_share_an_entry(cache, source, monkeypatch):
    cache.save(source, features())
    monkeypatch.chdir(source.parent)
    np.testing.assert_array_equal(cache.load(Path(source.name)), features())


def test_overwriting_an_entry(cache, source):
    cache.save(source, features(0))
    cache.save(source, features(1))
    np.testing.assert_array_equal(cache.load(source), features(1))


def test_writes_leave_no_temporary_files(cache, tmp_path):
    for i in range(5):
        path = tmp_path / f"clip{i}.wav"
        path.write_bytes(b"x" * (i + 1))
        cache.save(path, features(i))
    names = [p.name for p in all_files(tmp_path / "cache")]
    assert sum(n.endswith(".npy") for n in names) == 5
    assert "settings.yaml" in names
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]


def test_a_failed_write_leaves_the_old_entry_and_no_temp_file(cache, source, monkeypatch):
    cache.save(source, features(0))

    def broken_save(handle, array, allow_pickle=False):
        handle.write(b"\x93NUMPY half an array")
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        cache.save(source, features(1))
    monkeypatch.undo()
    np.testing.assert_array_equal(cache.load(source), features(0))
    assert [p.name for p in all_files(cache.entry(source).parent)] == [cache.entry(source).name]


def truncated_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, features())
    return buffer.getvalue()[:300]


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage, not an npy file" * 10, truncated_npy()],
    ids=["empty", "garbage", "truncated"],
)
def test_corrupt_entry_is_a_miss_and_is_deleted(cache, source, content):
    cache.save(source, features())
    entry = cache.entry(source)
    entry.write_bytes(content)
    assert cache.load(source) is None
    assert not entry.exists()
    cache.save(source, features(2))  # and it can be written again
    np.testing.assert_array_equal(cache.load(source), features(2))


def test_entry_of_a_missing_file_is_an_audio_error(cache, tmp_path):
    with pytest.raises(AudioError, match="not found") as info:
        cache.load(tmp_path / "gone.wav")
    assert "gone.wav" in str(info.value)


def test_default_cache_dir_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "soundtag"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "soundtag"


def test_no_cache_dir_means_the_default(isolated_cache_home, source):
    cache = FeatureCache(None, AudioConfig(), LogMelConfig())
    assert cache.root.is_relative_to(isolated_cache_home / "soundtag" / "features")
    cache.save(source, features())
    assert cache.contains(source)
