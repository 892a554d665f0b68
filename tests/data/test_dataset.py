"""soundtag.data.dataset: fixed-width crops and pads, repeatable random crops, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from soundtag.config import AudioConfig, LogMelConfig
from soundtag.data import Example, FeatureCache, FeatureDataset, collate_whole, examples_from, fit_width, make_loader
from soundtag.errors import AudioError

BINS = 8
WIDTHS = [30, 100, 57, 12, 100, 64, 5]


def ramp(frames: int, bins: int = BINS, start: float = 0.0) -> np.ndarray:
    """(bins, frames) whose column j holds start + j: any crop's offset can be read off."""
    return np.tile(np.arange(frames, dtype=np.float32) + start, (bins, 1))


# --- fit_width ------------------------------------------------------------------------------------


def test_crop_from_the_offset():
    out = fit_width(ramp(100), 40, offset=25)
    assert out.shape == (BINS, 40)
    np.testing.assert_array_equal(out[0], np.arange(25, 65))


def test_exact_width_is_unchanged():
    features = ramp(40)
    np.testing.assert_array_equal(fit_width(features, 40, 0), features)


def test_pad_repeat_tiles_the_clip():
    out = fit_width(ramp(3, start=1.0), 8, 0, "repeat")
    np.testing.assert_array_equal(out[0], [1, 2, 3, 1, 2, 3, 1, 2])


def test_pad_zeros():
    out = fit_width(ramp(3, start=1.0), 6, 0, "zeros")
    np.testing.assert_array_equal(out[0], [1, 2, 3, 0, 0, 0])


def test_pad_min_uses_the_clips_floor():
    features = ramp(3, start=-5.0)  # -5, -4, -3
    out = fit_width(features, 5, 0, "min")
    np.testing.assert_array_equal(out[0], [-5, -4, -3, -5, -5])


@pytest.mark.parametrize("pad_mode", ["repeat", "zeros", "min"])
@pytest.mark.parametrize("frames", [1, 7, 50, 51, 200])
def test_fit_width_always_gives_the_width(pad_mode, frames):
    features = np.random.default_rng(frames).standard_normal((BINS, frames)).astype(np.float32)
    out = fit_width(features, 50, offset=0, pad_mode=pad_mode)
    assert out.shape == (BINS, 50)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:, : min(frames, 50)], features[:, :50])


def test_fit_width_works_on_3d_arrays():
    features = np.ones((2, 4, 10), dtype=np.float32)
    assert fit_width(features, 16, 0).shape == (2, 4, 16)
    assert fit_width(features, 6, 2).shape == (2, 4, 6)


# --- the dataset ----------------------------------------------------------------------------------


@pytest.fixture
def cached(tmp_path):
    """A feature cache holding ramps of WIDTHS frames for stand-in files, and their examples."""
    cache = FeatureCache(tmp_path / "cache", AudioConfig(), LogMelConfig(n_mels=BINS))
    paths = []
    for i, width in enumerate(WIDTHS):
        path = tmp_path / "audio" / f"clip{i}.wav"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * (i + 1))
        cache.save(path, ramp(width, start=1000.0 * i))
        paths.append(path)
    return cache, examples_from(paths, targets=list(range(len(paths))))


def offset_of(item: torch.Tensor, index: int) -> int:
    return int(item[0, 0].item() - 1000.0 * index)


def test_examples_from_paths():
    examples = examples_from(["a/b.wav", Path("c/d.flac")], [3, 1])
    assert examples == [Example("a/b.wav", 3, "b.wav"), Example(str(Path("c/d.flac")), 1, "d.flac")]
    assert [e.target for e in examples_from(["x.wav", "y.wav"])] == [-1, -1]


def test_whole_items_are_the_cached_arrays(cached):
    cache, examples = cached
    dataset = FeatureDataset(cache, examples)
    assert len(dataset) == len(WIDTHS)
    for index, width in enumerate(WIDTHS):
        item, target = dataset[index]
        assert isinstance(item, torch.Tensor)
        assert item.shape == (BINS, width)
        assert target == index
        np.testing.assert_array_equal(item.numpy(), ramp(width, start=1000.0 * index))


def test_fixed_width_centre_crop_without_random_crop(cached):
    cache, examples = cached
    dataset = FeatureDataset(cache, examples, width=20)
    for index, width in enumerate(WIDTHS):
        item, _ = dataset[index]
        assert item.shape == (BINS, 20)
        if width > 20:
            assert offset_of(item, index) == (width - 20) // 2


def test_random_crops_are_deterministic_for_seed_epoch_index(cached):
    cache, examples = cached
    first = FeatureDataset(cache, examples, width=20, random_crop=True, seed=7)
    second = FeatureDataset(cache, examples, width=20, random_crop=True, seed=7)
    for epoch in range(3):
        first.set_epoch(epoch)
        second.set_epoch(epoch)
        for index in range(len(WIDTHS)):
            assert torch.equal(first[index][0], second[index][0])
            assert torch.equal(first[index][0], first[index][0])  # reading twice gives the same crop


