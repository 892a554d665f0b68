"""Windowed clip prediction: windows cover every frame, and clip probabilities are window means."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from soundtag.data import fit_width
from soundtag.training import clip_windows, predict_clips, window_starts

CPU = torch.device("cpu")


@given(st.integers(1, 400), st.integers(1, 64), st.data())
def test_windows_cover_every_frame_and_the_last_is_end_aligned(frames, width, data):
    hop = data.draw(st.integers(1, width))  # windows overlap or touch (the trainer uses width // 2)
    starts = window_starts(frames, width, hop)
    if frames <= width:
        assert starts == [0]
        return
    assert starts[0] == 0
    assert starts[-1] == frames - width
    assert all(0 < b - a <= hop for a, b in zip(starts, starts[1:]))
    covered = np.zeros(frames, bool)
    for start in starts:
        assert 0 <= start and start + width <= frames
        covered[start:start + width] = True
    assert covered.all()


@pytest.mark.parametrize(
    ("frames", "width", "hop", "expected"),
    [(10, 4, 2, [0, 2, 4, 6]), (11, 4, 2, [0, 2, 4, 6, 7]), (4, 4, 2, [0]), (3, 4, 2, [0]), (1, 100, 50, [0]),
     (100, 10, 10, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]),
     (105, 10, 10, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95])],
)
def test_window_starts_by_hand(frames, width, hop, expected):
    assert window_starts(frames, width, hop) == expected


def test_clip_windows_stack_the_windows_of_a_long_clip():
    features = np.arange(3 * 11, dtype=np.float32).reshape(3, 11)
    windows = clip_windows(features, 4, 2)
    assert windows.shape == (5, 3, 4)
    for window, start in zip(windows, [0, 2, 4, 6, 7]):
        np.testing.assert_array_equal(window, features[:, start:start + 4])


@pytest.mark.parametrize("pad_mode", ["repeat", "zeros", "min"])
def test_a_short_clip_is_one_padded_window(pad_mode):
    features = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    windows = clip_windows(features, 7, 3, pad_mode)
    assert windows.shape == (1, 2, 7)
    np.testing.assert_array_equal(windows[0], fit_width(features, 7, 0, pad_mode))
    np.testing.assert_array_equal(windows[0, :, :3], features)
    tail = {"repeat": [1.0, 2.0, 3.0, 1.0], "zeros": [0.0] * 4, "min": [1.0] * 4}[pad_mode]
    np.testing.assert_array_equal(windows[0, 0, 3:], tail)


class MeanLinear(nn.Module):
    """A toy classifier: a linear map of each bin's mean over time, with dropout (off in eval)."""

    def __init__(self, bins: int, n_classes: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(bins, n_classes)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(x.mean(dim=-1)))


def manual_probabilities(model: nn.Module, clips: list[np.ndarray], width: int, hop: int) -> np.ndarray:
    """Each window through the model alone, softmax, then the plain mean per clip."""
    rows = []
    with torch.no_grad():
        for features in clips:
            probs = []
            for start in window_starts(features.shape[-1], width, hop):
                window = torch.from_numpy(np.ascontiguousarray(fit_width(features, width, start)))[None]
                probs.append(torch.softmax(model.linear(window.mean(dim=-1)), dim=1)[0].numpy())
            rows.append(np.mean(probs, axis=0))
    return np.array(rows)


def toy_clips(lengths: list[int], bins: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(bins, n)).astype(np.float32) * 3 for n in lengths]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 1000])
def test_predict_clips_is_the_mean_of_window_softmaxes(batch_size):
    model = MeanLinear(6, 4)
    model.train()  # predict_clips must switch dropout off itself
    clips = toy_clips([5, 20, 8, 33, 1, 19])
    probs = predict_clips(model, clips, 8, 4, CPU, batch_size)
    assert probs.shape == (6, 4) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, manual_probabilities(model, clips, 8, 4), atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_predict_clips_takes_a_lazy_iterable_and_reads_it_once():
    model = MeanLinear(6, 3)
    clips = toy_clips([30, 3, 12, 50])
    handed_out = []

    def lazily():
        for features in clips:
            handed_out.append(len(handed_out))
            yield features

    probs = predict_clips(model, lazily(), 10, 5, CPU, batch_size=2)
    assert handed_out == [0, 1, 2, 3]
    np.testing.assert_array_equal(probs, predict_clips(model, clips, 10, 5, CPU, batch_size=2))
    np.testing.assert_allclose(probs, manual_probabilities(model, clips, 10, 5), atol=1e-6)


def test_clip_probabilities_do_not_depend_on_the_other_clips():
    model = MeanLinear(6, 3)
    clips = toy_clips([30, 3, 12, 50])
    together = predict_clips(model, clips, 10, 5, CPU, batch_size=4)
    alone = np.concatenate([predict_clips(model, [c], 10, 5, CPU, batch_size=4) for c in clips])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_no_clips_give_an_empty_result():
    assert predict_clips(MeanLinear(6, 3), iter([]), 10, 5, CPU).size == 0


def test_a_floor_leaves_out_the_windows_far_below_the_loudest():
    model = MeanLinear(6, 3)
    (loud,) = toy_clips([16])
    quiet = np.full((6, 16), -80.0, dtype=np.float32)
    clip = np.concatenate([loud, quiet, loud], axis=1)  # windows of 8 every 8: loud, loud, quiet, quiet, loud, loud
    with_floor = predict_clips(model, [clip], 8, 8, CPU, floor_db=30.0)
    np.testing.assert_allclose(with_floor, predict_clips(model, [np.concatenate([loud, loud], axis=1)], 8, 8, CPU),
                               atol=1e-6)
    assert not np.allclose(with_floor, predict_clips(model, [clip], 8, 8, CPU), atol=1e-3)


def test_a_floor_keeps_every_window_of_a_silent_clip_and_of_an_even_one():
    model = MeanLinear(6, 3)
    silent = np.full((6, 40), -100.0, dtype=np.float32)
    clips = [silent, *toy_clips([40, 5])]
    np.testing.assert_array_equal(predict_clips(model, clips, 8, 4, CPU, floor_db=60.0),
                                  predict_clips(model, clips, 8, 4, CPU))
