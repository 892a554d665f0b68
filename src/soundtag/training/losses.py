"""Losses on soft targets with per-clip weights: cross-entropy, and generalised cross-entropy (Lq),
which bounds the pull of a wrong label (Zhang & Sabuncu, 2018), for single-label runs; binary
cross-entropy per class for multi-label runs.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def smooth(targets: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Label smoothing: (1 - epsilon) * targets + epsilon / n_classes.

    The same formula serves multi-hot targets: a true label goes to 1 - epsilon + epsilon / n_classes,
    an absent one to epsilon / n_classes, so a clip's expected number of labels stays about what it
    was. (Smoothing each class towards 0.5, as a binary target alone would suggest, tells the model that
    every class is half present and pushes every sigmoid towards the thresholds.)
    """
    return targets if epsilon == 0 else (1 - epsilon) * targets + epsilon / targets.shape[1]


def clip_losses(logits: torch.Tensor, targets: torch.Tensor, kind: str = "ce", q: float = 0.7,
                multi_label: bool = False) -> torch.Tensor:
    """Each clip's loss against soft ``targets``, shape (batch,): CE or Lq = (1 - p^q) / q over the
    softmax, or for a ``multi_label`` run the binary cross-entropy of each class's sigmoid summed over
    the classes (so a clip's true label pulls as hard as under CE; an all-zero target teaches the
    model to say nothing). ``kind`` is ignored for multi-label runs (the config refuses ``gce`` there).
    """
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(dim=1)
    if kind == "ce":
        return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
    probs = F.softmax(logits, dim=1).clamp_min(1e-12)
    return (targets * (1 - probs.pow(q)) / q).sum(dim=1)


def weighted_mean(per_clip: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The mean of per-clip losses weighted by ``weights``."""
    return (per_clip * weights).sum() / weights.sum().clamp_min(1e-12)


def weighted_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, kind: str = "ce",
                  q: float = 0.7, multi_label: bool = False) -> torch.Tensor:
    """Weighted mean over clips of CE or Lq = (1 - p^q) / q, both against soft ``targets``, or of the
    summed binary cross-entropy of a ``multi_label`` run (see :func:`clip_losses`).

    >>> logits = torch.tensor([[2.0, 0.0]]); onehot = torch.tensor([[1.0, 0.0]])
    >>> round(float(weighted_loss(logits, onehot, torch.ones(1))), 4)
    0.1269
    >>> round(float(weighted_loss(logits, onehot, torch.ones(1), multi_label=True)), 4)  # log(1+e^-2) + log 2
    0.8201
    """
    return weighted_mean(clip_losses(logits, targets, kind, q, multi_label), weights)
