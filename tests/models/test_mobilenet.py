"""The EfficientAT-style mobile network: its cost per 10 s of fsd-mini's features, its blocks, and its
frame-wise outputs."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from soundtag.config import ModelConfig
from soundtag.errors import ConfigError
from soundtag.models import build_model
from soundtag.models.layers import InvertedResidual, make_divisible

FSD_MINI_10S = (64, 500)  # 64 mel bands, 10 s at hop 640 and 32 kHz


def gmacs_per_10s(config: ModelConfig) -> float:
    """Multiply-accumulates (convolutions and matrix products) of one 10-s clip, in billions."""
    model = build_model(config, FSD_MINI_10S[0], 27).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, *FSD_MINI_10S))
    return counter.get_total_flops() / 2 / 1e9


def test_the_default_width_costs_between_a_tenth_and_half_a_gmac_per_10_seconds():
    assert 0.1 <= gmacs_per_10s(ModelConfig(name="mobilenet")) <= 0.5  # 0.137 measured


def test_the_width_multiplier_scales_the_cost_about_quadratically():
    half, full = gmacs_per_10s(ModelConfig(name="mobilenet", width=0.5)), gmacs_per_10s(ModelConfig(name="mobilenet"))
    assert 0.2 < half / full < 0.4


def test_make_divisible_rounds_widths_to_eights_never_losing_a_tenth():
    assert [make_divisible(v) for v in (16, 12, 4, 20, 36.0, 92)] == [16, 16, 8, 24, 40, 96]


@pytest.mark.parametrize(("stride", "widths", "residual"), [(1, (8, 8), True), (2, (8, 8), False), (1, (8, 16), False)])
def test_an_inverted_residual_block_adds_its_input_only_when_the_shapes_match(stride, widths, residual):
    block = InvertedResidual(widths[0], 3, 24, widths[1], True, torch.nn.ReLU, stride).eval()
    x = torch.randn(2, widths[0], 7, 9)
    out = block(x)
    assert block.residual is residual
    assert out.shape == (2, widths[1], 4 if stride == 2 else 7, 5 if stride == 2 else 9)
    if residual:
        torch.testing.assert_close(out, block.body(x) + x)


def test_the_network_shrinks_frequency_and_time_32_fold_and_gives_one_frame_per_hop():
    model = build_model(ModelConfig(name="mobilenet", width=0.25, fc_dim=8), 64, 4).eval()
    assert model.frame_hop == 32 and model.num_blocks == 17
    with torch.no_grad():
        assert model.frame_maps(torch.randn(2, 64, 96)).shape[-1] == 3
        assert model.frame_logits(torch.randn(2, 64, 96)).shape == (2, 3, 4)


def test_mobilenet_refuses_model_channels():
    with pytest.raises(ConfigError, match="model.width"):
        build_model(ModelConfig(name="mobilenet", channels=[16, 32]), 64, 3)
