"""Checkpoints that load with ``torch.load(weights_only=True)``, written atomically."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, numbers, strings, lists, dicts only) to ``path`` atomically."""
    with atomic_write(path, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely: anything but plain weights and numbers is refused."""
    path = Path(path)
    if not path.is_file():
        raise SoundtagError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise SoundtagError(f"{path}: refused to load checkpoint: it holds more than weights ({first[:120]})") from None
    except Exception as exc:  # noqa: BLE001 - torch.load raises many kinds (KeyError, EOFError, ...) on junk
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SoundtagError(f"{path}: corrupt or unreadable checkpoint ({first[:120]})") from None
