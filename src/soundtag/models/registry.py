"""Models by name, each built from :class:`~soundtag.config.ModelConfig` and the input size."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from soundtag.config import ModelConfig
from soundtag.errors import ConfigError
from soundtag.models.cnn import CNN1d, VGG2d


def _vgg_small(config: ModelConfig, in_bins: int, n_classes: int) -> nn.Module:
    """VGG blocks of 2 convs, FC 1024 + SELU."""
    return VGG2d(in_bins, n_classes, config.channels or (32, 64, 128, 256), 2, config.fc_dim or 1024, config.dropout,
                  config.pooling)


def _vgg_large(config: ModelConfig, in_bins: int, n_classes: int) -> nn.Module:
    """VGG blocks of 3 convs, FC 4096 + SELU."""
    return VGG2d(in_bins, n_classes, config.channels or (32, 64, 128, 256), 3, config.fc_dim or 4096, config.dropout,
                  config.pooling)


def _cnn2d_mfcc(config: ModelConfig, in_bins: int, n_classes: int) -> nn.Module:
    """A smaller VGG sized for a few dozen MFCC rows: 3 blocks of 2 convs, FC 256."""
    return VGG2d(in_bins, n_classes, config.channels or (32, 64, 128), 2, config.fc_dim or 256, config.dropout,
                  config.pooling)


def _cnn1d_raw(config: ModelConfig, in_bins: int, n_classes: int) -> nn.Module:
    """1-D CNN on the waveform."""
    if in_bins != 1:
        raise ConfigError("model cnn1d_raw needs features.name: raw")
    channels = config.channels or (16, 32, 64, 128)
    if len(channels) != 4:
        raise ConfigError(f"model cnn1d_raw has 4 pooling stages: model.channels needs 4 widths, got {len(channels)}")
    return CNN1d(n_classes, channels, fc_dim=config.fc_dim or 256, dropout=config.dropout, pooling=config.pooling)


MODELS: dict[str, Callable[[ModelConfig, int, int], nn.Module]] = {
    "vgg_small": _vgg_small,
    "vgg_large": _vgg_large,
    "cnn2d_mfcc": _cnn2d_mfcc,
    "cnn1d_raw": _cnn1d_raw,
}


def build_model(config: ModelConfig, in_bins: int, n_classes: int) -> nn.Module:
    """The model ``config.name`` for inputs of ``in_bins`` rows and ``n_classes`` outputs."""
    if config.name not in MODELS:
        raise ConfigError(f"model.name: unknown model '{config.name}' (known: {', '.join(sorted(MODELS))})")
    if config.name != "cnn1d_raw" and in_bins == 1:
        raise ConfigError(f"model {config.name} is 2-D and needs spectral features, not raw audio")
    return MODELS[config.name](config, in_bins, n_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_summary(name: str, model: nn.Module) -> str:
    """One line naming the model and its parameter count."""
    return f"model {name}: {count_parameters(model):,} parameters"
