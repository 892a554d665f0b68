"""soundtag.data.variants: the bank of augmented variants is made once, reused, keyed by every setting that
changes it, read by the training set epoch by epoch, and with the defaults (chain off) nothing changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from soundtag.config import AudioConfig, ChainAugmentConfig, LogMelConfig, load_config
from soundtag.data import FeatureCache, LabelMap, cache_features, examples_from, read_corpus
from soundtag.data.dataset import FeatureDataset
from soundtag.data.variants import augment_chain, bank_key, cache_variants, open_bank, pitched_clips
from soundtag.errors import ConfigError, SoundtagError
from soundtag.training.run import chain_variants
from tests.helpers import sine
from tests.training.tiny_run import assert_same_run, shared_cache_dir, single_thread_torch, tiny_config

AUDIO = AudioConfig(sample_rate=16000)
FEATURES = LogMelConfig(n_mels=16, n_fft=512, hop_length=256)
ON = ChainAugmentConfig(variants=2, eq=1.0, saturation=0.5, band_limit=0.5)


@pytest.fixture(scope="module")
def clips(demo_root):
    """Three demo train clips and the corpus's classes."""
    corpus = read_corpus(demo_root)
    return corpus.train[:3], corpus.labels


def bank_of(tmp_path: Path, clips, chain: ChainAugmentConfig = ON):
    chosen, labels = clips
    return open_bank(tmp_path / "cache", AUDIO, FEATURES, chain, chosen, labels)


def paths_of(clips) -> list[str]:
    return [str(c.path) for c in clips[0]]


# --- the bank -------------------------------------------------------------------------------------


def test_a_bank_is_made_once_then_reused(tmp_path, clips):
    bank = bank_of(tmp_path, clips)
    first = cache_variants(bank, paths_of(clips), num_workers=1, progress=False)
    assert (first.n_extracted, first.n_cached, first.failures) == (3, 0, [])
    again = cache_variants(bank_of(tmp_path, clips), paths_of(clips), num_workers=1, progress=False)
    assert (again.n_extracted, again.n_cached) == (0, 3)
    clean = FeatureCache(tmp_path / "cache", AUDIO, FEATURES)
    cache_features(paths_of(clips), AUDIO, FEATURES, clean, num_workers=1, progress=False)
    path = paths_of(clips)[0]
    one, two = (cache.load(path) for cache in bank.caches())
    assert one.shape[0] == FEATURES.n_mels and np.isfinite(one).all() and np.isfinite(two).all()
    assert not np.array_equal(one, two) and not np.array_equal(one, clean.load(path))


def test_more_variants_add_to_the_ones_made(tmp_path, clips):
    cache_variants(bank_of(tmp_path, clips), paths_of(clips), num_workers=1, progress=False)
    made = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "variants").rglob("*.npy")}
    more = bank_of(tmp_path, clips, dataclasses.replace(ON, variants=3, clean_share=0.1))
    assert more.root == bank_of(tmp_path, clips).root
    cache_variants(more, paths_of(clips), num_workers=1, progress=False)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in made.items())
    assert all(more.caches()[2].contains(path) for path in paths_of(clips))


@pytest.mark.parametrize("change", [{"eq_db": 3.0}, {"seed": 1}, {"saturation": 0.25}, {"snr_db": [0.0, 10.0]}])
def test_a_chain_setting_that_changes_the_values_starts_another_bank(change):
    assert bank_key(dataclasses.replace(ON, **change), AUDIO, FEATURES, None) != bank_key(ON, AUDIO, FEATURES, None)


def test_the_audio_features_and_noise_pool_key_the_bank_too():
    key = bank_key(ON, AUDIO, FEATURES, None)
    assert bank_key(ON, AudioConfig(sample_rate=22050), FEATURES, None) != key
    assert bank_key(ON, AUDIO, LogMelConfig(n_mels=20, n_fft=512, hop_length=256), None) != key
    pools = [np.zeros(3, np.float32), np.ones(3, np.float32)]
    assert bank_key(ON, AUDIO, FEATURES, pools[0]) != bank_key(ON, AUDIO, FEATURES, pools[1])


