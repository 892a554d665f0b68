"""The convolutional autoencoder and its latents: shapes for any input size, the stored input
normalisation, batch == single, that it can learn, exact latents files, and a tiny real run.

The unit tests use a synthetic feature cache (no audio); the end-to-end test trains for two epochs
on six demo clips copied into a temporary corpus (one of them renamed with non-ASCII characters).
"""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from soundtag.config import AudioConfig, LogMelConfig, config_from_dict, load_config
from soundtag.data import FeatureCache, read_corpus
from soundtag.errors import SoundtagError
from soundtag.labels.autoencoder import (
    LATENTS_FILE,
    AutoencoderTrainer,
    ConvAutoencoder,
    Latents,
    ResizedClips,
    encode_clips,
    input_statistics,
    train_autoencoder,
)
from soundtag.training import load_checkpoint
from tests.helpers import read_rows, write_rows
from tests.training.tiny_run import DEMO_CONFIG, single_thread_torch

BINS, FRAMES, LATENT = 12, 20, 8


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


def tiny_model(bins: int = BINS, frames: int = FRAMES, channels=(4, 8), latent: int = LATENT, seed: int = 0
               ) -> ConvAutoencoder:
    torch.manual_seed(seed)
    return ConvAutoencoder(bins, frames, list(channels), latent)


def inputs(n: int, bins: int = BINS, frames: int = FRAMES, seed: int = 0) -> torch.Tensor:
    """Spectrogram-like inputs: a per-clip level plus noise, in dB-ish units far from N(0, 1)."""
    generator = torch.Generator().manual_seed(seed)
    level = -40 + 10 * torch.randn(n, 1, 1, generator=generator)
    return level + 5 * torch.randn(n, bins, frames, generator=generator)


def synthetic_cache(tmp_path, widths: list[int], bins: int = BINS, seed: int = 0) -> tuple[FeatureCache, list[str]]:
    """A feature cache holding one random (bins, width) array per width (no audio is decoded)."""
    cache = FeatureCache(tmp_path / "cache", AudioConfig(), LogMelConfig(n_mels=bins))
    rng = np.random.default_rng(seed)
    audio = tmp_path / "audio"
    audio.mkdir(exist_ok=True)
    paths = []
    for i, width in enumerate(widths):
        path = audio / f"clip{i}.wav"
        path.write_bytes(path.name.encode())  # the cache key needs a file; its content is never read
        cache.save(path, (rng.normal(size=(bins, width)) * 3 - 20 + i).astype(np.float32))
        paths.append(str(path))
    return cache, paths


# --- the model ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bins", "frames", "channels"), [(64, 128, (4, 8)), (65, 101, (4, 8, 8)), (513, 439, (2, 4)),
                                                          (7, 5, (4,)), (33, 17, (4, 4, 4, 4))])
def test_reconstruction_has_the_input_shape_for_any_size(bins, frames, channels):
    model = tiny_model(bins, frames, channels)
    x = inputs(2, bins, frames)
    model.train()
    assert model(x).shape == (2, bins, frames)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, bins, frames)
        assert model.encode(x).shape == (2, LATENT)
        assert model.decode(model.encode(x)).shape == (2, bins, frames)


def test_encode_gives_one_latent_vector_per_clip():
    model = tiny_model(latent=5).eval()
    with torch.no_grad():
        latents = model.encode(inputs(3))
    assert latents.shape == (3, 5) and latents.dtype == torch.float32
    assert torch.isfinite(latents).all()
    assert not torch.allclose(latents[0], latents[1])  # different clips, different codes


