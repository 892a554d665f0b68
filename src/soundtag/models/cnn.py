"""The seed's classifiers: VGG-style 2-D CNNs on spectral features and a 1-D CNN on raw audio."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from soundtag.models.layers import Classifier, conv_block_1d, conv_block_2d, time_pooling


class VGG2d(nn.Module):
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

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clip embedding of (batch, bins, frames) input."""
        x = self.features(self.input_norm(x).unsqueeze(1))
        return self.pool(x.mean(dim=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


class CNN1d(nn.Module):
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

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clip embedding of (batch, 1, samples) input."""
        return self.pool(self.features(self.input_norm(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))
