"""Arithmetic, geometric and weighted means of class probabilities, over runs above a score."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from soundtag.config import EnsembleConfig, choices

METHODS = choices(EnsembleConfig, "method")


def combine_probabilities(probabilities: Sequence[np.ndarray], method: str = "geometric",
                          weights: Sequence[float] | None = None) -> np.ndarray:
    """Combine (n_clips, n_classes) probability arrays; rows of the result sum to 1.

    >>> combine_probabilities([np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]])], "arithmetic")
    array([[0.7, 0.3]])
    """
    if not probabilities:
        raise ValueError("no probabilities to combine")
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])
    if method == "arithmetic":
        combined = stack.mean(axis=0)
    elif method == "geometric":
        combined = np.exp(np.log(np.clip(stack, 1e-12, 1.0)).mean(axis=0))
    elif method == "weighted":
        if weights is None or len(weights) != len(stack):
            raise ValueError("weighted needs one weight per model")
        w = np.asarray(weights, dtype=np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        combined = np.tensordot(w / w.sum(), stack, axes=1)
    else:
        raise ValueError(f"unknown ensemble method {method!r} (known: {', '.join(METHODS)})")
    return combined / combined.sum(axis=1, keepdims=True)


def select_runs(scores: dict[str, float], min_score: float) -> list[str]:
    """Names of the runs whose validation score is at least ``min_score``, best first."""
    return [name for name, score in sorted(scores.items(), key=lambda kv: -kv[1]) if score >= min_score]
