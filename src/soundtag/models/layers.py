"""Building blocks shared by the CNNs."""

from __future__ import annotations

import torch
from torch import nn


def conv_block_2d(in_channels: int, out_channels: int, n_convs: int) -> nn.Sequential:
    """``n_convs`` x (conv3x3, BatchNorm, LeakyReLU) then 2x2 max pooling."""
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [
            nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.1, inplace=True),
        ]
    layers.append(nn.MaxPool2d(2, ceil_mode=True))
    return nn.Sequential(*layers)


def conv_block_1d(in_channels: int, out_channels: int, kernel: int, pool: int) -> nn.Sequential:
    """Two (conv1d, BatchNorm, ReLU) then max pooling by ``pool``."""
    return nn.Sequential(
        nn.Conv1d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv1d(out_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool1d(pool, ceil_mode=True),
    )


def global_time_pool(x: torch.Tensor) -> torch.Tensor:
    """Mean plus max over the last (time) axis, so any clip length gives one vector."""
    return x.mean(dim=-1) + x.amax(dim=-1)


class Classifier(nn.Module):
    """Pooled embedding -> FC + SELU + dropout -> class logits."""

    def __init__(self, in_features: int, hidden: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.SELU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.hidden(x)))


class AttentionPool(nn.Module):
    """Attention over time: a learned score per frame, softmax over frames, weighted mean."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.score = nn.Conv1d(channels, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(x), dim=-1)
        return (x * weights).sum(dim=-1)


class MeanMaxPool(nn.Module):
    """Mean plus max over time (the default)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return global_time_pool(x)


def time_pooling(kind: str, channels: int) -> nn.Module:
    """The pooling over time named ``kind``: ``meanmax`` or ``attention``."""
    return AttentionPool(channels) if kind == "attention" else MeanMaxPool()
