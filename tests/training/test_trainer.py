"""The trainer: seeded runs repeat bit for bit, a resumed run ends where an uninterrupted one does,
early stopping follows ``train.patience``, and a run folder holds what it should.

The real-data runs use the demo corpus with a tiny model; the unit tests use a synthetic feature
cache (no audio) so they take a fraction of a second.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

from soundtag.config import AudioConfig, LogMelConfig, ModelConfig, config_from_dict, load_config
from soundtag.data import Example, FeatureCache
from soundtag.models import build_model
from soundtag.training import Trainer, TrainingSet, load_checkpoint, start_run
from tests.helpers import read_rows
from tests.training.tiny_run import assert_same_run, assert_same_weights, metrics_without_seconds, tiny_config

# ---------------------------------------------------------------------------------------------
# real data: the demo corpus, a tiny model, two epochs


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, feature_cache_dir):
    """Two runs of the very same config in separate folders, and what the first returned."""
    config = tiny_config(feature_cache_dir, "train.epochs=2")
    root = tmp_path_factory.mktemp("seeded")
    first, _ = start_run(config, root / "a", progress=False)
    start_run(config, root / "b", progress=False)
    return root / "a", root / "b", first, config


def test_two_seeded_runs_are_identical(two_runs):
    a, b, _, _ = two_runs
    assert_same_run(a, b)
    assert (a / "label_map.json").read_text() == (b / "label_map.json").read_text()
    assert (a / "config.yaml").read_text() == (b / "config.yaml").read_text()


def test_another_seed_gives_another_model(two_runs, tmp_path, feature_cache_dir):
    a, _, _, _ = two_runs
    start_run(tiny_config(feature_cache_dir, "train.epochs=1", "seed=7"), tmp_path / "other", progress=False)
    first, other = load_checkpoint(a / "last.pt")["model"], load_checkpoint(tmp_path / "other" / "last.pt")["model"]
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_run_folder_contents(two_runs, demo_root):
    a, _, result, config = two_runs
    assert {p.name for p in a.iterdir()} >= {"config.yaml", "label_map.json", "metrics.csv", "best.pt", "last.pt",
                                             "train.log"}
    assert load_config(a / "config.yaml").to_dict() == config.to_dict()
    labels = sorted({row["label"] for row in read_rows(demo_root / "train.csv")})
    assert json.loads((a / "label_map.json").read_text())["labels"] == labels
    frame = pd.read_csv(a / "metrics.csv")
    assert list(frame.columns) == ["epoch", "loss", "train_acc", "val_loss", "val_acc", "val_map3", "seconds"]
    assert frame["epoch"].tolist() == [1, 2]
    assert frame[["train_acc", "val_acc", "val_map3"]].stack().between(0, 1).all()
    assert (frame["val_acc"] <= frame["val_map3"] + 1e-9).all()
    log = (a / "train.log").read_text()
    assert "model vgg_small:" in log and "epoch 1:" in log and "epoch 2:" in log


def test_result_and_checkpoints_agree_with_the_metrics(two_runs):
    a, _, result, _ = two_runs
    frame = pd.read_csv(a / "metrics.csv")
    best_row = int(frame["val_map3"].to_numpy().argmax())  # first maximum: a tie is not an improvement
    assert result.epochs_run == 2
    assert result.best_epoch == best_row + 1
    assert result.best_score == pytest.approx(frame["val_map3"][best_row], abs=1e-6)
    best, last = load_checkpoint(a / "best.pt"), load_checkpoint(a / "last.pt")
    assert best["epoch"] == result.best_epoch and best["score"] == result.best_score
    assert last["epoch"] == 2 and last["best_epoch"] == result.best_epoch and last["stopped"] is False
    assert [row["epoch"] for row in last["history"]] == [1.0, 2.0]
    if result.best_epoch == 2:
        assert_same_weights(a / "best.pt", a / "last.pt")


def test_the_demo_config_trains_on_every_clip_with_a_verified_validation_split(two_runs, demo_root):
    a, _, _, _ = two_runs
    rows = read_rows(demo_root / "train.csv")
    verified = Counter(row["label"] for row in rows if row["manually_verified"] == "1")
    n_val = sum(min(n - 1, max(1, round(0.2 * n))) for n in verified.values() if n >= 2)
    header = (a / "train.log").read_text().splitlines()[0]
    assert f"{len(rows) - n_val} train / {n_val} validation clips" in header, header


# ---------------------------------------------------------------------------------------------
# unit level: synthetic cached features, scripted validation scores

BINS, N_CLASSES, WIDTH = 8, 3, 16


@pytest.fixture
def synthetic(tmp_path) -> TrainingSet:
    """12 training and 6 validation 'clips' whose features are cached directly (no audio)."""
    cache = FeatureCache(tmp_path / "cache", AudioConfig(), LogMelConfig(n_mels=BINS))
    rng = np.random.default_rng(0)
    audio = tmp_path / "audio"
    audio.mkdir()

    def example(name: str, target: int) -> Example:
        path = audio / f"{name}.wav"
        path.write_bytes(name.encode())  # the cache key needs a file; its content is never decoded
        frames = int(rng.integers(4, 40))
        cache.save(path, (rng.normal(size=(BINS, frames)) + 2 * target).astype(np.float32))
        return Example(str(path), target, path.name)

    train = [example(f"t{i}", i % N_CLASSES) for i in range(12)]
    val = [example(f"v{i}", i % N_CLASSES) for i in range(6)]
    return TrainingSet(train, val, cache, N_CLASSES, BINS, WIDTH)


def unit_config(epochs: int = 3, patience: int = 10, **train):
    return config_from_dict({"seed": 11, "train": {"epochs": epochs, "patience": patience, "batch_size": 4,
                                                  "device": "cpu", **train}})


def unit_model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(ModelConfig(name="vgg_small", channels=[4], fc_dim=8), BINS, N_CLASSES)


def scripted(trainer: Trainer, scores: list[float]) -> list[int]:
    """Make ``trainer``'s validation return ``scores`` in turn; returns a list counting the calls."""
    calls: list[int] = []

    def validate(model=None) -> dict[str, float]:
        calls.append(1)
        return {"val_loss": 1.0, "val_acc": 0.0, "val_map3": scores[len(calls) - 1]}

    trainer.validate = validate
    return calls


