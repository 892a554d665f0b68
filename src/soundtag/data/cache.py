"""On-disk feature cache keyed by the feature settings and by each file's identity.

A changed setting lands in another settings folder; a changed file (path, size or mtime) gets
another key; entries are written to a temporary name and renamed, so a reader never sees half.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import yaml

from soundtag.config import AudioConfig, FeatureConfig, to_plain
from soundtag.errors import AudioError
from soundtag.fileio import atomic_save_npy, atomic_write_text

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/soundtag``, else ``~/.cache/soundtag``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "soundtag"


def settings_key(audio: AudioConfig, features: FeatureConfig) -> str:
    """A short hash of everything that changes a feature's values."""
    payload = {"format": CACHE_FORMAT, "audio": to_plain(audio), "features": to_plain(features)}
    text = json.dumps(payload, sort_keys=True)
    return f"{features.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def file_key(path: str | Path) -> str:
    """A hash of a file's resolved path, size and modification time."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    except OSError as exc:
        raise AudioError(path, f"cannot read ({exc.strerror})") from None
    identity = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


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
