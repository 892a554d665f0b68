"""First-layer filters of a trained CNN and their activation maps on one input."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def first_conv(model: nn.Module) -> nn.Conv1d | nn.Conv2d:
    """The model's first convolution layer."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            return module
    raise ValueError("model has no convolution layer")


def first_layer_filters(model: nn.Module) -> np.ndarray:
    """Weights of the first convolution, (out_channels, in_channels, *kernel)."""
    return first_conv(model).weight.detach().cpu().numpy()


@torch.inference_mode()
def first_layer_activations(model: nn.Module, features: np.ndarray) -> np.ndarray:
    """Outputs of the first convolution for one (bins, frames) input, (channels, ...)."""
    captured: list[torch.Tensor] = []
    handle = first_conv(model).register_forward_hook(lambda _m, _i, out: captured.append(out))
    model.eval()
    try:
        device = next(model.parameters()).device
        model(torch.from_numpy(features)[None].to(device))
    finally:
        handle.remove()
    return captured[0][0].cpu().numpy()
