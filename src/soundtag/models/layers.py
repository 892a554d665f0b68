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


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a multiple of ``divisor`` (at least ``divisor``), never below 90 % of it, as
    MobileNet scales its widths."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcitation(nn.Module):
    """Channel gates from the map's mean over frequency and time: 1x1 down, ReLU, 1x1 up, hard sigmoid."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(channels, squeezed, 1)
        self.up = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.up(torch.relu(self.down(x.mean(dim=(2, 3), keepdim=True))))
        return x * nn.functional.hardsigmoid(gates)


def conv_bn_act(in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                activation: type[nn.Module] | None = nn.ReLU) -> list[nn.Module]:
    """A padded conv (no bias), BatchNorm and, unless None, ``activation``: ``ceil(size / stride)`` out per axis."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups,
                                         bias=False), nn.BatchNorm2d(out_channels)]
    return layers + ([activation()] if activation is not None else [])


class InvertedResidual(nn.Module):
    """MobileNetV3's block: 1x1 expansion (skipped when it would not widen), depthwise ``kernel`` conv with
    ``stride``, optional squeeze-excitation, linear 1x1 projection; the input is added back when the
    shapes match (stride 1, same width)."""

    def __init__(self, in_channels: int, kernel: int, expanded: int, out_channels: int, se: bool,
                 activation: type[nn.Module], stride: int) -> None:
        super().__init__()
        layers = conv_bn_act(in_channels, expanded, activation=activation) if expanded != in_channels else []
        layers += conv_bn_act(expanded, expanded, kernel, stride, groups=expanded, activation=activation)
        layers += [SqueezeExcitation(expanded, make_divisible(expanded / 4))] if se else []
        layers += conv_bn_act(expanded, out_channels, activation=None)
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out
