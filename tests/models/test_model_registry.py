"""The model registry: every name builds, shapes for any clip length, the 2018 recipe's architectures,
input-kind checks, batch-vs-single consistency, and parameter counts checked by hand.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from soundtag.config import ModelConfig, load_config
from soundtag.errors import ConfigError
from soundtag.models import MODELS, build_model, count_parameters, model_summary
from soundtag.models.registry import takes_waveform
from soundtag.training import feature_bins

SPECTRAL = ("vgg_small", "vgg_large", "cnn2d_mfcc", "mobilenet")
N_CLASSES = 5


def small(name: str, **kwargs) -> ModelConfig:
    """A config small enough to run quickly (channels of the right count for each model)."""
    if name == "mobilenet":
        return ModelConfig(name=name, width=kwargs.pop("width", 0.25), fc_dim=kwargs.pop("fc_dim", 16), **kwargs)
    channels = [4, 4, 4, 4] if name == "cnn1d_raw" else [4, 8]
    return ModelConfig(name=name, channels=kwargs.pop("channels", channels), fc_dim=kwargs.pop("fc_dim", 16), **kwargs)


def bins_for(name: str) -> int:
    return 1 if name == "cnn1d_raw" else 12


def warmed_up(model: nn.Module, bins: int, frames: int) -> nn.Module:
    """A few train-mode passes so BatchNorm running statistics are not the trivial defaults."""
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, bins, frames) * 3 + 1)
    return model.eval()


def test_registry_lists_the_seed_models():
    assert set(MODELS) == {"vgg_small", "vgg_large", "cnn2d_mfcc", "cnn1d_raw", "mobilenet"}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_builds_with_defaults_and_summarises(name):
    bins = 1 if name == "cnn1d_raw" else 64
    model = build_model(ModelConfig(name=name), bins, 41)
    count = count_parameters(model)
    assert count == sum(p.numel() for p in model.parameters())
    assert count > 1000
    assert model_summary(name, model) == f"model {name}: {count:,} parameters"


@pytest.mark.parametrize("name", SPECTRAL)
@pytest.mark.parametrize("frames", [1, 2, 3, 5, 16, 101, 257])
def test_spectral_models_pool_over_any_number_of_frames(name, frames):
    model = build_model(small(name), 12, N_CLASSES).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 12, frames))
    assert out.shape == (3, N_CLASSES)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("samples", [1, 7, 100, 3200, 32000])
def test_raw_model_takes_any_number_of_samples(samples):
    model = build_model(small("cnn1d_raw"), 1, N_CLASSES).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, samples))
    assert out.shape == (2, N_CLASSES)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("bins", [2, 7, 32, 64, 513])
def test_vgg_takes_any_number_of_bins(bins):
    model = build_model(small("vgg_small"), bins, N_CLASSES).eval()
    with torch.no_grad():
        assert model(torch.randn(2, bins, 9)).shape == (2, N_CLASSES)


def conv_counts(model: nn.Module) -> list[int]:
    """Number of 2-D convolutions in each conv block."""
    return [sum(isinstance(m, nn.Conv2d) for m in block.modules()) for block in model.features]


def test_vgg_small_is_two_convs_per_block_and_fc_1024_selu():
    model = build_model(ModelConfig(name="vgg_small"), 64, 41)
    assert conv_counts(model) == [2, 2, 2, 2]
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)][::2] == [32, 64, 128, 256]
    linears = [m for m in model.classifier.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256, 1024), (1024, 41)]
    assert any(isinstance(m, nn.SELU) for m in model.classifier.modules())


def test_vgg_large_is_three_convs_per_block_and_fc_4096_selu():
    model = build_model(ModelConfig(name="vgg_large"), 64, 41)
    assert conv_counts(model) == [3, 3, 3, 3]
    linears = [m for m in model.classifier.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256, 4096), (4096, 41)]
    assert any(isinstance(m, nn.SELU) for m in model.classifier.modules())


def test_config_channels_and_fc_dim_replace_the_defaults():
    model = build_model(ModelConfig(name="vgg_large", channels=[8, 16, 24], fc_dim=40), 20, 3)
    assert conv_counts(model) == [3, 3, 3]
    linears = [m for m in model.classifier.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(24, 40), (40, 3)]


def test_dropout_is_taken_from_the_config():
    model = build_model(ModelConfig(name="vgg_small", channels=[4], fc_dim=8, dropout=0.7), 5, 3)
    rates = {m.p for m in model.modules() if isinstance(m, nn.Dropout)}
    assert rates == {0.7}


@pytest.mark.parametrize("name", SPECTRAL)
def test_spectral_models_refuse_raw_audio_at_load(name):
    with pytest.raises(ConfigError, match=f"model {name} is 2-D and needs spectral features"):
        load_config(None, ["features.name=raw", f"model.name={name}"])


@pytest.mark.parametrize("feature", ["logmel", "mfcc", "spectrogram"])
def test_raw_model_refuses_spectral_features_at_load(feature):
    with pytest.raises(ConfigError, match=f"1-D and needs the waveform \\(features.name: raw\\), not {feature}"):
        load_config(None, [f"features.name={feature}", "model.name=cnn1d_raw"])


@pytest.mark.parametrize("bins", [32, 64, 513])
def test_raw_model_refuses_rows_of_spectral_features(bins):
    with pytest.raises(ConfigError, match=f"reads the waveform as 1 row, got {bins} rows"):
        build_model(ModelConfig(name="cnn1d_raw"), bins, N_CLASSES)


def test_the_models_input_kinds():
    assert {name for name in MODELS if takes_waveform(name)} == {"cnn1d_raw"}
    with pytest.raises(ConfigError, match="unknown model 'resnet9000'"):
        takes_waveform("resnet9000")


def test_matching_models_and_features_build_from_a_real_config():
    raw = load_config(None, ["features.name=raw", "model.name=cnn1d_raw", "model.channels=[4, 4, 4, 4]"])
    logmel = load_config(None, ["model.channels=[4, 8]", "model.fc_dim=8"])
    assert build_model(raw.model, feature_bins(raw), 11)(torch.randn(2, 1, 800)).shape == (2, 11)
    assert build_model(logmel.model, feature_bins(logmel), 11)(torch.randn(2, 64, 16)).shape == (2, 11)


def test_raw_model_with_the_wrong_number_of_stages_is_a_config_error():
    # cnn1d_raw pools in four fixed stages; another number of channels is a user error, not a crash
    with pytest.raises(ConfigError, match="model.channels"):
        build_model(ModelConfig(name="cnn1d_raw", channels=[8, 16]), 1, N_CLASSES)


def test_unknown_model_name_is_a_config_error_listing_the_known_ones():
    with pytest.raises(ConfigError) as info:
        build_model(ModelConfig(name="resnet9000"), 64, N_CLASSES)
    message = str(info.value)
    assert "resnet9000" in message
    assert all(name in message for name in MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_batch_gives_the_same_outputs_as_its_items_one_by_one(name):
    bins, frames = bins_for(name), (800 if name == "cnn1d_raw" else 24)
    model = warmed_up(build_model(small(name), bins, N_CLASSES), bins, frames)
    torch.manual_seed(1)
    batch = torch.randn(6, bins, frames)
    with torch.no_grad():
        together = model(batch)
        alone = torch.cat([model(item[None]) for item in batch])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_eval_mode_is_deterministic_and_train_mode_uses_dropout(name):
    bins, frames = bins_for(name), (400 if name == "cnn1d_raw" else 16)
    model = warmed_up(build_model(small(name, dropout=0.5), bins, N_CLASSES), bins, frames)
    x = torch.randn(4, bins, frames)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        torch.manual_seed(0)
        first = model(x)
        torch.manual_seed(1)
        assert not torch.equal(first, model(x))


# Parameter counts by hand, for in_bins=5, n_classes=3, channels=[4], fc_dim=8:
#   input BatchNorm1d(5): 2*5 = 10
#   conv3x3 1->4 (no bias): 9*1*4 = 36; BatchNorm2d(4): 8; each further conv3x3 4->4: 144, + BN 8
#   Linear 4->8: 32+8 = 40; Linear 8->3: 24+3 = 27
#   two convs: 10 + (36+8) + (144+8) + 40 + 27 = 273; three convs: 273 + 152 = 425
# cnn1d_raw, channels=[2,2,2,2], fc_dim=8, n_classes=3:
#   input BatchNorm1d(1): 2
#   block 1 (kernel 9): conv 1->2: 18, BN 4, conv 2->2: 36, BN 4 -> 62
#   blocks 2-4 (kernel 3): conv 2->2: 12, BN 4, conv 12, BN 4 -> 32 each, 96
#   Linear 2->8: 24; Linear 8->3: 27  -> 2 + 62 + 96 + 24 + 27 = 211
@pytest.mark.parametrize(
    ("name", "channels", "expected"),
    [("vgg_small", [4], 273), ("cnn2d_mfcc", [4], 273), ("vgg_large", [4], 425), ("cnn1d_raw", [2, 2, 2, 2], 211)],
)
def test_parameter_counts_of_a_small_config_are_exact(name, channels, expected):
    bins = 1 if name == "cnn1d_raw" else 5
    model = build_model(ModelConfig(name=name, channels=channels, fc_dim=8), bins, 3)
    assert count_parameters(model) == expected
    assert model_summary(name, model) == f"model {name}: {expected} parameters"


def vgg_formula(bins: int, channels: list[int], convs: int, fc: int, n_classes: int) -> int:
    """Parameters of a VGG2d by formula: input BN, conv blocks with BN, two linear layers."""
    total, previous = 2 * bins, 1
    for width in channels:
        total += 9 * previous * width + 9 * width * width * (convs - 1) + 2 * width * convs
        previous = width
    return total + previous * fc + fc + fc * n_classes + n_classes


@pytest.mark.parametrize(
    ("name", "channels", "convs", "fc"),
    [("vgg_small", [32, 64, 128, 256], 2, 1024), ("vgg_large", [32, 64, 128, 256], 3, 4096),
     ("cnn2d_mfcc", [32, 64, 128], 2, 256)],
)
def test_default_parameter_counts_match_the_formula(name, channels, convs, fc):
    model = build_model(ModelConfig(name=name), 64, 41)
    assert count_parameters(model) == vgg_formula(64, channels, convs, fc, 41)


def test_frozen_parameters_are_not_counted():
    model = build_model(ModelConfig(name="vgg_small", channels=[4], fc_dim=8), 5, 3)
    model.input_norm.weight.requires_grad_(False)
    assert count_parameters(model) == 273 - 5


@pytest.mark.parametrize("name,bins", [("vgg_small", 32), ("cnn2d_mfcc", 20), ("cnn1d_raw", 1)])
def test_attention_pooling_takes_any_length(name, bins):
    channels = [4, 8, 8, 8] if name == "cnn1d_raw" else [4, 8]
    model = build_model(ModelConfig(name=name, channels=channels, fc_dim=8, pooling="attention"), bins, 3).eval()
    lengths = (4000, 9000) if name == "cnn1d_raw" else (5, 40)
    for length in lengths:
        assert model(torch.randn(2, bins, length)).shape == (2, 3)


# --- frame-wise outputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["meanmax", "attention"])
@pytest.mark.parametrize("name", ["vgg_small", "cnn2d_mfcc", "cnn1d_raw"])
def test_frame_logits_of_a_one_frame_clip_are_its_clip_logits(name, pooling):
    torch.manual_seed(0)
    raw = name == "cnn1d_raw"
    model = build_model(ModelConfig(name=name, channels=[], fc_dim=None, pooling=pooling), 1 if raw else 40, 7).eval()
    x = torch.randn(3, 1, model.frame_hop) if raw else torch.randn(3, 40, model.frame_hop)
    with torch.no_grad():
        frames = model.frame_logits(x)
        assert frames.shape == (3, 1, 7)
        torch.testing.assert_close(frames[:, 0], model(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["vgg_small", "cnn1d_raw"])
def test_frame_logits_are_local_in_time(name):
    """One output frame per frame_hop input frames; changing the end of a clip leaves its start alone."""
    torch.manual_seed(0)
    raw = name == "cnn1d_raw"
    model = build_model(ModelConfig(name=name, channels=[], fc_dim=None), 1 if raw else 40, 5).eval()
    hop = model.frame_hop
    x = torch.randn(1, 1 if raw else 40, 12 * hop)
    changed = x.clone()
    changed[..., -2 * hop:] = torch.randn_like(changed[..., -2 * hop:])
    with torch.no_grad():
        a, b = model.frame_logits(x), model.frame_logits(changed)
    assert a.shape == (1, 12, 5)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, -1], b[:, -1])