def test_random_crops_change_across_epochs_and_seeds(cached):
    cache, examples = cached
    dataset = FeatureDataset(cache, examples, width=20, random_crop=True, seed=7)
    index = WIDTHS.index(100)  # 81 possible offsets
    offsets = []
    for epoch in range(8):
        dataset.set_epoch(epoch)
        offsets.append(offset_of(dataset[index][0], index))
    assert len(set(offsets)) > 1
    assert all(0 <= o <= 80 for o in offsets)

    dataset.set_epoch(0)
    other_seed = FeatureDataset(cache, examples, width=20, random_crop=True, seed=8)
    crops = [offset_of(dataset[i][0], i) for i in range(len(WIDTHS)) if WIDTHS[i] > 20]
    other = [offset_of(other_seed[i][0], i) for i in range(len(WIDTHS)) if WIDTHS[i] > 20]
    assert crops != other
    # two clips of the same length at the same epoch need not share their crop: the index matters
    first, second = [i for i, w in enumerate(WIDTHS) if w == 100]
    differ = []
    for epoch in range(6):
        dataset.set_epoch(epoch)
        differ.append(offset_of(dataset[first][0], first) != offset_of(dataset[second][0], second))
    assert any(differ)


@pytest.mark.parametrize("pad_mode", ["repeat", "zeros", "min"])
def test_short_clips_are_padded(cached, pad_mode):
    cache, examples = cached
    dataset = FeatureDataset(cache, examples, width=40, random_crop=True, pad_mode=pad_mode)
    index = WIDTHS.index(5)
    item, _ = dataset[index]
    assert item.shape == (BINS, 40)
    np.testing.assert_array_equal(item.numpy(), fit_width(ramp(5, start=1000.0 * index), 40, 0, pad_mode))


def test_invalid_pad_mode(cached):
    cache, examples = cached
    with pytest.raises(ValueError, match="pad_mode"):
        FeatureDataset(cache, examples, width=10, pad_mode="reflect")


def test_missing_cache_entry_is_an_audio_error_naming_the_file(cached, tmp_path):
    cache, _ = cached
    path = tmp_path / "audio" / "uncached.wav"
    path.write_bytes(b"y")
    dataset = FeatureDataset(cache, examples_from([path]))
    with pytest.raises(AudioError, match="no cached features") as info:
        dataset[0]
    assert str(path) in str(info.value)


# --- loaders --------------------------------------------------------------------------------------


def test_fixed_width_loader_batches_tensors(cached):
    cache, examples = cached
    loader = make_loader(FeatureDataset(cache, examples, width=16), batch_size=3)
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(3, BINS, 16), (3, BINS, 16), (1, BINS, 16)]
    assert torch.cat([b[1] for b in batches]).tolist() == list(range(len(WIDTHS)))
    assert batches[0][0].dtype == torch.float32


def test_shuffled_loader_is_repeatable_for_a_seed(cached):
    cache, examples = cached
    dataset = FeatureDataset(cache, examples, width=16)

    def order(seed: int) -> list[int]:
        return torch.cat([t for _, t in make_loader(dataset, batch_size=2, shuffle=True, seed=seed)]).tolist()

    assert order(3) == order(3)
    assert sorted(order(3)) == list(range(len(WIDTHS)))
    assert any(order(3) != order(s) for s in (4, 5, 6))


def test_whole_clip_loader_keeps_lengths(cached):
    cache, examples = cached
    loader = make_loader(FeatureDataset(cache, examples), batch_size=4)
    batches = list(loader)
    items = [item for batch, _ in batches for item in batch]
    targets = torch.cat([t for _, t in batches])
    assert isinstance(batches[0][0], list)
    assert [item.shape[-1] for item in items] == WIDTHS
    assert targets.tolist() == list(range(len(WIDTHS)))


def test_collate_whole():
    batch = [(torch.zeros(2, 3), 1), (torch.ones(2, 5), 0)]
    items, targets = collate_whole(batch)
    assert [i.shape for i in items] == [(2, 3), (2, 5)]
    assert torch.equal(targets, torch.tensor([1, 0]))


# --- multi-label targets ----------------------------------------------------------------------------


def multi_label_examples(examples: list[Example]) -> list[Example]:
    """The examples with label sets: several classes, one, none."""
    sets = [(0, 2), (1,), (), (0, 1, 2), (2,), (), (1, 2)]
    return [Example(e.path, t[0] if len(t) == 1 else -1, e.fname, e.weight, t) for e, t in zip(examples, sets)]


