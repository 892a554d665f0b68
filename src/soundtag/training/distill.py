"""Distillation: a model learns from the class probabilities a teacher (e.g. an ensemble) gave each
training clip as well as from the clip's label (Hinton et al., 2015), so one fast model can carry
an ensemble's accuracy.

The teacher is a CSV beside nothing else: a ``fname`` column naming each training clip as the corpus
names it, and one column of probabilities per class (:func:`write_teacher` writes it, e.g. from the
mean of several runs' probabilities of the training clips). A run with ``train.teacher`` set learns
with (1 - alpha) x its usual loss + alpha x T² x KL(teacher at temperature T || model at temperature T),
clip by clip; the teacher at temperature T is its probabilities raised to 1/T and renormalised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from soundtag.data import Example
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text


def write_teacher(path: str | Path, fnames: Sequence[str], labels: Sequence[str], probabilities: np.ndarray) -> None:
    """Write soft targets: one row per clip of ``fnames``, one probability column per label."""
    frame = pd.DataFrame(np.asarray(probabilities, dtype=np.float64), columns=list(labels))
    frame.insert(0, "fname", list(fnames))
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.6g"))


def read_teacher(path: str | Path, examples: Sequence[Example], labels: Sequence[str]) -> np.ndarray:
    """The teacher's probabilities of ``examples`` (rows) over ``labels`` (columns, in the run's order),
    each row summing to 1; a file that lacks a class or a training clip is refused, naming it."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise SoundtagError(f"{path}: cannot read the teacher's soft targets ({str(exc).splitlines()[0][:120]})"
                            ) from None
    missing = [c for c in ("fname", *labels) if c not in frame.columns]
    if missing:
        raise SoundtagError(f"{path}: the teacher has no column {missing[0]!r} ({len(missing)} missing); it needs "
                            "'fname' and one probability column per class of the run")
    rows = frame.drop_duplicates("fname").set_index("fname")
    absent = [e.fname for e in examples if e.fname not in rows.index]
    if absent:
        raise SoundtagError(f"{path}: the teacher has no probabilities for training clip {absent[0]!r} "
                            f"({len(absent)} of {len(examples)} missing)")
    probabilities = rows.loc[[e.fname for e in examples], list(labels)].to_numpy(dtype=np.float32)
    if not np.isfinite(probabilities).all() or (probabilities < 0).any():
        raise SoundtagError(f"{path}: the teacher's probabilities must be finite and not negative")
    return probabilities / np.clip(probabilities.sum(axis=1, keepdims=True), 1e-12, None)


def soften(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """Probabilities at ``temperature``: raised to 1/T and renormalised (a softmax of log p / T).

    >>> soften(torch.tensor([[0.8, 0.2]]), 2.0)
    tensor([[0.6667, 0.3333]])
    """
    return torch.softmax(probabilities.clamp_min(1e-8).log() / temperature, dim=1)


def distill_losses(logits: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Each clip's T² x KL(teacher || model), both at ``temperature``, shape (batch,): T² keeps the
    gradients' scale as T changes."""
    target = soften(teacher, temperature)
    log_model = F.log_softmax(logits / temperature, dim=1)
    return temperature**2 * (target * (target.clamp_min(1e-12).log() - log_model)).sum(dim=1)