@pytest.mark.parametrize(
    ("scores", "patience", "epochs_run", "best_epoch"),
    [
        ([0.2, 0.5, 0.4, 0.45, 0.9, 0.9], 2, 4, 2),  # two epochs without a better score: stop
        ([0.5, 0.5, 0.5, 0.9], 2, 3, 1),  # an equal score is not an improvement
        ([0.3, 0.2, 0.9], 1, 2, 1),
        ([0.1, 0.2, 0.1, 0.3, 0.2, 0.4], 2, 6, 6),  # keeps improving: runs every epoch
    ],
)
def test_early_stopping_stops_after_patience_epochs_without_improvement(
    synthetic, tmp_path, scores, patience, epochs_run, best_epoch
):
    trainer = Trainer(unit_config(epochs=6, patience=patience), unit_model(), synthetic, tmp_path / "run",
                      progress=False)
    (tmp_path / "run").mkdir()
    calls = scripted(trainer, scores)
    result = trainer.fit()
    assert (result.epochs_run, result.best_epoch) == (epochs_run, best_epoch)
    assert result.best_score == scores[best_epoch - 1]
    assert len(calls) == epochs_run
    assert pd.read_csv(tmp_path / "run" / "metrics.csv")["epoch"].tolist() == list(range(1, epochs_run + 1))
    assert load_checkpoint(tmp_path / "run" / "best.pt")["epoch"] == best_epoch
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["stopped"] is (epochs_run < 6)
    # fitting again does not train a stopped (or finished) run any further
    assert trainer.fit().epochs_run == epochs_run and len(calls) == epochs_run