def test_multi_label_items_are_float_multi_hot_vectors(cached):
    cache, examples = cached
    examples = multi_label_examples(examples)
    dataset = FeatureDataset(cache, examples, width=16, multi_label=True, n_classes=3)
    for index, example in enumerate(examples):
        item, target = dataset[index]
        assert item.shape == (BINS, 16)
        assert target.dtype == torch.float32 and target.shape == (3,)
        assert target.nonzero().flatten().tolist() == sorted(example.targets)
    single = FeatureDataset(cache, examples, width=16)
    assert [single[i][1] for i in range(len(examples))] == [e.target for e in examples]


def test_multi_label_batches_stack_into_a_matrix(cached):
    cache, examples = cached
    examples = multi_label_examples(examples)
    for width in (16, None):
        loader = make_loader(FeatureDataset(cache, examples, width=width, multi_label=True, n_classes=3), batch_size=4)
        targets = torch.cat([t for _, t in loader])
        assert targets.shape == (len(examples), 3) and targets.dtype == torch.float32
        assert targets[0].tolist() == [1.0, 0.0, 1.0] and targets[2].tolist() == [0.0, 0.0, 0.0]


def test_a_multi_label_dataset_needs_n_classes_that_hold_every_target(cached):
    cache, examples = cached
    with pytest.raises(ValueError, match="needs n_classes"):
        FeatureDataset(cache, multi_label_examples(examples), multi_label=True)
    with pytest.raises(ValueError, match="outside 0..1"):
        FeatureDataset(cache, multi_label_examples(examples), multi_label=True, n_classes=2)


def test_collate_whole_stacks_multi_hot_targets():
    batch = [(torch.zeros(2, 3), torch.tensor([1.0, 0.0])), (torch.ones(2, 5), torch.tensor([1.0, 1.0]))]
    items, targets = collate_whole(batch)
    assert [i.shape for i in items] == [(2, 3), (2, 5)]
    assert torch.equal(targets, torch.tensor([[1.0, 0.0], [1.0, 1.0]]))


def test_examples_keep_their_positional_fields():
    assert Example("a.wav", 2, "a.wav", 0.5) == Example("a.wav", 2, "a.wav", 0.5, ())
    assert Example("a.wav").targets == ()


# --- silence-aware crops ----------------------------------------------------------------------------


def crops_by_epoch(dataset: FeatureDataset, index: int, epochs: int) -> list[np.ndarray]:
    crops = []
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        crops.append(dataset[index][0].numpy())
    return crops


def test_a_random_crop_share_of_one_gives_the_uniform_crops(cached):
    cache, examples = cached
    uniform = FeatureDataset(cache, examples, width=20, random_crop=True, seed=7)
    share_one = FeatureDataset(cache, examples, width=20, random_crop=True, seed=7, activity_floor_db=40.0,
                               random_share=1.0)
    for index, frames in enumerate(WIDTHS):
        for epoch, (a, b) in enumerate(zip(crops_by_epoch(uniform, index, 4), crops_by_epoch(share_one, index, 4))):
            np.testing.assert_array_equal(a, b)
            if frames > 20:  # the crops of earlier versions: one uniform draw from (seed, epoch, index)
                assert offset_of(torch.from_numpy(a), index) == np.random.default_rng([7, epoch, index]).integers(
                    0, frames - 20 + 1)


@pytest.fixture
def burst(cached, tmp_path):
    """The cache, and the example of a clip at -90 dB but for a 0 dB burst over frames 60 to 69 of 100."""
    cache, _ = cached
    path = tmp_path / "audio" / "burst.wav"
    path.write_bytes(b"burst")
    features = np.full((BINS, 100), -90.0, dtype=np.float32)
    features[:, 60:70] = 0.0
    cache.save(path, features)
    return cache, examples_from([path])


def test_activity_crops_hold_the_clips_energy_and_repeat_for_a_seed(burst):
    cache, examples = burst
    dataset = FeatureDataset(cache, examples, width=20, random_crop=True, seed=3, activity_floor_db=40.0,
                             random_share=0.0)
    crops = crops_by_epoch(dataset, 0, 30)
    assert all((crop == 0.0).any() for crop in crops)
    again = FeatureDataset(cache, examples, width=20, random_crop=True, seed=3, activity_floor_db=40.0,
                           random_share=0.0)
    for a, b in zip(crops, crops_by_epoch(again, 0, 30)):
        np.testing.assert_array_equal(a, b)


def test_a_share_of_crops_stays_uniform(burst):
    cache, examples = burst
    dataset = FeatureDataset(cache, examples, width=20, random_crop=True, seed=3, activity_floor_db=40.0,
                             random_share=0.5)
    holding = [(crop == 0.0).any() for crop in crops_by_epoch(dataset, 0, 60)]
    assert 0 < holding.count(False) < holding.count(True)  # uniform crops miss the burst 52 times in 81
