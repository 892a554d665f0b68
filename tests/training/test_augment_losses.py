"""Noise-robust training pieces: losses on soft targets with weights, label smoothing, augmentation."""

from __future__ import annotations

import math

import pytest
import torch

from soundtag.config import AugmentConfig
from soundtag.training.augment import augment_batch, mixup, random_gain, spec_masks, time_shift
from soundtag.training.losses import smooth, weighted_loss


def test_cross_entropy_by_hand_and_weights():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    onehot = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    first = math.log(1 + math.exp(-2.0))  # -log softmax(2, 0)[0]
    second = math.log(1 + math.exp(1.0))  # -log softmax(0, 1)[0]
    assert float(weighted_loss(logits, onehot, torch.ones(2))) == pytest.approx((first + second) / 2, abs=1e-6)
    assert float(weighted_loss(logits, onehot, torch.tensor([1.0, 0.0]))) == pytest.approx(first, abs=1e-6)
    assert float(weighted_loss(logits, onehot, torch.tensor([3.0, 1.0]))) == pytest.approx((3 * first + second) / 4,
                                                                                             abs=1e-6)


def test_gce_is_bounded_where_cross_entropy_is_not():
    wrong = torch.tensor([[20.0, -20.0]])
    target = torch.tensor([[0.0, 1.0]])
    q = 0.7
    assert float(weighted_loss(wrong, target, torch.ones(1), "gce", q)) == pytest.approx(1 / q, abs=1e-4)
    assert float(weighted_loss(wrong, target, torch.ones(1), "ce")) > 30
    right = torch.tensor([[-20.0, 20.0]])
    assert float(weighted_loss(right, target, torch.ones(1), "gce", q)) == pytest.approx(0.0, abs=1e-6)


def test_label_smoothing():
    smoothed = smooth(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), 0.2)
    assert smoothed[0].tolist() == pytest.approx([0.85, 0.05, 0.05, 0.05])
    assert float(smoothed.sum()) == pytest.approx(1.0)


def test_gain_adds_db_or_scales_waveforms():
    torch.manual_seed(0)
    x = torch.ones(3, 4, 5)
    shifted = random_gain(x, 6.0, in_db=True)
    offsets = (shifted - x)[:, 0, 0]
    assert torch.all(offsets.abs() <= 6.0) and torch.allclose(shifted - x, offsets[:, None, None].expand_as(x))
    scaled = random_gain(x, 6.0, in_db=False)
    assert torch.all((scaled > 0.5) & (scaled < 2.0))


def test_time_shift_rolls_each_clip():
    torch.manual_seed(1)
    x = torch.arange(10.0).repeat(2, 3, 1)
    rolled = time_shift(x)
    for clip in rolled:
        assert sorted(clip[0].tolist()) == list(range(10))


def test_spec_masks_set_bands_to_the_clip_mean():
    torch.manual_seed(2)
    x = torch.randn(2, 16, 40)
    masked = spec_masks(x, count=2, width=5, dim=2)
    changed = (masked != x).any(dim=1)  # frames touched per clip
    assert changed.sum(dim=1).max() <= 10
    for i in range(2):
        assert torch.allclose(masked[i][:, changed[i]], x[i].mean().expand_as(masked[i][:, changed[i]]))


def test_mixup_mixes_inputs_targets_and_weights_alike():
    torch.manual_seed(3)
    x = torch.stack([torch.zeros(2, 3), torch.ones(2, 3)])
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mixed, soft, w = mixup(x, t, torch.tensor([1.0, 0.5]), alpha=0.4)
    for i in range(2):
        lam_like = float(mixed[i, 0, 0])  # share of clip 1 in the mix
        assert soft[i].tolist() == pytest.approx([1 - lam_like, lam_like], abs=1e-6)
        assert float(w[i]) == pytest.approx(1.0 - 0.5 * lam_like, abs=1e-6)


def test_augment_is_deterministic_under_a_seed_and_off_by_default():
    x, t, w = torch.randn(4, 8, 20), torch.eye(4), torch.ones(4)
    assert augment_batch(x, t, w, AugmentConfig(), True, True)[0] is x
    config = AugmentConfig(mixup_alpha=0.3, time_masks=1, freq_masks=1, gain_db=3, time_shift=True)
    torch.manual_seed(7)
    first = augment_batch(x, t, w, config, True, True)
    torch.manual_seed(7)
    second = augment_batch(x, t, w, config, True, True)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