def test_a_stopped_run_stays_stopped_when_resumed(synthetic, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    first = Trainer(unit_config(epochs=8, patience=1), unit_model(), synthetic, run, progress=False)
    scripted(first, [0.5, 0.4])
    assert first.fit().epochs_run == 2
    again = Trainer(unit_config(epochs=8, patience=1), unit_model(), synthetic, run, progress=False)
    calls = scripted(again, [1.0] * 8)
    again.resume()
    result = again.fit()
    assert (result.epochs_run, result.best_epoch, calls) == (2, 1, [])


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_run_ends(synthetic, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    whole.mkdir()
    split.mkdir()
    Trainer(unit_config(epochs=4), unit_model(), synthetic, whole, progress=False).fit()
    # the "crash": the same run stopped after epoch 2 ...
    Trainer(unit_config(epochs=2), unit_model(), synthetic, split, progress=False).fit()
    # ... continued by a fresh process whose model starts from other weights
    resumed = Trainer(unit_config(epochs=4), unit_model(seed=123), synthetic, split, progress=False)
    resumed.resume()
    assert resumed.fit().epochs_run == 4
    assert_same_run(whole, split)


def test_training_on_synthetic_data_learns(synthetic, tmp_path):
    (tmp_path / "run").mkdir()
    result = Trainer(unit_config(epochs=6, lr=0.01), unit_model(), synthetic, tmp_path / "run",
                     progress=False).fit()
    losses = [row["loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert result.best_score > 1 / 3


def test_without_validation_clips_the_best_epoch_has_the_lowest_training_loss(synthetic, tmp_path):
    synthetic.val = []
    (tmp_path / "run").mkdir()
    result = Trainer(unit_config(epochs=4, patience=10, lr=0.01), unit_model(), synthetic, tmp_path / "run",
                     progress=False).fit()
    frame = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert frame["val_map3"].isna().all() and frame["val_loss"].isna().all()
    assert result.epochs_run == 4
    assert result.best_epoch == int(frame["loss"].to_numpy().argmin()) + 1
    assert result.best_score == pytest.approx(-frame["loss"].min(), abs=1e-6)
    assert math.isfinite(result.best_score)


def test_metrics_csv_rows_are_written_after_every_epoch(synthetic, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    trainer = Trainer(unit_config(epochs=3), unit_model(), synthetic, run, progress=False)
    seen: list[int] = []
    original = trainer.validate

    def validate():
        if (run / "metrics.csv").exists():
            seen.append(len(pd.read_csv(run / "metrics.csv")))
        return original()

    trainer.validate = validate
    trainer.fit()
    assert seen == [1, 2]
    assert len(metrics_without_seconds(run)) == 3


# ---------------------------------------------------------------------------------------------
# on the device of ``pytest --device`` (cpu by default)


def test_a_short_fit_on_the_device_learns_and_saves_weights_the_cpu_can_use(synthetic, tmp_path, device):
    run = tmp_path / "run"
    run.mkdir()
    trainer = Trainer(unit_config(epochs=6, lr=0.01, device=str(device)), unit_model(), synthetic, run,
                      progress=False)
    result = trainer.fit()
    assert trainer.device.type == device.type
    assert all(p.device.type == device.type for p in trainer.model.parameters())
    losses = [row["loss"] for row in result.history]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert result.best_score > 1 / 3
    last = load_checkpoint(run / "last.pt")  # read onto the CPU
    assert last["epoch"] == 6
    for key, value in trainer.model.state_dict().items():
        assert last["model"][key].device.type == "cpu"
        assert torch.equal(last["model"][key], value.cpu()), key
    on_cpu = unit_model(seed=99)
    on_cpu.load_state_dict(last["model"])
    on_cpu.eval()
    trainer.model.eval()
    x = torch.from_numpy(np.random.default_rng(3).normal(size=(3, BINS, WIDTH)).astype(np.float32))
    with torch.inference_mode():
        expected = torch.softmax(on_cpu(x), dim=1)
        got = torch.softmax(trainer.model(x.to(device)).float(), dim=1).cpu()
    # TF32 convolutions on CUDA round to ~1e-3 relative
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6 if device.type == "cpu" else 2e-3)


# ---------------------------------------------------------------------------------------------
# multi-label: binary cross-entropy, lwlrap on validation, thresholds from the validation clips


@pytest.fixture
def synthetic_multi(tmp_path) -> TrainingSet:
    """Clips holding any subset of 3 classes (none included): each class present adds its own pattern
    to the features, so the classes can be told apart independently."""
    cache = FeatureCache(tmp_path / "cache", AudioConfig(), LogMelConfig(n_mels=BINS))
    rng = np.random.default_rng(1)
    audio = tmp_path / "audio"
    audio.mkdir()
    patterns = rng.normal(size=(N_CLASSES, BINS, 1)) * 3

    def example(name: str, targets: tuple[int, ...]) -> Example:
        path = audio / f"{name}.wav"
        path.write_bytes(name.encode())
        frames = int(rng.integers(8, 40))
        features = rng.normal(size=(BINS, frames)) + sum((patterns[t] for t in targets), np.zeros((BINS, 1)))
        cache.save(path, features.astype(np.float32))
        return Example(str(path), targets[0] if len(targets) == 1 else -1, path.name, targets=targets)

    subsets = [(), (0,), (1,), (2,), (0, 1), (1, 2), (0, 2), (0, 1, 2)]
    train = [example(f"t{i}", subsets[i % len(subsets)]) for i in range(32)]
    val = [example(f"v{i}", subsets[i % len(subsets)]) for i in range(16)]
    return TrainingSet(train, val, cache, N_CLASSES, BINS, WIDTH, multi_label=True)


def test_a_multi_label_run_learns_with_binary_cross_entropy_and_scores_lwlrap(synthetic_multi, tmp_path):
    from soundtag.training import lwlrap
    from soundtag.training.trainer import MULTI_LABEL_COLUMNS, target_matrix

    run = tmp_path / "run"
    run.mkdir()
    trainer = Trainer(unit_config(epochs=8, lr=0.01), unit_model(), synthetic_multi, run, progress=False)
    result = trainer.fit()
    assert trainer.score_name == result.score_name == "val lwlrap"
    frame = pd.read_csv(run / "metrics.csv")
    assert list(frame.columns) == MULTI_LABEL_COLUMNS
    losses = frame["loss"].tolist()
    assert losses[-1] < losses[0]
    assert result.best_score == pytest.approx(frame["val_lwlrap"].max(), abs=1e-6)
    # chance lwlrap of these clips (random scores) is about 0.6; a learnt model ranks present classes first
    assert result.best_score > 0.8
    trainer.load_best()
    probs = trainer.validation_probabilities()
    assert not np.allclose(probs.sum(axis=1), 1.0)  # independent sigmoids, not a softmax
    truth = target_matrix(synthetic_multi.val, N_CLASSES)
    assert lwlrap(probs, truth) == pytest.approx(result.best_score, abs=1e-6)
    thresholds, note = trainer.choose_thresholds()
    assert thresholds.shape == (N_CLASSES,) and ((thresholds >= 0.1) & (thresholds <= 0.9)).all()
    assert "16 validation clips" in note


def test_a_resumed_multi_label_run_ends_where_an_uninterrupted_one_ends(synthetic_multi, tmp_path):
    cfg = dict(label_smoothing=0.1, augment={"mixup_alpha": 0.4})
    whole, split = tmp_path / "whole", tmp_path / "split"
    whole.mkdir()
    split.mkdir()
    Trainer(unit_config(epochs=3, **cfg), unit_model(), synthetic_multi, whole, progress=False).fit()
    Trainer(unit_config(epochs=2, **cfg), unit_model(), synthetic_multi, split, progress=False).fit()
    resumed = Trainer(unit_config(epochs=3, **cfg), unit_model(seed=5), synthetic_multi, split, progress=False)
    resumed.resume()
    resumed.fit()
    assert_same_run(whole, split)


def test_a_multi_label_run_without_validation_clips_tags_at_one_half(synthetic_multi, tmp_path):
    synthetic_multi.val = []
    (tmp_path / "run").mkdir()
    trainer = Trainer(unit_config(epochs=1), unit_model(), synthetic_multi, tmp_path / "run", progress=False)
    result = trainer.fit()
    assert result.score_name == "train loss (no validation clips)"
    assert pd.read_csv(tmp_path / "run" / "metrics.csv")["val_lwlrap"].isna().all()
    thresholds, note = trainer.choose_thresholds()
    assert thresholds.tolist() == [0.5] * N_CLASSES and "no validation clips" in note


def test_a_multi_label_fit_on_the_device_learns(synthetic_multi, tmp_path, device):
    run = tmp_path / "run"
    run.mkdir()
    trainer = Trainer(unit_config(epochs=4, lr=0.01, device=str(device)), unit_model(), synthetic_multi, run,
                      progress=False)
    result = trainer.fit()
    losses = [row["loss"] for row in result.history]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    thresholds, _ = trainer.choose_thresholds()
    assert np.isfinite(thresholds).all()


def test_a_resumed_cosine_swa_run_ends_exactly_where_an_uninterrupted_run_ends(synthetic, tmp_path):
    cfg = unit_config(epochs=4, schedule="cosine", swa_start=0.5)
    whole, split = tmp_path / "whole", tmp_path / "split"
    whole.mkdir()
    split.mkdir()
    Trainer(cfg, unit_model(), synthetic, whole, progress=False).fit()
    Trainer(cfg, unit_model(), synthetic, split, progress=False, max_epochs=3).fit()  # killed after epoch 3
    resumed = Trainer(cfg, unit_model(seed=123), synthetic, split, progress=False)
    resumed.resume()
    assert resumed.fit().epochs_run == 4
    assert_same_run(whole, split)
    last = load_checkpoint(split / "last.pt")
    assert int(last["swa"]["n_averaged"]) == 2  # epochs 3 and 4
    assert last["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3 * (1 + math.cos(math.pi * 2 / 4)) / 2)


def test_in_the_swa_phase_best_pt_keeps_the_average_when_it_validates_best(synthetic, tmp_path):
    (tmp_path / "run").mkdir()
    trainer = Trainer(unit_config(epochs=3, swa_start=0.34), unit_model(), synthetic, tmp_path / "run", progress=False)
    validated = []

    def validate(model=None) -> dict[str, float]:  # epochs 2 and 3 are averaged; epoch 3's average scores best
        validated.append(model)
        return {"val_loss": 1.0, "val_acc": 0.0, "val_map3": [0.1, 0.2, 0.9][len(validated) - 1]}

    trainer.validate = validate
    trainer.fit()
    assert validated == [None, trainer.swa.module, trainer.swa.module]
    best = load_checkpoint(tmp_path / "run" / "best.pt")["model"]
    average = trainer.swa.module.state_dict()
    assert best.keys() == trainer.model.state_dict().keys()
    assert all(torch.equal(best[k], average[k].cpu()) for k in best)
    assert not torch.equal(best["classifier.out.weight"], trainer.model.state_dict()["classifier.out.weight"])
