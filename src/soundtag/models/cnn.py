"""The classifiers: the 2018 recipe's VGG-style 2-D CNNs on spectral features and 1-D CNN on raw audio,
and an EfficientAT-style mobile 2-D CNN."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from soundtag.models.layers import (
    Classifier,
    InvertedResidual,
    conv_bn_act,
    conv_block_1d,
    conv_block_2d,
    make_divisible,
    time_pooling,
)


class BlockTagger(nn.Module):
    """Base of the CNNs: an ``input_norm``, conv blocks in ``features``, ``pool`` over time and a
    ``classifier`` whose last layer, :attr:`output_layer`, has one row per class.

    What fine-tuning needs to know of a model lives here: which layer is per class (its rows are kept
    or rebuilt by class name; everything else is the class-independent backbone) and how to freeze the
    first conv blocks.

    >>> model = VGG2d(16, 5, channels=(4, 8), fc_dim=8)
    >>> model.output_layer_name, model.output_layer.weight.shape[0], model.num_blocks
    ('classifier.out', 5, 2)
    """

    input_norm: nn.Module
    features: nn.Sequential
    pool: nn.Module
    classifier: Classifier

    output_layer_name = "classifier.out"
    """Qualified name of :attr:`output_layer` in the model's ``state_dict``."""

    frozen_blocks = 0
    """How many of the first conv blocks :meth:`freeze_blocks` froze."""

    @property
    def output_layer(self) -> nn.Linear:
        """The layer that maps the hidden vector to class logits: weight row and bias entry ``i`` are class ``i``."""
        return self.get_submodule(self.output_layer_name)

    @property
    def output_state_keys(self) -> list[str]:
        """The ``state_dict`` keys of :attr:`output_layer` (its weight and bias): the per-class part."""
        return [f"{self.output_layer_name}.{name}" for name in self.output_layer.state_dict()]

    @property
    def num_blocks(self) -> int:
        """Number of conv blocks (each halving the time axis, or pooling the waveform)."""
        return len(self.features)

    def freeze_blocks(self, count: int) -> None:
        """Freeze the first ``count`` conv blocks: their weights stop learning (``requires_grad`` False) and
        their BatchNorm layers stay in eval mode even under ``model.train()``, so their running
        statistics keep the values they were trained with. The input normalisation before the first
        block keeps learning (it adapts to a new corpus's levels). ``count`` 0 unfreezes every block.
        """
        if not 0 <= count <= self.num_blocks:
            raise ValueError(f"the model has {self.num_blocks} conv blocks; cannot freeze {count}")
        self.frozen_blocks = count
        for index, block in enumerate(self.features):
            block.requires_grad_(index >= count)
        self.train(self.training)

    def train(self, mode: bool = True) -> BlockTagger:
        """As :meth:`torch.nn.Module.train`, except that frozen blocks stay in eval mode."""
        super().train(mode)
        for block in self.features[: self.frozen_blocks]:
            block.eval()
        return self


