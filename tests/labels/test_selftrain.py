"""Self-training: the linear schedule of the lower bound and the confidence window."""

from __future__ import annotations

import numpy as np
import pytest

from soundtag.config import SelfTrainConfig
from soundtag.errors import ConfigError
from soundtag.labels import lower_bound, select_confident


def test_lower_bound_moves_linearly_from_start_to_end():
    config = SelfTrainConfig(rounds=5, lower_start=0.9, lower_end=0.5)
    assert [lower_bound(config, r) for r in range(1, 6)] == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.5])


def test_single_round_uses_the_start_bound():
    assert lower_bound(SelfTrainConfig(rounds=1, lower_start=0.8, lower_end=0.6), 1) == 0.8


def test_select_confident_keeps_top_probability_within_bounds():
    probs = np.array([[0.95, 0.05], [0.6, 0.4], [0.75, 0.25], [0.2, 0.8], [0.5, 0.5]])
    assert select_confident(probs, 0.7, 0.9).tolist() == [False, False, True, True, False]
    assert select_confident(probs, 0.7, 1.0).tolist() == [True, False, True, True, False]
    assert select_confident(np.zeros((0, 3)), 0.5, 1.0).tolist() == []


def test_bounds_are_validated():
    with pytest.raises(ConfigError):
        SelfTrainConfig(lower_start=0.9, upper=0.8)
    with pytest.raises(ConfigError):
        SelfTrainConfig(label="whatever")
