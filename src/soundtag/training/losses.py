"""Losses on soft targets with per-clip weights: cross-entropy, and generalised cross-entropy (Lq),
which bounds the pull of a wrong label (Zhang & Sabuncu, 2018).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def smooth(targets: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Label smoothing: (1 - epsilon) * targets + epsilon / n_classes."""
    return targets if epsilon == 0 else (1 - epsilon) * targets + epsilon / targets.shape[1]


def clip_losses(logits: torch.Tensor, targets: torch.Tensor, kind: str = "ce", q: float = 0.7) -> torch.Tensor:
    """Each clip's CE or Lq = (1 - p^q) / q against soft ``targets``, shape (batch,)."""
    if kind == "ce":
        return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
    probs = F.softmax(logits, dim=1).clamp_min(1e-12)
    return (targets * (1 - probs.pow(q)) / q).sum(dim=1)


def weighted_mean(per_clip: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The mean of per-clip losses weighted by ``weights``."""
    return (per_clip * weights).sum() / weights.sum().clamp_min(1e-12)


def weighted_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, kind: str = "ce",
                  q: float = 0.7) -> torch.Tensor:
    """Weighted mean over clips of CE or Lq = (1 - p^q) / q, both against soft ``targets``.

    >>> logits = torch.tensor([[2.0, 0.0]]); onehot = torch.tensor([[1.0, 0.0]])
    >>> round(float(weighted_loss(logits, onehot, torch.ones(1))), 4)
    0.1269
    """
    return weighted_mean(clip_losses(logits, targets, kind, q), weights)
