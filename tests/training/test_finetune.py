"""Fine-tuning (``train.init_from``, ``train.freeze_blocks``, ``soundtag train --init-from``): the output
layer's rows move with their class names bit-exactly and new classes start fresh, the backbone is the
source's, frozen blocks (weights and BatchNorm statistics) do not move in an epoch while the rest does,
a source of other features or architecture is refused naming the key, a resumed run does not go back to
the source, and the run records where it started from.

One tiny demo run (1 epoch, as in ``tiny_run.py``) is the source of every fine-tuned run here.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from soundtag.cli.main import main
from soundtag.config import ModelConfig, load_config
from soundtag.errors import ConfigError, SoundtagError
from soundtag.models import build_model
from soundtag.runs import RunFolder, file_digest
from soundtag.training import load_checkpoint, resume_run, start_run
from soundtag.training.finetune import transfer_weights
from tests.helpers import DEMO
from tests.training.tiny_run import DEMO_CONFIG, TINY, tiny_config

ONE_EPOCH = "train.epochs=1"


def small_model(n_classes: int, channels=(4, 8), seed: int = 0):
    torch.manual_seed(seed)
    return build_model(ModelConfig(channels=list(channels), fc_dim=16), 12, n_classes)


def warmed_up(model):
    """A few train-mode passes so BatchNorm statistics are not their defaults."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 12, 20) * 2 + 1)
    return model.eval()


# --- the output layer's surgery -----------------------------------------------------------------

def test_shared_rows_are_kept_bit_exactly_new_rows_fresh_and_the_backbone_is_the_source():
    source = warmed_up(small_model(4, seed=1))
    source_labels = ["a", "b", "c", "d"]
    labels = ["c", "new", "a"]
    target, fresh = small_model(3, seed=2), small_model(3, seed=2)  # the same fresh initialisation
    kept = transfer_weights(target, source.state_dict(), source_labels, labels)
    assert kept == ["c", "a"]
    head = target.output_layer
    src_head = source.output_layer
    for new_row, source_row in ((0, 2), (2, 0)):
        assert torch.equal(head.weight[new_row], src_head.weight[source_row])
        assert torch.equal(head.bias[new_row], src_head.bias[source_row])
    assert torch.equal(head.weight[1], fresh.output_layer.weight[1])
    assert torch.equal(head.bias[1], fresh.output_layer.bias[1])
    mine, theirs = target.state_dict(), source.state_dict()
    backbone = [k for k in mine if k not in target.output_state_keys]
    assert len(backbone) > 10 and any("running_mean" in k for k in backbone)
    for key in backbone:
        assert torch.equal(mine[key], theirs[key]), key


def test_the_head_is_named_by_the_model_not_guessed():
    model = small_model(5)
    assert model.output_state_keys == ["classifier.out.weight", "classifier.out.bias"]
    assert model.output_layer.out_features == 5
    raw = build_model(ModelConfig(name="cnn1d_raw", channels=[4, 4, 4, 4], fc_dim=8), 1, 3)
    assert raw.output_layer.out_features == 3 and raw.num_blocks == 4


def test_weights_of_another_architecture_are_refused_in_one_line():
    source = small_model(4, channels=(4, 16))
    with pytest.raises(SoundtagError, match=r"best.pt: holds the weights of another model \(.*features"):
        transfer_weights(small_model(3), source.state_dict(), list("abcd"), list("abc"), "best.pt")
    with pytest.raises(SoundtagError, match=r"x: 'classifier.out.weight' is \[4, 16\], but 3 classes with this "
                                            r"architecture need \[3, 16\]"):
        transfer_weights(small_model(3), small_model(4).state_dict(), list("abc"), list("abc"), "x")


