"""First-layer filter and activation pictures of a CNN."""

from __future__ import annotations

import numpy as np
import torch

from soundtag.config import ModelConfig
from soundtag.models import build_model
from soundtag.reports import first_layer_activations, first_layer_filters, plot_activations, plot_filters


def test_filters_and_activations_of_vgg(tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="vgg_small", channels=[8, 16], fc_dim=16), 32, 4)
    weights = first_layer_filters(model)
    assert weights.shape == (8, 1, 3, 3)
    features = np.random.default_rng(0).normal(size=(32, 50)).astype(np.float32)
    maps = first_layer_activations(model, features)
    assert maps.shape == (8, 32, 50)
    plot_filters(weights, tmp_path / "f.png")
    plot_activations(features, maps, tmp_path / "a.png", "activations")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "a.png").stat().st_size > 0


def test_filters_of_raw_cnn_are_1d(tmp_path):
    model = build_model(ModelConfig(name="cnn1d_raw", channels=[4, 8, 8, 8], fc_dim=8), 1, 3)
    weights = first_layer_filters(model)
    assert weights.shape[:2] == (4, 1) and weights.ndim == 3
    plot_filters(weights, tmp_path / "f.png")