def test_encode_applies_the_stored_mean_and_std():
    """encode with (mean, std) is encode with (0, 1) of the standardised input, and differs from it."""
    model = tiny_model().eval()
    x = inputs(3)
    with torch.no_grad():
        plain = model.encode(x)
        plain_of_standardised = model.encode((x + 40.0) / 12.5)
        model.input_mean.fill_(-40.0)
        model.input_std.fill_(12.5)
        standardised = model.encode(x)
    torch.testing.assert_close(standardised, plain_of_standardised, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(standardised, plain, atol=1e-3)
    torch.testing.assert_close(model.normalise(x), (x + 40.0) / 12.5)


def test_the_normalisation_is_saved_with_the_weights(tmp_path):
    """A fresh model loaded from the state_dict reproduces the latents bit for bit."""
    model = tiny_model(seed=0)
    model.input_mean.fill_(-37.5)
    model.input_std.fill_(4.25)
    model.train()
    with torch.no_grad():
        model(inputs(4, seed=1))  # move the batch-norm running statistics off their defaults
    model.eval()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    state = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert {"input_mean", "input_std"} <= set(state)
    again = tiny_model(seed=1)  # other initial weights, default normalisation
    again.load_state_dict(state)
    again.eval()
    assert again.input_mean.item() == -37.5 and again.input_std.item() == 4.25
    x = inputs(3, seed=2)
    with torch.no_grad():
        assert torch.equal(again.encode(x), model.encode(x))
        assert torch.equal(again(x), model(x))


def test_encode_of_a_batch_equals_each_clip_alone_in_eval_mode():
    model = tiny_model()
    model.input_mean.fill_(-40.0)
    model.input_std.fill_(10.0)
    model.train()
    with torch.no_grad():
        model(inputs(6, seed=3))  # running statistics that are not the defaults
    model.eval()
    x = inputs(5, seed=4)
    with torch.no_grad():
        batched = model.encode(x)
        for i in range(len(x)):
            torch.testing.assert_close(batched[i:i + 1], model.encode(x[i:i + 1]), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model(x)[2:3], model(x[2:3]), rtol=1e-5, atol=1e-5)


def test_a_few_steps_on_a_fixed_batch_reduce_the_reconstruction_error():
    model = tiny_model(channels=(4, 8), latent=8)
    x = inputs(4, seed=5)
    model.input_mean.fill_(float(x.mean()))
    model.input_std.fill_(float(x.std()))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(40):
        loss = F.mse_loss(model(x), model.normalise(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], losses[::10]


# --- the dataset, statistics and the trainer ------------------------------------------------------


def test_resized_clips_have_the_fixed_width(tmp_path):
    cache, paths = synthetic_cache(tmp_path, [5, 20, 63])
    dataset = ResizedClips(cache, paths, 20)
    assert len(dataset) == 3
    for path, item in zip(paths, dataset):
        assert item.shape == (BINS, 20) and item.dtype == torch.float32
        original = cache.load(path)
        # resized along time only: each row keeps its own level (the rows differ by design)
        np.testing.assert_allclose(item.mean(dim=1).numpy(), original.mean(axis=1), atol=2.5)
    assert torch.equal(dataset[1], torch.from_numpy(cache.load(paths[1])))  # already 20 wide: unchanged
    constant = tmp_path / "audio" / "constant.wav"
    constant.write_bytes(b"constant")
    cache.save(constant, np.tile(np.arange(BINS, dtype=np.float32)[:, None], (1, 7)))
    resized = ResizedClips(cache, [str(constant)], 20)[0]
    torch.testing.assert_close(resized, torch.arange(BINS, dtype=torch.float32)[:, None].expand(BINS, 20))


def test_a_clip_without_cached_features_is_an_error_naming_it(tmp_path):
    cache, paths = synthetic_cache(tmp_path, [8])
    with pytest.raises(SoundtagError, match="missing-clip.wav"):
        ResizedClips(cache, [str(tmp_path / "missing-clip.wav")], 8)[0]


def test_input_statistics_equal_numpy_over_the_dataset(tmp_path):
    cache, paths = synthetic_cache(tmp_path, [int(w) for w in np.random.default_rng(1).integers(3, 30, 45)], bins=4)
    dataset = ResizedClips(cache, paths, 9)  # 45 clips: more than one batch of 32
    values = np.stack([item.numpy() for item in dataset]).astype(np.float64)
    mean, std = input_statistics(dataset)
    assert mean == pytest.approx(values.mean(), rel=1e-9)
    assert std == pytest.approx(values.std(), rel=1e-6)


def test_input_statistics_of_constant_inputs_keep_a_positive_std(tmp_path):
    cache = FeatureCache(tmp_path / "cache", AudioConfig(), LogMelConfig(n_mels=3))
    path = tmp_path / "flat.wav"
    path.write_bytes(b"flat")
    cache.save(path, np.full((3, 10), -100.0, dtype=np.float32))
    mean, std = input_statistics(ResizedClips(cache, [str(path)], 10))
    assert mean == -100.0 and 0 < std <= 1e-6


def ae_config(epochs: int = 3, lr: float = 1e-2):
    return config_from_dict({"seed": 5, "train": {"device": "cpu"},
                             "autoencoder": {"latent_dim": LATENT, "channels": [4, 8], "epochs": epochs,
                                             "batch_size": 4, "lr": lr, "patience": 10, "input_frames": FRAMES}})


def test_the_trainer_learns_and_its_validation_loss_is_the_mean_mse_per_clip(tmp_path):
    cache, paths = synthetic_cache(tmp_path, [10, 20, 30, 15, 25, 18, 22, 12, 40, 19])
    train, val = ResizedClips(cache, paths[:7], FRAMES), ResizedClips(cache, paths[7:], FRAMES)
    model = tiny_model()
    mean, std = input_statistics(train)
    model.input_mean.fill_(mean)
    model.input_std.fill_(std)
    (tmp_path / "run").mkdir()
    trainer = AutoencoderTrainer(ae_config(epochs=4), model, train, val, tmp_path / "run", progress=False)
    result = trainer.fit()
    losses = [row["loss"] for row in result.history]
    val_losses = [row["val_loss"] for row in result.history]
    assert result.epochs_run == 4 and losses[-1] < losses[0]
    assert result.best_epoch == int(np.argmin(val_losses)) + 1  # the best epoch has the lowest validation loss
    model.eval()
    with torch.no_grad():
        by_hand = np.mean([F.mse_loss(model(clip[None]), model.normalise(clip[None])).item() for clip in val])
    assert trainer.validation_loss() == pytest.approx(by_hand, rel=1e-5)


def test_encode_clips_gives_the_latents_of_every_clip_in_order_whatever_the_batch_size(tmp_path):
    cache, paths = synthetic_cache(tmp_path, [10, 20, 30, 15, 25])
    dataset = ResizedClips(cache, paths, FRAMES)
    model = tiny_model()
    model.train()  # encode_clips must switch to eval itself
    first = encode_clips(model, dataset, torch.device("cpu"), batch_size=2)
    assert not model.training
    assert first.shape == (5, LATENT) and first.dtype == np.float32
    np.testing.assert_allclose(encode_clips(model, dataset, torch.device("cpu"), batch_size=5), first, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(model.encode(dataset[3][None])[0].numpy(), first[3], atol=1e-5)


def test_the_model_on_the_device_gives_the_latents_of_the_cpu(device):
    model = tiny_model(65, 101, (4, 8))
    model.input_mean.fill_(-40.0)
    model.input_std.fill_(10.0)
    model.eval()
    x = inputs(3, 65, 101)
    with torch.no_grad():
        expected = model.encode(x)
        moved = model.to(device)
        assert moved.input_mean.device.type == device.type  # the buffers travel with the weights
        got = moved.encode(x.to(device)).cpu()
    # TF32 convolutions on CUDA round to ~1e-3 relative
    torch.testing.assert_close(got, expected, rtol=1e-2 if device.type == "cuda" else 1e-5, atol=1e-3)


# --- latents files --------------------------------------------------------------------------------


def some_latents() -> Latents:
    fnames = np.array(["a.wav", "Ünïcödé ñame.flac", "日本語/音.wav", "emoji-🎺.ogg"])
    labels = np.array(["Trumpet", "Cello", "Bass_drum", "Trumpet"])
    vectors = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    vectors[0, 0] = np.float32(1e-40)  # a subnormal survives too
    return Latents(fnames, labels, np.array([True, False, True, False]), vectors)


def test_latents_round_trip_exactly(tmp_path):
    latents = some_latents()
    latents.save(tmp_path / "latents.npz")
    loaded = Latents.load(tmp_path / "latents.npz")
    assert loaded.fnames.tolist() == latents.fnames.tolist()
    assert loaded.labels.tolist() == latents.labels.tolist()
    assert loaded.verified.dtype == np.bool_ and loaded.verified.tolist() == [True, False, True, False]
    assert loaded.vectors.dtype == np.float32 and loaded.vectors.shape == (4, 6)
    assert np.array_equal(loaded.vectors, latents.vectors)


def test_a_latents_file_holds_no_pickled_objects(tmp_path):
    path = tmp_path / "latents.npz"
    some_latents().save(path)
    assert sorted(zipfile.ZipFile(path).namelist()) == ["fnames.npy", "labels.npy", "vectors.npy", "verified.npy"]
    with np.load(path, allow_pickle=False) as data:
        for name in data.files:
            assert data[name].dtype.kind in "Ubf", (name, data[name].dtype)  # no object arrays


def test_saving_over_a_latents_file_replaces_it(tmp_path):
    path = tmp_path / "latents.npz"
    some_latents().save(path)
    smaller = Latents(np.array(["x"]), np.array(["y"]), np.array([True]), np.ones((1, 2), np.float32))
    smaller.save(path)
    assert Latents.load(path).fnames.tolist() == ["x"]
    assert [p.name for p in tmp_path.iterdir()] == ["latents.npz"]  # no temporary file left behind


def _truncated(path):
    some_latents().save(path)
    path.write_bytes(path.read_bytes()[:200])


def _object_arrays(path):
    with open(path, "wb") as handle:
        np.savez(handle, fnames=np.array(["a"], dtype=object), labels=np.array(["x"]), verified=np.array([True]),
                 vectors=np.zeros((1, 2), np.float32))


def _missing_key(path):
    with open(path, "wb") as handle:
        np.savez(handle, fnames=np.array(["a"]))


def _npy(path):
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))


def _misaligned(path):
    with open(path, "wb") as handle:
        np.savez(handle, fnames=np.array(["a", "b"]), labels=np.array(["x", "y"]), verified=np.array([True, False]),
                 vectors=np.zeros((1, 2), np.float32))


@pytest.mark.parametrize("write", [
    pytest.param(lambda p: p.write_bytes(b"not a zip file at all " * 20), id="junk"),
    pytest.param(_object_arrays, id="object-arrays"),
    pytest.param(_missing_key, id="missing-key"),
    pytest.param(lambda p: None, id="missing-file"),
    pytest.param(lambda p: p.write_bytes(b""), id="empty"),
    pytest.param(_truncated, id="truncated"),
    pytest.param(_npy, id="npy-not-npz"),
    pytest.param(_misaligned, id="misaligned-rows"),
])
def test_loading_something_else_is_an_error_naming_the_path(tmp_path, write):
    path = tmp_path / "wrong-latents.npz"
    write(path)
    with pytest.raises(SoundtagError, match="wrong-latents.npz"):
        Latents.load(path)


# --- end to end: six demo clips, two epochs ---------------------------------------------------------

TINY_AE = ["features.n_mels=32", "data.num_workers=1", "autoencoder.latent_dim=8", "autoencoder.channels=[4,8]",
           "autoencoder.epochs=2", "autoencoder.input_frames=32", "autoencoder.batch_size=4",
           "autoencoder.val_fraction=0.2", "autoencoder.lr=0.001"]


@pytest.fixture(scope="module")
def mini_corpus(tmp_path_factory, demo_root):
    """Six demo train clips (verified and not), the fourth renamed with non-ASCII characters."""
    root = tmp_path_factory.mktemp("mini-corpus")
    (root / "audio_train").mkdir()
    rows = read_rows(demo_root / "train.csv")
    chosen = [r for r in rows if r["manually_verified"] == "1"][:3]
    chosen += [r for r in rows if r["manually_verified"] == "0"][:3]
    table = []
    for i, row in enumerate(chosen):
        name = f"clip-é-ü-{i}.flac" if i == 3 else row["fname"]
        shutil.copyfile(demo_root / "audio_train" / row["fname"], root / "audio_train" / name)
        table.append([name, row["label"], row["manually_verified"]])
    write_rows(root / "train.csv", ["fname", "label", "manually_verified"], table)
    return root


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory, mini_corpus):
    cache = tmp_path_factory.mktemp("ae-cache")
    config = load_config(DEMO_CONFIG, [*TINY_AE, f"data.corpus={mini_corpus}", f"data.cache_dir={cache}"])
    run_dir = tmp_path_factory.mktemp("ae-run")
    with single_thread_torch():
        run = train_autoencoder(config, run_dir, progress=False)
    return config, run_dir, run