def test_a_changed_noise_folder_starts_another_bank(tmp_path, clips, write_audio):
    write_audio("noise/hum.wav", 0.1 * sine(50, 1.0, 16000))
    chain = ChainAugmentConfig(noise=1.0, noise_folder=str(tmp_path / "noise"))
    before = bank_of(tmp_path, clips, chain)
    assert before.root.name.startswith("logmel-") and (before.root / "noise.npy").is_file()
    write_audio("noise/hiss.wav", 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32))
    assert bank_of(tmp_path, clips, chain).root != before.root


def test_an_empty_noise_folder_is_refused(tmp_path, clips):
    (tmp_path / "quiet").mkdir()
    with pytest.raises(SoundtagError, match="noise_folder holds no audio"):
        bank_of(tmp_path, clips, ChainAugmentConfig(noise=1.0, noise_folder=str(tmp_path / "quiet")))


def test_the_corpus_noise_pool_is_made_of_its_clips_quiet_parts(tmp_path, clips):
    bank = bank_of(tmp_path, clips, ChainAugmentConfig(noise=1.0))
    pool = np.load(bank.root / "noise.npy")
    assert 0 < len(pool) and np.isfinite(pool).all()


def test_pitched_classes_choose_the_clips_and_name_their_entries(tmp_path, clips):
    chosen, labels = clips
    label = chosen[0].labels[0]
    picked = pitched_clips(chosen, ChainAugmentConfig(pitch=1.0, pitched_classes=[label]))
    assert str(chosen[0].path) in picked and all(label in c.labels for c in chosen if str(c.path) in picked)
    assert pitched_clips(chosen, ChainAugmentConfig(pitch=1.0)) == set(paths_of(clips))
    with_label = bank_of(tmp_path, clips, ChainAugmentConfig(pitch=1.0, pitched_classes=[label])).caches()[0]
    every = bank_of(tmp_path, clips, ChainAugmentConfig(pitch=1.0)).caches()[0]
    other = next((c for c in chosen if label not in c.labels), None)
    if other is not None:
        assert with_label.entry(other.path).name != every.entry(other.path).name


def test_an_unknown_pitched_class_is_refused(tmp_path, clips):
    with pytest.raises(SoundtagError, match="pitched_classes: Kazoo not among"):
        bank_of(tmp_path, clips, ChainAugmentConfig(pitch=1.0, pitched_classes=["Kazoo"]))


# --- the chain ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["[0.8, 0.2]", "[0.5]", "[0.2, 0.4, 0.6]"])
def test_a_range_setting_must_be_low_then_high(value):
    with pytest.raises(ConfigError, match=r"^train.augment.chain.rt60 must be \[low, high\] with low <= high, got"):
        load_config(None, [f"train.augment.chain.rt60={value}"])


def test_every_ingredient_is_off_by_default_and_one_override_turns_it_on():
    assert not load_config(None).train.augment.chain.enabled
    chain = load_config(None, ["train.augment.chain.codec=0.3"]).train.augment.chain
    assert chain.enabled and chain.codec == 0.3 and chain.variants == 4


def test_a_chain_is_seeded_and_each_ingredient_draws_apart():
    signal = sine(440, 0.5, 16000) + 0.01 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)

    def run(chain: ChainAugmentConfig, seed: int = 0, pitched: bool = True) -> np.ndarray:
        return augment_chain(signal, np.random.default_rng(seed), chain, 16000, None, None, pitched)

    eq = ChainAugmentConfig(eq=1.0)
    np.testing.assert_array_equal(run(eq), run(eq))
    assert not np.array_equal(run(eq), run(eq, seed=1))
    # an ingredient that is on but does not apply (pitch, to an unpitched clip) leaves the others' draws alone
    np.testing.assert_array_equal(run(dataclasses.replace(eq, pitch=1.0), pitched=False), run(eq))
    np.testing.assert_array_equal(run(ChainAugmentConfig()), signal)


def test_every_ingredient_on_gives_a_finite_signal(tmp_path, clips):
    chain = ChainAugmentConfig(**{name: 1.0 for name in ChainAugmentConfig.INGREDIENTS}, rirs=2, rt60=[0.1, 0.2])
    bank = bank_of(tmp_path, clips, chain)
    signal = sine(440, 0.5, 16000)
    out = bank.augment(paths_of(clips)[0], signal, 0)
    assert np.isfinite(out).all() and 0.3 * len(signal) < len(out) < 1.3 * len(signal)  # stretched at most 15 %


