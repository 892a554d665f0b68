"""Batch augmentation for training: random gain, time shift, SpecAugment masks and mixup.

Random numbers come from torch's generator, which the epoch loop seeds from (seed, epoch), so
augmented runs stay deterministic and resumable.
"""

from __future__ import annotations

import torch

from soundtag.config import AugmentConfig


def random_gain(inputs: torch.Tensor, max_db: float, in_db: bool) -> torch.Tensor:
    """Each clip louder or softer by up to ``max_db``: added to dB features, multiplied on waveforms."""
    gain = (torch.rand(inputs.shape[0], 1, 1, device=inputs.device) * 2 - 1) * max_db
    return inputs + gain if in_db else inputs * torch.pow(10.0, gain / 20)


def time_shift(inputs: torch.Tensor) -> torch.Tensor:
    """Each clip rolled along time by a random amount (the window wraps around)."""
    shifts = torch.randint(0, inputs.shape[-1], (inputs.shape[0],)).tolist()
    return torch.stack([torch.roll(x, s, dims=-1) for x, s in zip(inputs, shifts)])


def spec_masks(inputs: torch.Tensor, count: int, width: int, dim: int) -> torch.Tensor:
    """SpecAugment: ``count`` bands of up to ``width`` bins along ``dim`` set to each clip's mean."""
    out = inputs.clone()
    size = inputs.shape[dim]
    means = inputs.mean(dim=(1, 2))
    for i in range(inputs.shape[0]):
        for _ in range(count):
            band = int(torch.randint(0, min(width, size) + 1, ()).item())
            start = int(torch.randint(0, max(1, size - band + 1), ()).item())
            out[i].narrow(dim - 1, start, band).fill_(means[i])
    return out


def mixup(inputs: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, alpha: float
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mix each clip with a random partner: lambda ~ Beta(alpha, alpha), soft targets mixed alike.

    Multi-hot targets of a multi-label run mix the same way: the mixture holds both clips' labels,
    each weighted by its clip's share (a label both clips hold stays 1, a clip without labels only
    dilutes its partner's)."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    order = torch.randperm(inputs.shape[0])
    return (lam * inputs + (1 - lam) * inputs[order], lam * targets + (1 - lam) * targets[order],
            lam * weights + (1 - lam) * weights[order])


def augment_batch(inputs: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, config: AugmentConfig,
                  in_db: bool, spectral: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Apply the configured augmentations to (batch, bins, frames) inputs and soft targets."""
    if config.gain_db > 0:
        inputs = random_gain(inputs, config.gain_db, in_db)
    if config.time_shift:
        inputs = time_shift(inputs)
    if spectral and config.time_masks:
        inputs = spec_masks(inputs, config.time_masks, config.time_mask_width, dim=2)
    if spectral and config.freq_masks:
        inputs = spec_masks(inputs, config.freq_masks, config.freq_mask_width, dim=1)
    if config.mixup_alpha > 0:
        inputs, targets, weights = mixup(inputs, targets, weights, config.mixup_alpha)
    return inputs, targets, weights
