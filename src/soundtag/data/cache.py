"""On-disk feature cache keyed by the feature settings and by each file's identity.

A changed setting lands in another settings folder; a changed file (path, size, mtime or content)
gets another key; entries are written to a temporary name and renamed, so a reader never sees half.

The content part of the key is a BLAKE2b of the whole file up to 1 MiB (most clips of a corpus), and
of the first and last 256 KiB of a larger one (1.4 s of 48 kHz 16-bit stereo PCM at each end, more
of a compressed format): a clip replaced by other audio of the same size with its mtime kept (``cp -p``,
``rsync -t``, ``tar x``) gets another key. On fsd-mini the key costs about 0.17 ms a clip, a few per
cent of decoding it and computing its features (``benchmarks/features.py --key-cost``). Within one
process the hash is remembered per (path, size, mtime, ctime, inode), so the per-epoch reads of a
training run do not read the audio again; ctime cannot be set by copying tools, so a rewritten file is
hashed anew.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from stat import S_ISREG

import numpy as np
import yaml

from soundtag.config import AudioConfig, FeatureConfig, to_plain
from soundtag.errors import AudioError
from soundtag.fileio import atomic_save_npy, atomic_write_text

CACHE_FORMAT = 1
WHOLE_FILE_LIMIT = 1 << 20  # files up to this size are hashed whole for their cache key
CONTENT_BLOCK = 256 << 10  # bytes hashed at each end of a larger file


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/soundtag``, else ``~/.cache/soundtag``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "soundtag"


#: Feature settings added after caches existed, left out of the key at these values (which compute what
#: was computed before the setting existed), so that the caches made before it stay in use.
KEYLESS_DEFAULTS = {"resample": True}


def settings_key(audio: AudioConfig, features: FeatureConfig) -> str:
    """A short hash of everything that changes a feature's values."""
    plain = {k: v for k, v in to_plain(features).items() if k not in KEYLESS_DEFAULTS or KEYLESS_DEFAULTS[k] != v}
    payload = {"format": CACHE_FORMAT, "audio": to_plain(audio), "features": plain}
    text = json.dumps(payload, sort_keys=True)
    return f"{features.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def file_key(path: str | Path) -> str:
    """A hash of a file's resolved path, size, modification time and content (see
    :func:`content_digest`)."""
    path = Path(path)
    try:
        stat = path.stat()
        resolved = str(path.resolve())
        content = (content_digest(resolved, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)
                   if S_ISREG(stat.st_mode) else "")  # a pipe or a device is never opened here
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    except OSError as exc:
        raise AudioError(path, f"cannot read ({exc.strerror})") from None
    identity = f"{resolved}\0{stat.st_size}\0{stat.st_mtime_ns}\0{content}"
    return hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:32]  # names need not be UTF-8


@functools.lru_cache(maxsize=1 << 16)
def content_digest(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int, device: int,
                   limit: int = WHOLE_FILE_LIMIT, block: int = CONTENT_BLOCK) -> str:
    """BLAKE2b of ``path``: all of it up to ``limit`` bytes, else its first and last ``block`` bytes;
    the stat fields only key the in-process memo."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        if size <= max(limit, 2 * block):
            digest.update(handle.read())
        else:
            digest.update(handle.read(block))
            handle.seek(size - block)
            digest.update(handle.read(block))
    return digest.hexdigest()


class FeatureCache:
    """Features of one settings combination under ``cache_dir/features/<settings key>/``."""

    def __init__(self, cache_dir: str | Path | None, audio: AudioConfig, features: FeatureConfig) -> None:
        base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.root = base / "features" / settings_key(audio, features)
        self.audio = audio
        self.features = features

    def entry(self, path: str | Path) -> Path:
        """Where the features of ``path`` live in the cache."""
        key = file_key(path)
        return self.root / key[:2] / f"{key}.npy"

    def load(self, path: str | Path) -> np.ndarray | None:
        """Cached features of ``path``, or None when absent or unreadable (then it is recomputed)."""
        entry = self.entry(path)
        try:
            return np.load(entry, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):
            entry.unlink(missing_ok=True)
            return None

    def contains(self, path: str | Path) -> bool:
        """True when ``path`` has a cache entry."""
        return self.entry(path).is_file()

    def save(self, path: str | Path, features: np.ndarray) -> None:
        """Store the features of ``path`` atomically, recording the settings beside them once."""
        if not (self.root / "settings.yaml").is_file():
            text = yaml.safe_dump({"audio": to_plain(self.audio), "features": to_plain(self.features)})
            atomic_write_text(self.root / "settings.yaml", text)
        atomic_save_npy(self.entry(path), features, durable=False)