# --- the training set -----------------------------------------------------------------------------


@pytest.fixture
def three_caches(tmp_path):
    """A clean cache and two variant caches of 6 stand-in clips: ramps offset by 0, 100 and 200."""
    caches = [FeatureCache(tmp_path / name, AudioConfig(), LogMelConfig(n_mels=4)) for name in ("clean", "v0", "v1")]
    paths = []
    for i in range(6):
        path = tmp_path / "audio" / f"clip{i}.wav"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * (i + 1))
        paths.append(path)
        for shift, cache in enumerate(caches):
            cache.save(path, np.tile(np.arange(50, dtype=np.float32) + 100 * shift, (4, 1)))
    return caches, examples_from(paths, list(range(6)))


def test_a_dataset_reads_a_variant_in_the_epochs_that_draw_one(three_caches):
    (clean, *variants), examples = three_caches
    dataset = FeatureDataset(clean, examples, width=10, random_crop=True, seed=3, variants=variants, clean_share=0.4)
    plain = FeatureDataset(clean, examples, width=10, random_crop=True, seed=3)
    sources = []
    for epoch in range(8):
        dataset.set_epoch(epoch)
        plain.set_epoch(epoch)
        for index in range(len(examples)):
            item, crop = dataset[index][0], plain[index][0]
            assert torch.equal(item, dataset[index][0])  # the same draw when read again
            source = int(item[0, 0]) // 100
            sources.append(source)
            assert torch.equal(item - 100 * source, crop)  # the variant's draw leaves the crop as it was
    assert set(sources) == {0, 1, 2} and 0.25 < sources.count(0) / len(sources) < 0.55


def test_a_missing_variant_falls_back_to_the_clean_features(three_caches):
    (clean, *variants), examples = three_caches
    for variant in variants:
        variant.entry(examples[0].path).unlink()
    dataset = FeatureDataset(clean, examples, variants=variants, clean_share=0.0)
    assert int(dataset[0][0][0, 0]) == 0 and int(dataset[1][0][0, 0]) in (100, 200)


# --- training -------------------------------------------------------------------------------------


def test_with_the_defaults_no_variants_are_made(tmp_path, clips):
    config = tiny_config(tmp_path / "cache")
    assert not config.train.augment.chain.enabled
    assert chain_variants(config, clips[0], LabelMap(clips[1]), progress=False) == []
    assert not (tmp_path / "cache" / "variants").exists()


@pytest.fixture(scope="module")
def feature_cache_dir(tmp_path_factory) -> Path:
    """The classifier tests' shared feature cache (the demo's clean features are extracted once)."""
    return shared_cache_dir(tmp_path_factory)


def test_chain_settings_with_every_ingredient_off_train_exactly_as_the_defaults(tmp_path, feature_cache_dir):
    inert = ["train.augment.chain.variants=7", "train.augment.chain.clean_share=0.1", "train.augment.chain.seed=4",
             "train.augment.chain.eq_db=3"]
    with single_thread_torch():
        from soundtag.training import start_run

        start_run(tiny_config(feature_cache_dir, "train.epochs=1"), tmp_path / "plain", progress=False)
        start_run(tiny_config(feature_cache_dir, "train.epochs=1", *inert), tmp_path / "inert", progress=False)
    assert_same_run(tmp_path / "plain", tmp_path / "inert")


def test_a_run_with_chain_augmentation_trains_on_its_variants(tmp_path, feature_cache_dir):
    config = tiny_config(feature_cache_dir, "train.epochs=1", "train.augment.chain.eq=1",
                         "train.augment.chain.variants=2")
    with single_thread_torch():
        from soundtag.training import start_run

        result, prepared = start_run(config, tmp_path / "run", progress=False)
    assert len(prepared.data.variants) == 2 and result.epochs_run == 1
    every = [c.path for c in prepared.data.train + prepared.data.val]
    assert all(variant.contains(path) for variant in prepared.data.variants for path in every)
