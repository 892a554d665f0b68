"""soundtag.data.cache: keyed by settings and file identity, atomic writes, corrupt entries recomputed."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from soundtag.config import AudioConfig, LogMelConfig, MfccConfig, SpectrogramConfig, to_plain
from soundtag.data import FeatureCache, default_cache_dir
from soundtag.data.cache import settings_key
from soundtag.errors import AudioError


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "audio" / "clip.wav"
    path.parent.mkdir()
    path.write_bytes(b"pretend audio" * 100)  # the cache keys on path, size, mtime and content
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


def replace_keeping_size_and_mtime(path: Path, content: bytes) -> None:
    """Put other bytes of the same size in ``path`` with its mtime kept, as ``cp -p``, ``rsync -t`` or
    ``tar x`` of another recording do."""
    stat = path.stat()
    assert len(content) == stat.st_size
    replacement = path.with_name("incoming")
    replacement.write_bytes(content)
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_7_other_audio_of_the_same_size_and_mtime_misses(cache, source, where):
    """Defect 7: the key was (path, size, mtime) only, so a replaced clip served its old features."""
    cache.save(source, features(0))
    content = bytearray(source.read_bytes())
    content[{"start": 0, "middle": len(content) // 2, "end": -1}[where]] ^= 0xFF
    replace_keeping_size_and_mtime(source, bytes(content))
    assert not cache.contains(source)
    assert cache.load(source) is None


def test_7_a_large_file_replaced_at_either_end_misses(cache, tmp_path):
    """Beyond 1 MiB only the first and last 256 KiB are hashed: a change there misses; a change between
    them of the very same size and mtime is the one case left to the size and mtime."""
    from soundtag.data.cache import CONTENT_BLOCK, WHOLE_FILE_LIMIT

    big = tmp_path / "big.wav"
    content = bytearray(np.random.default_rng(0).integers(0, 256, WHOLE_FILE_LIMIT + 3 * CONTENT_BLOCK, np.uint8))
    big.write_bytes(bytes(content))
    cache.save(big, features(0))
    for offset in (10, len(content) - 10):
        content[offset] ^= 0xFF
        replace_keeping_size_and_mtime(big, bytes(content))
        assert cache.load(big) is None
        cache.save(big, features(1))
    content[WHOLE_FILE_LIMIT // 2] ^= 0xFF
    replace_keeping_size_and_mtime(big, bytes(content))
    np.testing.assert_array_equal(cache.load(big), features(1))


def test_7_the_content_hash_is_remembered_but_not_across_a_rewrite(cache, source, monkeypatch):
    """Within a process the content hash is remembered per stat identity (training reads every clip
    every epoch); a rewrite in place changes the ctime, so it is hashed again even with size and mtime kept."""
    from soundtag.data import cache as cache_module

    cache.save(source, features(0))
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k))
    for _ in range(3):
        assert cache.load(source) is not None
    assert opened.count(str(source.resolve())) == 0  # remembered since save
    stat = source.stat()
    content = bytearray(source.read_bytes())
    content[5] ^= 0xFF
    time.sleep(0.02)  # past the kernel's coarse timestamp tick, so the rewrite's ctime differs
    with real_open(source, "r+b") as handle:  # the same inode, rewritten in place
        handle.write(bytes(content))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.load(source) is None
    assert cache_module.content_digest.cache_info().currsize > 0


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


def test_a_setting_added_later_keeps_the_caches_made_before_it():
    # the key of the default log-mel of before features.resample existed: a change here silently makes
    # every user recompute every cached feature
    assert settings_key(AudioConfig(), LogMelConfig(hop_length=640)) == "logmel-00bc8ec6e26c961c"
    assert settings_key(AudioConfig(), LogMelConfig(hop_length=640, resample=False)) != "logmel-00bc8ec6e26c961c"
