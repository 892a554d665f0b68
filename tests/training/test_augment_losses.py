"""Noise-robust training pieces: losses on soft targets with weights, label smoothing, augmentation."""

from __future__ import annotations

import math

import pytest
import torch

from soundtag.config import AugmentConfig
from soundtag.training.augment import augment_batch, mixup, random_gain, spec_masks, time_shift
from soundtag.training.losses import clip_losses, smooth, weighted_loss


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


# ---------------------------------------------------------------------------------------------
# multi-label: binary cross-entropy on multi-hot targets


def bce(logit: float, target: float) -> float:
    """-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], written out."""
    p = 1 / (1 + math.exp(-logit))
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def test_binary_cross_entropy_by_hand_sums_the_classes_and_weighs_the_clips():
    logits = torch.tensor([[2.0, -1.0, 0.0], [0.5, 0.5, -3.0]])
    multi_hot = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # two labels; none (a negative)
    first = bce(2.0, 1) + bce(-1.0, 1) + bce(0.0, 0)
    second = bce(0.5, 0) + bce(0.5, 0) + bce(-3.0, 0)
    loss = lambda w: float(weighted_loss(logits, multi_hot, torch.tensor(w), multi_label=True))  # noqa: E731
    assert loss([1.0, 1.0]) == pytest.approx((first + second) / 2, abs=1e-6)
    assert loss([1.0, 0.0]) == pytest.approx(first, abs=1e-6)
    assert loss([0.5, 1.5]) == pytest.approx((0.5 * first + 1.5 * second) / 2, abs=1e-6)
    assert clip_losses(logits, multi_hot, multi_label=True).tolist() == pytest.approx([first, second], abs=1e-6)


def test_binary_cross_entropy_treats_classes_independently_where_softmax_does_not():
    # both classes present: BCE is low when both logits are high; CE against the normalised target cannot be
    both = torch.tensor([[1.0, 1.0]])
    assert float(weighted_loss(torch.tensor([[8.0, 8.0]]), both, torch.ones(1), multi_label=True)) < 1e-3
    assert float(weighted_loss(torch.tensor([[8.0, 8.0]]), both / 2, torch.ones(1))) == pytest.approx(math.log(2),
                                                                                                        abs=1e-6)
    # an all-zero target is learnt by pushing every logit down
    nothing = torch.zeros(1, 2)
    assert float(weighted_loss(torch.tensor([[-8.0, -8.0]]), nothing, torch.ones(1), multi_label=True)) < 1e-3


def test_label_smoothing_of_multi_hot_targets_moves_towards_epsilon_over_classes():
    smoothed = smooth(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]), 0.2)
    assert smoothed[0].tolist() == pytest.approx([0.85, 0.85, 0.05, 0.05])
    assert smoothed[1].tolist() == pytest.approx([0.05] * 4)  # a negative clip: a little of every class, not 0.5


def test_mixup_of_multi_hot_targets_keeps_both_label_sets_weighted():
    torch.manual_seed(4)
    x = torch.stack([torch.zeros(2, 3), torch.ones(2, 3)])
    t = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    mixed, soft, _ = mixup(x, t, torch.ones(2), alpha=0.4)
    for i in range(2):
        second = float(mixed[i, 0, 0])  # share of clip 2 in the mix
        assert soft[i].tolist() == pytest.approx([1 - second, 1.0, second], abs=1e-6)
