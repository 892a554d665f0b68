"""The learning rate over the epochs (constant or cosine decay) and stochastic weight averaging (SWA):
both set from the epoch's number alone, so a run resumed from ``last.pt`` follows them exactly.

During the SWA phase the learning rate is held at its value on the phase's first epoch (a constant
SWA rate, as Izmailov et al. 2018 train with), so the averaged weights come from one basin's rim.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from soundtag.config import TrainConfig


def swa_first_epoch(swa_start: float | None, epochs: int) -> int | None:
    """The first epoch (1-based) whose weights enter the SWA average, or None when SWA is off.

    >>> swa_first_epoch(0.75, 20), swa_first_epoch(None, 20), swa_first_epoch(0.99, 20)
    (16, None, 20)
    """
    return None if swa_start is None else min(epochs, int(round(swa_start * epochs)) + 1)


def epoch_lr(config: TrainConfig, epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (1-based) of ``epochs``: ``config.lr``, or under ``cosine``
    lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2; held from the first SWA epoch on.

    >>> cfg = TrainConfig(lr=1.0, schedule="cosine")
    >>> [round(epoch_lr(cfg, e, 4), 3) for e in (1, 2, 3, 4)]
    [1.0, 0.854, 0.5, 0.146]
    """
    first_swa = swa_first_epoch(config.swa_start, epochs)
    epoch = min(epoch, first_swa) if first_swa is not None else epoch
    if config.schedule == "constant":
        return config.lr
    return config.lr * (1 + math.cos(math.pi * (epoch - 1) / epochs)) / 2


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every parameter group of ``optimizer`` at learning rate ``lr``."""
    for group in optimizer.param_groups:
        group["lr"] = lr


@torch.no_grad()
def update_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Recompute the running statistics of ``model``'s BatchNorm layers as the plain average over
    ``batches`` (as :func:`torch.optim.swa_utils.update_bn`), leaving alone the layers a frozen block
    keeps in eval mode under ``model.train()``; the model is left in eval mode."""
    model.train()
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    momenta = {layer: layer.momentum for layer in layers}
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average
    for inputs in batches:
        model(inputs)
    for layer, momentum in momenta.items():
        layer.momentum = momentum
    model.eval()
