"""Examples of what a trained autoencoder makes of its input: one clip per class and its reconstruction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from soundtag.labels.autoencoder import AutoencoderRun


@dataclass
class Reconstructions:
    """(bins, frames) inputs, their reconstructions on the same scale, and each one's label."""

    originals: list[np.ndarray]
    reconstructions: list[np.ndarray]
    labels: list[str]


def one_clip_per_class(labels: np.ndarray, verified: np.ndarray, most: int) -> list[int]:
    """Indices of one (preferably verified) clip of each of the first ``most`` classes.

    >>> one_clip_per_class(np.array(["b", "a", "a"]), np.array([False, False, True]), most=5)
    [2, 0]
    """
    picks = []
    for label in sorted(set(labels.tolist()))[:most]:
        candidates = np.flatnonzero((labels == label) & verified)
        candidates = candidates if len(candidates) else np.flatnonzero(labels == label)
        picks.append(int(candidates[0]))
    return picks


@torch.inference_mode()
def reconstruct_examples(run: AutoencoderRun, most: int = 6) -> Reconstructions:
    """One clip of each of the first ``most`` classes of ``run``'s clips, and its reconstruction."""
    picks = one_clip_per_class(run.latents.labels, run.latents.verified, most)
    model = run.model.eval()
    device = next(model.parameters()).device
    originals = [run.dataset[i] for i in picks]
    recons = [(model(x[None].to(device))[0] * model.input_std + model.input_mean).cpu() for x in originals]
    return Reconstructions([o.numpy() for o in originals], [r.numpy() for r in recons],
                           [str(run.latents.labels[i]) for i in picks])
