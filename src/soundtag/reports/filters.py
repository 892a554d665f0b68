"""First-layer filters of a trained CNN and their activation maps on one input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from soundtag.audio import load_audio
from soundtag.data import read_corpus
from soundtag.features import extract_batch
from soundtag.inference import Tagger
from soundtag.reports.plots import plot_activations, plot_filters


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


def filter_pictures(run_dir: str | Path, out_dir: str | Path, clip_path: str | Path | None = None) -> list[Path]:
    """``filters.png`` (first-layer filters of a run's best model) and ``activations.png`` (their maps
    on ``clip_path``, by default the first test clip of the run's corpus) in ``out_dir``."""
    tagger = Tagger.from_run(run_dir)
    out_dir = Path(out_dir)
    written = [out_dir / "filters.png", out_dir / "activations.png"]
    plot_filters(first_layer_filters(tagger.model), written[0], f"first-layer filters of {tagger.config.model.name}")
    if clip_path is None:
        clip_path = read_corpus(tagger.config.data.corpus).test[0].path
    features = extract_batch(tagger.transform, [load_audio(clip_path, tagger.config.audio.sample_rate)])[0]
    maps = first_layer_activations(tagger.model, features)
    plot_activations(features, maps if maps.ndim == 3 else maps[:, None, :], written[1],
                     f"first-layer activations on {Path(clip_path).name}")
    return written
