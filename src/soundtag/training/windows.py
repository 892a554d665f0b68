"""Clip-level probabilities from a fixed-width model: average over windows covering the clip.

:func:`activation` is the one place that turns a model's logits into probabilities: softmax over the
classes of a single-label run (they compete: one label per clip), an independent sigmoid per class for a
multi-label run (any number of labels, none included). Validation, evaluation, tagging, frame-wise
tagging and the exported graph all call it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from soundtag.data import fit_width
from soundtag.data.activity import loud_windows


def activation(logits: torch.Tensor, multi_label: bool = False) -> torch.Tensor:
    """Probabilities of (..., n_classes) logits: a sigmoid per class for a multi-label run, else the
    softmax over the last dimension. (TorchScript compiles it too: the exported graph calls it.)

    >>> activation(torch.tensor([[0.0, 0.0]])).tolist(), activation(torch.tensor([[0.0, 0.0]]), True).tolist()
    ([[0.5, 0.5]], [[0.5, 0.5]])
    """
    if multi_label:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)


def window_starts(frames: int, width: int, hop: int) -> list[int]:
    """Start frames of windows of ``width`` every ``hop`` that cover all ``frames`` (the last one
    is aligned to the end so no frame is missed).
    """
    if frames <= width:
        return [0]
    starts = list(range(0, frames - width + 1, hop))
    if starts[-1] + width < frames:
        starts.append(frames - width)
    return starts


def clip_windows(features: np.ndarray, width: int, hop: int, pad_mode: str = "repeat") -> np.ndarray:
    """Stack of (n_windows, bins, width) windows covering one clip's (bins, frames) features."""
    starts = window_starts(features.shape[-1], width, hop)
    return np.stack([fit_width(features, width, start, pad_mode) for start in starts])


@torch.inference_mode()
def predict_clips(
    model: nn.Module,
    clips: Iterable[np.ndarray],
    width: int,
    hop: int,
    device: torch.device,
    batch_size: int = 32,
    pad_mode: str = "repeat",
    multi_label: bool = False,
    floor_db: float | None = None,
) -> np.ndarray:
    """Probabilities (n_clips, n_classes), each clip the mean over its windows of :func:`activation`
    (softmax, or a sigmoid per class for a ``multi_label`` run); with ``floor_db`` (dB features only)
    over the windows within ``floor_db`` of the clip's loudest (:func:`~soundtag.data.activity.loud_windows`).

    ``clips`` may be a lazy iterable: only about one batch of windows is held at a time.
    """
    model.eval()
    sums: list[np.ndarray] = []
    counts: list[int] = []
    pending: list[np.ndarray] = []
    owners: list[int] = []

    def flush() -> None:
        batch = torch.from_numpy(np.stack(pending)).to(device, non_blocking=True)
        probs = activation(model(batch).float(), multi_label).cpu().numpy()
        for owner, row in zip(owners, probs):
            if owner == len(sums):
                sums.append(np.zeros_like(row, dtype=np.float64))
                counts.append(0)
            sums[owner] += row
            counts[owner] += 1
        pending.clear()
        owners.clear()

    for i, features in enumerate(clips):
        windows = clip_windows(features, width, hop, pad_mode)
        for window in windows if floor_db is None else windows[loud_windows(windows, floor_db)]:
            pending.append(window)
            owners.append(i)
            if len(pending) >= batch_size:
                flush()
    if pending:
        flush()
    if not sums:
        return np.zeros((0, 0), dtype=np.float32)
    return (np.stack(sums) / np.asarray(counts)[:, None]).astype(np.float32)
