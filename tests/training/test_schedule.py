"""The learning-rate schedule, the SWA phase, and the BatchNorm update of an averaged model."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from soundtag.config import TrainConfig
from soundtag.training.schedule import epoch_lr, swa_first_epoch, update_batchnorm


def test_the_constant_schedule_is_the_configured_rate_every_epoch():
    assert {epoch_lr(TrainConfig(lr=0.003), e, 10) for e in range(1, 11)} == {0.003}


def test_cosine_starts_at_the_rate_and_decays_towards_zero():
    rates = [epoch_lr(TrainConfig(lr=1.0, schedule="cosine"), e, 10) for e in range(1, 11)]
    assert rates[0] == 1.0 and rates == sorted(rates, reverse=True)
    assert rates[-1] == pytest.approx((1 + math.cos(math.pi * 0.9)) / 2)


def test_the_swa_phase_holds_the_rate_of_its_first_epoch():
    cfg = TrainConfig(lr=1.0, schedule="cosine", swa_start=0.5)
    assert swa_first_epoch(0.5, 10) == 6
    assert {epoch_lr(cfg, e, 10) for e in range(6, 11)} == {epoch_lr(cfg, 6, 10)}
    assert epoch_lr(cfg, 5, 10) > epoch_lr(cfg, 6, 10)


def test_update_batchnorm_averages_the_batches_and_leaves_eval_mode_layers_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm1d(2), nn.Sequential(nn.BatchNorm1d(2)))
    model[1].eval()
    model.train = lambda mode=True: (nn.Module.train(model, mode), model[1].eval())[0]  # as a frozen block does
    frozen = model[1][0].running_mean.clone()
    batches = [torch.randn(8, 2) + 3, torch.randn(8, 2) - 1]
    update_batchnorm(model, batches)
    torch.testing.assert_close(model[0].running_mean, torch.stack([b.mean(0) for b in batches]).mean(0))
    assert torch.equal(model[1][0].running_mean, frozen) and not model.training
    assert model[0].momentum == 0.1