def test_train_autoencoder_writes_the_latents_of_every_train_clip(ae_run, mini_corpus):
    config, run_dir, run = ae_run
    latents = Latents.load(run_dir / LATENTS_FILE)
    rows = read_rows(mini_corpus / "train.csv")
    assert latents.fnames.tolist() == [row["fname"] for row in rows]
    assert latents.labels.tolist() == [row["label"] for row in rows]
    assert latents.verified.tolist() == [row["manually_verified"] == "1" for row in rows]
    assert latents.vectors.shape == (6, 8) and latents.vectors.dtype == np.float32
    assert np.isfinite(latents.vectors).all()
    assert len({tuple(v) for v in latents.vectors}) == 6
    assert [c.fname for c in run.clips] == [c.fname for c in read_corpus(mini_corpus).train]
    assert run.result.epochs_run == 2 and run.model.shape == (32, 32)
    assert np.array_equal(run.latents.vectors, latents.vectors)


def test_the_best_checkpoint_alone_reproduces_the_latents(ae_run):
    """The weights file carries the input normalisation: a fresh model built from it gives the same latents."""
    config, run_dir, run = ae_run
    model = ConvAutoencoder(32, 32, config.autoencoder.channels, config.autoencoder.latent_dim)
    model.load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
    assert model.input_std.item() != 1.0 and model.input_mean.item() != 0.0
    vectors = encode_clips(model, run.dataset, torch.device("cpu"))
    assert np.array_equal(vectors, Latents.load(run_dir / LATENTS_FILE).vectors)


def test_a_rerun_of_the_same_config_reuses_the_run(ae_run):
    config, run_dir, _ = ae_run
    before = Latents.load(run_dir / LATENTS_FILE)
    checkpoint = (run_dir / "last.pt").read_bytes()
    with single_thread_torch():
        again = train_autoencoder(config, run_dir, progress=False)
    assert again.result.epochs_run == 2
    assert (run_dir / "last.pt").read_bytes() == checkpoint  # not trained any further
    after = Latents.load(run_dir / LATENTS_FILE)
    assert after.fnames.tolist() == before.fnames.tolist()
    assert np.array_equal(after.vectors, before.vectors)


def test_a_run_folder_of_another_config_is_refused(ae_run):
    config, run_dir, _ = ae_run
    other = load_config(DEMO_CONFIG, [*TINY_AE, "autoencoder.latent_dim=4", f"data.corpus={config.data.corpus}",
                                      f"data.cache_dir={config.data.cache_dir}"])
    with pytest.raises(SoundtagError, match=str(run_dir.name)):
        train_autoencoder(other, run_dir, progress=False)
