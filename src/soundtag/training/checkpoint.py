"""Checkpoints that load with ``torch.load(weights_only=True)``, written atomically, and whose
structure is checked before use: a file that unpickles safely but is not a soundtag checkpoint (a bare
state_dict, ``{"model": "x"}``) or holds the weights of another model is refused with one line naming
the file and what is wrong.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

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


def checkpoint_weights(path: str | Path, checkpoint: Any) -> dict[str, torch.Tensor]:
    """The ``model`` state dict of a loaded checkpoint, refused unless it is a dict of tensors."""
    if not isinstance(checkpoint, dict):
        raise SoundtagError(f"{path}: not a soundtag checkpoint (it holds a {type(checkpoint).__name__}, "
                            "not a dict with a 'model' entry)")
    if "model" not in checkpoint:
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            raise SoundtagError(f"{path}: not a soundtag checkpoint: it is a bare state_dict (no 'model' entry); "
                                "save it as {'model': state_dict}")
        keys = ", ".join(repr(k) for k in list(checkpoint)[:5])
        raise SoundtagError(f"{path}: not a soundtag checkpoint: it has no 'model' entry (keys: {keys or 'none'})")
    weights = checkpoint["model"]
    if not isinstance(weights, dict):
        raise SoundtagError(f"{path}: not a soundtag checkpoint: its 'model' entry is a {type(weights).__name__}, "
                            "not a state_dict")
    wrong = [k for k, v in weights.items() if not isinstance(v, torch.Tensor)]
    if wrong:
        raise SoundtagError(f"{path}: not a soundtag checkpoint: 'model' entry {wrong[0]!r} is a "
                            f"{type(weights[wrong[0]]).__name__}, not a tensor")
    return weights


def load_weights(path: str | Path, model: nn.Module, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load the checkpoint at ``path`` into ``model`` and return it; a checkpoint of another structure
    or of another model (missing or unexpected weights, other shapes) is refused with one line."""
    checkpoint = load_checkpoint(path, map_location)
    weights = checkpoint_weights(path, checkpoint)
    problem = weights_mismatch(model, weights)
    if problem:
        raise SoundtagError(f"{path}: holds the weights of another model ({problem})")
    try:
        model.load_state_dict(weights)
    except (RuntimeError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SoundtagError(f"{path}: holds the weights of another model ({first[:160]})") from None
    return checkpoint


def weights_mismatch(model: nn.Module, weights: dict[str, torch.Tensor]) -> str:
    """What keeps ``weights`` from loading into ``model`` (missing or unexpected names, other shapes),
    or '' when they fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shapes = [k for k in expected if k in weights and tuple(weights[k].shape) != tuple(expected[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing, e.g. {missing[0]!r}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]!r}")
    if shapes:
        key = shapes[0]
        parts.append(f"{key!r} is {list(weights[key].shape)} here but {list(expected[key].shape)} in this model")
    return "; ".join(parts)