def test_freeze_blocks_needs_a_source_and_fits_the_model(tmp_path):
    with pytest.raises(ConfigError, match=r"train.freeze_blocks=1 freezes blocks of a trained run: set "
                                          r"train.init_from"):
        load_config(None, ["train.freeze_blocks=1"])
    with pytest.raises(ConfigError, match="train.freeze_blocks must be >= 0"):
        load_config(None, ["train.freeze_blocks=-1"])
    config = load_config(DEMO_CONFIG, [*TINY, f"train.init_from={tmp_path}", "train.freeze_blocks=3"])
    with pytest.raises(ConfigError, match=r"^train.freeze_blocks must be <= 2 \(the conv blocks of model vgg_small"):
        start_run(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


# --- runs ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def source(tmp_path_factory, feature_cache_dir) -> Path:
    """A tiny demo run of one epoch: the source of the fine-tuned runs."""
    run_dir = tmp_path_factory.mktemp("finetune") / "source"
    start_run(tiny_config(feature_cache_dir, ONE_EPOCH), run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="module")
def frozen_run(source, feature_cache_dir) -> Path:
    """One epoch on the demo corpus from ``source`` with the first conv block frozen."""
    run_dir = source.parent / "frozen"
    config = tiny_config(feature_cache_dir, ONE_EPOCH, f"train.init_from={source}", "train.freeze_blocks=1")
    start_run(config, run_dir, progress=False)
    return run_dir


def test_frozen_blocks_do_not_move_in_an_epoch_while_the_rest_does(source, frozen_run):
    before = load_checkpoint(source / "best.pt")["model"]
    after = load_checkpoint(frozen_run / "last.pt")["model"]
    assert load_checkpoint(frozen_run / "last.pt")["epoch"] == 1
    frozen = [k for k in after if k.startswith("features.0.")]
    assert any(k.endswith("running_mean") for k in frozen) and any(k.endswith("num_batches_tracked") for k in frozen)
    for key in frozen:  # weights and BatchNorm statistics (kept in eval mode) as the source left them
        assert torch.equal(after[key], before[key]), key
    for key in ("features.1.0.weight", "features.1.1.running_mean", "classifier.hidden.1.weight",
                "classifier.out.weight", "input_norm.running_mean"):
        assert not torch.equal(after[key], before[key]), key


def test_a_finetuned_run_records_its_source(source, frozen_run):
    manifest = json.loads((frozen_run / "manifest.json").read_text())
    assert manifest["init_from"] == {"run": str(source.resolve()), "best_sha256": file_digest(source / "best.pt")}
    assert RunFolder(frozen_run).read_config().train.init_from == str(source.resolve())
    log = (frozen_run / "train.log").read_text()
    assert f"initialised from {source / 'best.pt'}" in log
    assert "output rows of 11 shared class(es) kept, 0 new class(es) start fresh" in log
    assert "trainable (first 1 conv block frozen)" in log


@pytest.mark.parametrize("override, key", [("features.n_mels=40", "features.n_mels"),
                                           ("model.channels=[8,32]", "model.channels"),
                                           ("audio.sample_rate=16000", "audio.sample_rate"),
                                           ("model.pooling=attention", "model.pooling")])
def test_a_source_of_other_features_or_architecture_is_refused_naming_the_key(source, feature_cache_dir, tmp_path,
                                                                             override, key):
    config = tiny_config(feature_cache_dir, ONE_EPOCH, f"train.init_from={source}", override)
    with pytest.raises(SoundtagError, match=rf"^train.init_from {source}: its {key} is .*, this run's is .*; a "
                                            "fine-tuned run keeps the source run's features and model architecture$"):
        start_run(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()  # refused before any work


def test_a_folder_that_is_not_a_trained_run_is_refused(feature_cache_dir, tmp_path):
    config = tiny_config(feature_cache_dir, ONE_EPOCH, f"train.init_from={tmp_path}")
    with pytest.raises(SoundtagError, match=rf"^train.init_from {tmp_path}: not a run folder"):
        start_run(config, tmp_path / "out", progress=False)


def test_a_resumed_run_does_not_go_back_to_its_source(source, feature_cache_dir, tmp_path):
    copy = tmp_path / "source-copy"
    shutil.copytree(source, copy)
    run_dir = tmp_path / "tuned"
    start_run(tiny_config(feature_cache_dir, ONE_EPOCH, f"train.init_from={copy}"), run_dir, progress=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    shutil.rmtree(copy)  # the source is gone: resuming must not need it
    result, _ = resume_run(run_dir, progress=False, extend=["train.epochs=2"])
    assert result.epochs_run == 2
    assert json.loads((run_dir / "manifest.json").read_text())["init_from"] == manifest["init_from"]
    assert (run_dir / "train.log").read_text().count("initialised from") == 1


# --- the command line ------------------------------------------------------------------------------

def subset_corpus(root: Path) -> tuple[Path, list[str]]:
    """A corpus of four demo classes plus Flute renamed Recorder (a class the source never had), its
    audio linked to the demo corpus."""
    keep = {"Trumpet", "Telephone", "Hi-hat", "Cello", "Flute"}
    (root / "audio_train").mkdir(parents=True)
    with open(DEMO / "train.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["label"] in keep]
    for row in rows:
        (root / "audio_train" / row["fname"]).symlink_to((DEMO / "audio_train" / row["fname"]).resolve())
        row["label"] = "Recorder" if row["label"] == "Flute" else row["label"]
    with open(root / "train.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["fname", "label", "manually_verified"])
        writer.writeheader()
        writer.writerows(rows)
    return root, sorted({r["label"] for r in rows})


def test_train_init_from_fine_tunes_onto_another_class_subset(source, feature_cache_dir, tmp_path, capsys):
    corpus, labels = subset_corpus(tmp_path / "corpus")
    out = tmp_path / "new"
    args = ["train", DEMO_CONFIG, "--corpus", corpus, "--cache-dir", feature_cache_dir, "--init-from", source,
            "--quiet"]
    for override in [*TINY, ONE_EPOCH]:
        args += ["--set", override]
    capsys.readouterr()
    assert main([str(a) for a in [*args, "--out-dir", out]]) == 0, capsys.readouterr().err
    assert "best val MAP@3" in capsys.readouterr().out
    assert json.loads((out / "label_map.json").read_text())["labels"] == labels
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["init_from"] == {"run": str(source.resolve()), "best_sha256": file_digest(source / "best.pt")}
    assert load_config(out / "config.yaml").train.init_from == str(source.resolve())
    assert "output rows of 4 shared class(es) kept, 1 new class(es) start fresh" in (out / "train.log").read_text()
    # the source run is an input: it may not be the output
    assert main([str(a) for a in [*args, "--out-dir", source]]) != 0
    assert f"--out-dir {source}: is an input of this command" in capsys.readouterr().err