class SpectralTagger(BlockTagger):
    """A 2-D CNN on (batch, bins, frames) features: per-bin input BatchNorm, conv blocks on the
    (1, bins, frames) image, mean over frequency, pooling over time, classifier."""

    @property
    def frame_hop(self) -> int:
        """Input frames per output frame of :meth:`frame_logits` (each block halves the time axis)."""
        return 2 ** len(self.features)

    def frame_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Channel maps over time, (batch, channels, output frames), of (batch, bins, frames) input."""
        return self.features(self.input_norm(x).unsqueeze(1)).mean(dim=2)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clip embedding of (batch, bins, frames) input."""
        return self.pool(self.frame_maps(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))

    def frame_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits per output frame, (batch, output frames, n_classes): see :func:`frame_logits`."""
        return frame_logits(self.frame_maps(x), self.pool, self.classifier)


class VGG2d(SpectralTagger):
    """VGG-style CNN on (batch, bins, frames) features: per-bin input BatchNorm, conv blocks,
    mean over frequency, mean+max over time, FC + SELU, logits.
    """

    def __init__(
        self,
        in_bins: int,
        n_classes: int,
        channels: Sequence[int] = (32, 64, 128, 256),
        convs_per_block: int = 2,
        fc_dim: int = 1024,
        dropout: float = 0.3,
        pooling: str = "meanmax",
    ) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(in_bins)
        blocks, previous = [], 1
        for width in channels:
            blocks.append(conv_block_2d(previous, width, convs_per_block))
            previous = width
        self.features = nn.Sequential(*blocks)
        self.pool = time_pooling(pooling, previous)
        self.classifier = Classifier(previous, fc_dim, n_classes, dropout)



# MobileNetV3-Large's blocks, as EfficientAT's mn10 stacks them (Schmid et al. 2023): kernel, expanded
# width, output width, squeeze-excitation, activation, stride; widths before the width multiplier.
MOBILENET_BLOCKS: tuple[tuple[int, int, int, bool, type[nn.Module], int], ...] = (
    (3, 16, 16, False, nn.ReLU, 1), (3, 64, 24, False, nn.ReLU, 2), (3, 72, 24, False, nn.ReLU, 1),
    (5, 72, 40, True, nn.ReLU, 2), (5, 120, 40, True, nn.ReLU, 1), (5, 120, 40, True, nn.ReLU, 1),
    (3, 240, 80, False, nn.Hardswish, 2), (3, 200, 80, False, nn.Hardswish, 1),
    (3, 184, 80, False, nn.Hardswish, 1), (3, 184, 80, False, nn.Hardswish, 1),
    (3, 480, 112, True, nn.Hardswish, 1), (3, 672, 112, True, nn.Hardswish, 1),
    (5, 672, 160, True, nn.Hardswish, 2), (5, 960, 160, True, nn.Hardswish, 1),
    (5, 960, 160, True, nn.Hardswish, 1),
)


class MobileNet2d(SpectralTagger):
    """An EfficientAT-style mobile CNN on (batch, bins, frames) features: a strided 3x3 stem, MobileNetV3's
    15 inverted residual blocks with every width scaled by ``width``, a 1x1 conv to 6x the last width,
    then mean over frequency, pooling over time, FC + SELU, logits. Frequency and time shrink 32-fold.
    Each stem, block and the last conv is one block of :meth:`freeze_blocks`.

    >>> MobileNet2d(64, 5, width=0.5).num_blocks
    17
    """

    def __init__(self, in_bins: int, n_classes: int, width: float = 1.0, fc_dim: int = 512, dropout: float = 0.3,
                 pooling: str = "meanmax") -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(in_bins)
        previous = make_divisible(16 * width)
        blocks: list[nn.Module] = [nn.Sequential(*conv_bn_act(1, previous, 3, 2, activation=nn.Hardswish))]
        for kernel, expanded, out, se, activation, stride in MOBILENET_BLOCKS:
            out = make_divisible(out * width)
            blocks.append(InvertedResidual(previous, kernel, make_divisible(expanded * width), out, se, activation,
                                           stride))
            previous = out
        blocks.append(nn.Sequential(*conv_bn_act(previous, 6 * previous, activation=nn.Hardswish)))
        self.features = nn.Sequential(*blocks)
        self.pool = time_pooling(pooling, 6 * previous)
        self.classifier = Classifier(6 * previous, fc_dim, n_classes, dropout)

    @property
    def frame_hop(self) -> int:
        """Input frames per output frame of :meth:`frame_logits`: the product of the strides."""
        return 2 * math.prod(block[-1] for block in MOBILENET_BLOCKS)


class CNN1d(BlockTagger):
    """1-D CNN on (batch, 1, samples) waveforms: wide first kernels, strong pooling, mean+max."""

    def __init__(
        self,
        n_classes: int,
        channels: Sequence[int] = (16, 32, 64, 128),
        pools: Sequence[int] = (8, 8, 4, 4),
        first_kernel: int = 9,
        fc_dim: int = 256,
        dropout: float = 0.3,
        pooling: str = "meanmax",
    ) -> None:
        super().__init__()
        if len(channels) != len(pools):
            raise ValueError("channels and pools must have the same length")
        self.input_norm = nn.BatchNorm1d(1)
        blocks, previous = [], 1
        for i, (width, pool) in enumerate(zip(channels, pools)):
            blocks.append(conv_block_1d(previous, width, first_kernel if i == 0 else 3, pool))
            previous = width
        self.features = nn.Sequential(*blocks)
        self.pool = time_pooling(pooling, previous)
        self.classifier = Classifier(previous, fc_dim, n_classes, dropout)

    @property
    def frame_hop(self) -> int:
        """Input samples per output frame of :meth:`frame_logits`."""
        return math.prod(block[-1].kernel_size for block in self.features)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clip embedding of (batch, 1, samples) input."""
        return self.pool(self.features(self.input_norm(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))

    def frame_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits per output frame, (batch, output frames, n_classes): see :func:`frame_logits`."""
        return frame_logits(self.features(self.input_norm(x)), self.pool, self.classifier)


def frame_logits(maps: torch.Tensor, pool: nn.Module, classifier: nn.Module) -> torch.Tensor:
    """The clip head applied to every output frame of (batch, channels, frames) maps as if that frame
    were a whole clip: pooled alone (mean+max of one frame is twice it; attention over one frame is
    the frame), then classified. A clip of one output frame gets exactly its clip logits.
    """
    batch, channels, frames = maps.shape
    single = maps.permute(0, 2, 1).reshape(batch * frames, channels, 1)
    return classifier(pool(single)).reshape(batch, frames, -1)
