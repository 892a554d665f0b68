"""Models by name, each built from :class:`~soundtag.config.ModelConfig` and the input size."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from soundtag.config import ModelConfig
from soundtag.errors import ConfigError
from soundtag.models.cnn import BlockTagger, CNN1d, MobileNet2d, VGG2d


def _vgg_small(config: ModelConfig, in_bins: int, n_classes: int) -> BlockTagger:
    """VGG blocks of 2 convs, FC 1024 + SELU."""
    return VGG2d(in_bins, n_classes, config.channels or (32, 64, 128, 256), 2, config.fc_dim or 1024, config.dropout,
                  config.pooling)


def _vgg_large(config: ModelConfig, in_bins: int, n_classes: int) -> BlockTagger:
    """VGG blocks of 3 convs, FC 4096 + SELU."""
    return VGG2d(in_bins, n_classes, config.channels or (32, 64, 128, 256), 3, config.fc_dim or 4096, config.dropout,
                  config.pooling)


def _cnn2d_mfcc(config: ModelConfig, in_bins: int, n_classes: int) -> BlockTagger:
    """A smaller VGG sized for a few dozen MFCC rows: 3 blocks of 2 convs, FC 256."""
    return VGG2d(in_bins, n_classes, config.channels or (32, 64, 128), 2, config.fc_dim or 256, config.dropout,
                  config.pooling)


def _cnn1d_raw(config: ModelConfig, in_bins: int, n_classes: int) -> BlockTagger:
    """1-D CNN on the waveform."""
    if in_bins != 1:
        raise ConfigError(f"model cnn1d_raw reads the waveform as 1 row, got {in_bins} rows")
    channels = config.channels or (16, 32, 64, 128)
    if len(channels) != 4:
        raise ConfigError(f"model cnn1d_raw has 4 pooling stages: model.channels needs 4 widths, got {len(channels)}")
    return CNN1d(n_classes, channels, fc_dim=config.fc_dim or 256, dropout=config.dropout, pooling=config.pooling)


def _mobilenet(config: ModelConfig, in_bins: int, n_classes: int) -> BlockTagger:
    """EfficientAT-style MobileNetV3 blocks, widths scaled by ``model.width``, FC 512 + SELU."""
    if config.channels:
        raise ConfigError("model mobilenet sets its widths with model.width (a multiplier), not model.channels")
    return MobileNet2d(in_bins, n_classes, config.width, config.fc_dim or 512, config.dropout, config.pooling)


MODELS: dict[str, Callable[[ModelConfig, int, int], BlockTagger]] = {
    "vgg_small": _vgg_small,
    "vgg_large": _vgg_large,
    "cnn2d_mfcc": _cnn2d_mfcc,
    "cnn1d_raw": _cnn1d_raw,
    "mobilenet": _mobilenet,
}


# The 1-D models, on the waveform (batch, 1, samples); the others are 2-D, on spectral features.
WAVEFORM_MODELS = frozenset({"cnn1d_raw"})


def takes_waveform(name: str) -> bool:
    """Whether model ``name`` is 1-D on the waveform (else 2-D on spectral features); an unknown name
    is a ConfigError listing the known ones. :func:`soundtag.config.validate` checks the features with it.
    """
    if name not in MODELS:
        raise ConfigError(f"model.name: unknown model '{name}' (known: {', '.join(sorted(MODELS))})")
    return name in WAVEFORM_MODELS


def build_model(config: ModelConfig, in_bins: int, n_classes: int) -> BlockTagger:
    """The model ``config.name`` for inputs of ``in_bins`` rows and ``n_classes`` outputs (every model is a
    :class:`~soundtag.models.cnn.BlockTagger`: its per-class output layer and conv blocks are known by name)."""
    takes_waveform(config.name)  # refuses an unknown name
    return MODELS[config.name](config, in_bins, n_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_summary(name: str, model: nn.Module) -> str:
    """One line naming the model and its parameter count (and how many of them train, when some are frozen)."""
    total, trainable = sum(p.numel() for p in model.parameters()), count_parameters(model)
    if trainable == total:
        return f"model {name}: {total:,} parameters"
    frozen = getattr(model, "frozen_blocks", 0)
    blocks = f" (first {frozen} conv block{'s' if frozen != 1 else ''} frozen)" if frozen else ""
    return f"model {name}: {total:,} parameters, {trainable:,} trainable{blocks}"
