"""Bad training and evaluation data, issue #12 (hardening): each numbered defect has a test here (or,
for the cache key, the exported graph and the corpus rules, in the mirrored unit test file) that
failed on the code as it was.

6   a clip of absurd features turns training non-finite: stop, name the clip, keep the checkpoints
7   the feature cache key sees a clip replaced by other audio of the same size and mtime (test_cache.py)
8   ``X.flac`` and ``./X.flac`` in one CSV name one file twice
9   the exported graph tags short clips as the run does (tests/inference/test_export.py)
10  training without validation clips says so, and reports the training loss
11  a class name holding a space cannot be written to a Kaggle submission
18  a checkpoint of the wrong structure or of another model: one line naming the file
24  ``evaluate --corpus`` of another vocabulary warns and writes beside, not over, the run's own scores
25  a corpus of per-file symlinks is read; dropped rows are counted and named by every command

The demo corpus is only read: corpora made here link to its files from ``tmp_path``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from soundtag.cli.main import main
from soundtag.config import AudioConfig, LogMelConfig, ModelConfig, config_from_dict
from soundtag.data import (
    Example,
    FeatureCache,
    LabelMap,
    describe_rejected,
    empty_split_reason,
    read_corpus,
)
from soundtag.errors import CorpusError, SoundtagError
from soundtag.features import build_transform
from soundtag.inference import Tagger, evaluate_split, write_submission
from soundtag.models import build_model
from soundtag.runs import RunFolder
from soundtag.training import (
    NonFiniteError,
    Trainer,
    TrainingSet,
    feature_bins,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from tests.helpers import DEMO, read_rows, write_rows
from tests.training.tiny_run import shared_cache_dir, single_thread_torch, tiny_config

BINS, WIDTH, N_CLASSES = 8, 16, 3


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="session")
def feature_cache_dir(tmp_path_factory):
    return shared_cache_dir(tmp_path_factory)


# --- helpers --------------------------------------------------------------------------------------


def linked_corpus(root: Path, train: list[list[str]] | None = None, test: list[list[str]] | None = None) -> Path:
    """The demo corpus laid out as per-file symbolic links to data/demo (the usual way to convert
    ESC-50 and friends without copying), with the demo's CSVs or the rows given."""
    for folder in ("audio_train", "audio_test"):
        (root / folder).mkdir(parents=True)
        for source in (DEMO / folder).iterdir():
            (root / folder / source.name).symlink_to(source)
    train = train if train is not None else [[r["fname"], r["label"], r["manually_verified"]]
                                             for r in read_rows(DEMO / "train.csv")]
    test = test if test is not None else [[r["fname"], r["label"]] for r in read_rows(DEMO / "test.csv")]
    write_rows(root / "train.csv", ["fname", "label", "manually_verified"], train)
    write_rows(root / "test.csv", ["fname", "label"], test)
    return root


def fake_run(folder: Path, cache_dir: Path, corpus: Path = DEMO, *overrides: str) -> Path:
    """A run folder as ``soundtag train`` leaves it, with untrained weights (nothing here needs a good
    model): config, manifest, label map and best.pt."""
    config = tiny_config(cache_dir, f"data.corpus={corpus}", *overrides)
    run = RunFolder(folder)
    run.path.mkdir(parents=True)
    run.write_config(config)
    labels = LabelMap(read_corpus(corpus).labels)
    run.write_label_map(labels)
    torch.manual_seed(0)
    model = build_model(config.model, feature_bins(config), len(labels))
    save_checkpoint(run.best_path, {"model": model.state_dict(), "epoch": 1, "score": 0.5})
    return folder


def synthetic_set(tmp_path: Path, scale: dict[int, float] | None = None, val: int = 6) -> TrainingSet:
    """12 training and ``val`` validation 'clips' whose features are cached directly (no audio); the
    features of training clip ``i`` are multiplied by ``scale[i]``."""
    cache = FeatureCache(tmp_path / "cache", AudioConfig(), LogMelConfig(n_mels=BINS))
    rng = np.random.default_rng(0)
    (tmp_path / "audio").mkdir(exist_ok=True)

    def example(name: str, target: int, factor: float = 1.0) -> Example:
        path = tmp_path / "audio" / f"{name}.wav"
        path.write_bytes(name.encode())  # the cache key needs a file; its content is never decoded
        features = rng.normal(size=(BINS, int(rng.integers(4, 40)))) + 2 * target
        cache.save(path, (features * factor).astype(np.float32))
        return Example(str(path), target, path.name)

    train = [example(f"t{i}", i % N_CLASSES, (scale or {}).get(i, 1.0)) for i in range(12)]
    validation = [example(f"v{i}", i % N_CLASSES) for i in range(val)]
    return TrainingSet(train, validation, cache, N_CLASSES, BINS, WIDTH)


def unit_trainer(data: TrainingSet, run: Path, epochs: int = 3, **train) -> Trainer:
    run.mkdir(exist_ok=True)
    config = config_from_dict({"seed": 11, "train": {"epochs": epochs, "batch_size": 4, "device": "cpu", **train}})
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="vgg_small", channels=[4], fc_dim=8), BINS, N_CLASSES)
    return Trainer(config, model, data, run, progress=False)


def all_finite(path: Path) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in load_checkpoint(path)["model"].values() if t.is_floating_point())


# --- 6: non-finite training stops, naming the clip, and never saves NaN weights ---------------------


@pytest.mark.parametrize("factor", [1e20, math.inf])
def test_6_a_clip_of_absurd_features_stops_training_naming_it(tmp_path, factor):
    """Finite 1e20 features overflow BatchNorm's running statistics (the loss itself stays finite);
    infinite ones make the loss NaN. Both used to train on, save NaN weights and report a best score."""
    data = synthetic_set(tmp_path, {5: factor})
    trainer = unit_trainer(data, tmp_path / "run")
    with pytest.raises(NonFiniteError) as info:
        trainer.fit()
    message = str(info.value)
    assert "epoch 1" in message and data.train[5].path in message
    assert "\n" not in message
    assert not (tmp_path / "run" / "best.pt").exists() and not (tmp_path / "run" / "last.pt").exists()


def test_6_a_clip_gone_bad_later_keeps_the_last_finite_epoch(tmp_path):
    data = synthetic_set(tmp_path)
    unit_trainer(data, tmp_path / "run", epochs=1).fit()
    best_before = load_checkpoint(tmp_path / "run" / "best.pt")["epoch"]
    data.cache.save(data.train[7].path, np.full((BINS, 30), np.nan, dtype=np.float32))
    resumed = unit_trainer(data, tmp_path / "run", epochs=3)
    resumed.resume()
    with pytest.raises(NonFiniteError, match=re.escape(data.train[7].path)):
        resumed.fit()
    assert best_before == 1 and load_checkpoint(tmp_path / "run" / "best.pt")["epoch"] == 1
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1
    assert all_finite(tmp_path / "run" / "best.pt") and all_finite(tmp_path / "run" / "last.pt")
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 2  # header + epoch 1


def test_6_a_diverged_step_names_the_batch_that_made_it(tmp_path):
    data = synthetic_set(tmp_path)
    trainer = unit_trainer(data, tmp_path / "run")
    step = trainer.optimizer.step

    def diverging_step(*args, **kwargs):
        step(*args, **kwargs)
        with torch.no_grad():
            next(trainer.model.parameters()).fill_(math.nan)

    trainer.optimizer.step = diverging_step
    with pytest.raises(NonFiniteError, match="weights were already non-finite.*the previous step diverged"):
        trainer.fit()
    assert not (tmp_path / "run" / "best.pt").exists()


def test_6_a_validation_clip_of_non_finite_features_is_named(tmp_path):
    data = synthetic_set(tmp_path)
    data.cache.save(data.val[2].path, np.full((BINS, 20), np.inf, dtype=np.float32))
    with pytest.raises(NonFiniteError, match=re.escape(f"validation: {data.val[2].path}")):
        unit_trainer(data, tmp_path / "run").fit()
    assert not (tmp_path / "run" / "best.pt").exists()


def test_6_train_exits_2_naming_the_clip_and_writes_no_best_pt(tmp_path, capfd):
    """End to end: features of one clip that are finite but absurd (as a float WAV of samples at 1e20
    gave before decoding refused it) used to train on to NaN weights, print a best score and exit 0."""
    root = linked_corpus(tmp_path / "corpus")
    config = tiny_config(tmp_path / "cache", "train.epochs=2", f"data.corpus={root}")
    clip = read_corpus(root).train[0]
    cache = FeatureCache(config.data.cache_dir, config.audio, config.features)
    cache.save(clip.path, np.random.default_rng(0).normal(size=(32, 120)).astype(np.float32) * 1e20)
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(json.dumps(config.to_dict()))
    code = main(["train", str(config_file), "--out-dir", str(tmp_path / "run"), "--quiet"])
    captured = capfd.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("soundtag: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in captured.err
    assert "training stopped: epoch 1" in errors[0] and str(clip.path) in errors[0]
    assert "best" not in captured.out
    assert not (tmp_path / "run" / "best.pt").exists()
    assert "training stopped" in (tmp_path / "run" / "train.log").read_text()


# --- 8: one file named twice under two spellings -----------------------------------------------------


@pytest.mark.parametrize("second", ["./{0}", "sub/../{0}", "{0}-link"])
@pytest.mark.parametrize("csv_name", ["train.csv", "test.csv"])
def test_8_two_spellings_of_one_file_are_refused_naming_both_rows(tmp_path, second, csv_name):
    first = read_rows(DEMO / "train.csv")[0]["fname"] if csv_name == "train.csv" else \
        read_rows(DEMO / "test.csv")[0]["fname"]
    other = second.format(first)
    train = [[r["fname"], r["label"], r["manually_verified"]] for r in read_rows(DEMO / "train.csv")]
    test = [[r["fname"], r["label"]] for r in read_rows(DEMO / "test.csv")]
    if csv_name == "train.csv":
        train.append([other, train[0][1], "0"])
    else:
        test.append([other, test[0][1]])
    root = linked_corpus(tmp_path / "corpus", train, test)
    folder = root / ("audio_train" if csv_name == "train.csv" else "audio_test")
    if other.endswith("-link"):
        (folder / other).symlink_to(folder / first)  # two names, one file
    with pytest.raises(CorpusError) as info:
        read_corpus(root)
    message = str(info.value)
    assert message.startswith(str(root / csv_name)) and repr(first) in message and repr(other) in message


def test_8_the_same_name_in_train_and_validation_cannot_happen_on_the_cli(tmp_path, capfd):
    rows = [[r["fname"], r["label"], r["manually_verified"]] for r in read_rows(DEMO / "train.csv")]
    rows.append([f"./{rows[0][0]}", rows[0][1], rows[0][2]])
    root = linked_corpus(tmp_path / "corpus", rows)
    code = main(["features", "--corpus", str(root), "--cache-dir", str(tmp_path / "cache"), "--workers", "0",
                 "--quiet"])
    err = capfd.readouterr().err
    assert code == 2 and err.count("soundtag: error:") == 1 and f"'./{rows[0][0]}'" in err


# --- 10: no validation clips ------------------------------------------------------------------------


def test_10_without_validation_clips_the_score_is_named_and_is_the_training_loss(tmp_path):
    data = synthetic_set(tmp_path, val=0)
    result = unit_trainer(data, tmp_path / "run", epochs=3, lr=0.01).fit()
    losses = [row["loss"] for row in result.history]
    assert result.score_name == "train loss (no validation clips)"
    assert result.score_value == min(losses) > 0 and result.best_epoch == losses.index(min(losses)) + 1
    assert load_checkpoint(tmp_path / "run" / "best.pt")["score_name"] == result.score_name


def test_10_with_validation_clips_the_score_is_val_map3(tmp_path):
    result = unit_trainer(synthetic_set(tmp_path), tmp_path / "run", epochs=2).fit()
    assert result.score_name == "val MAP@3"
    assert result.score_value == result.history[result.best_epoch - 1]["val_map3"] == result.best_score


def test_10_train_says_there_is_no_validation_split(tmp_path, capsys, feature_cache_dir):
    """A corpus without verified clips has no validation split: it used to print 'best val MAP@3 -2.51'."""
    rows = [[r["fname"], r["label"], "0"] for r in read_rows(DEMO / "train.csv")]
    root = linked_corpus(tmp_path / "corpus", rows)
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(tiny_config(feature_cache_dir, "train.epochs=1").to_dict()))
    code = main(["train", str(config), "--corpus", str(root), "--out-dir", str(tmp_path / "run"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    line = out.strip().splitlines()[-1]
    assert line.startswith("best train loss (no validation clips) ") and " at epoch 1 of 1; run: " in line
    assert float(line.split()[6]) > 0
    assert "val MAP@3" not in out


# --- 11: class names a Kaggle submission cannot carry ---------------------------------------------


@pytest.mark.parametrize("bad", ["Acoustic guitar", "Tab\there"])
def test_11_a_class_name_with_whitespace_is_refused_before_any_work(tmp_path, bad):
    transform = build_transform(LogMelConfig(n_mels=BINS), 32000)
    labels = sorted(["Bark", bad, "Cough"])
    model = build_model(ModelConfig(name="vgg_small", channels=[4], fc_dim=8), BINS, len(labels))
    tagger = Tagger(model, transform, labels, device="cpu")
    clips = read_corpus(DEMO).test[:2]
    with pytest.raises(SoundtagError) as info:
        write_submission(tmp_path / "submission.csv", tagger, clips, [], str(tmp_path / "cache"), progress=False)
    assert repr(bad) in str(info.value) and "submission" in str(info.value)
    assert not (tmp_path / "submission.csv").exists() and not (tmp_path / "cache").exists()


# --- 18: checkpoints of the wrong structure or of another model --------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("bare", "bare state_dict"),
        ({"model": "x"}, "'model' entry is a str"),
        ({"weights": {}}, "no 'model' entry"),
        ([1, 2, 3], "holds a list"),
        ("other model", "weights do not fit the model of"),
    ],
)
def test_18_a_checkpoint_of_the_wrong_structure_is_one_line(tmp_path, capfd, feature_cache_dir, content, fragment):
    run = fake_run(tmp_path / "run", feature_cache_dir)
    weights = load_checkpoint(run / "best.pt")["model"]
    if content == "bare":
        content = weights
    elif content == "other model":
        other = build_model(ModelConfig(name="vgg_small", channels=[4, 4, 4], fc_dim=8), 32, 11)
        content = {"model": other.state_dict(), "score": 0.1}
    save_checkpoint(run / "best.pt", content)
    with pytest.raises(SoundtagError) as info:
        Tagger.from_run(run)
    assert str(info.value).startswith(str(run / "best.pt")) and fragment in str(info.value)
    code = main(["tag", str(run), str(DEMO / "audio_test" / "01423593.flac"), "--quiet"])
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("soundtag: error:") == 1
    assert str(run / "best.pt") in err and fragment in err


@pytest.mark.parametrize("kind", ["another architecture", "bare state_dict", "no optimizer"])
def test_18_resuming_from_a_foreign_last_pt_is_one_line(tmp_path, kind):
    data = synthetic_set(tmp_path)
    unit_trainer(data, tmp_path / "run", epochs=1).fit()
    last = tmp_path / "run" / "last.pt"
    state = load_checkpoint(last)
    if kind == "another architecture":
        state["model"] = build_model(ModelConfig(name="vgg_small", channels=[4, 8], fc_dim=8), BINS,
                                     N_CLASSES).state_dict()
    elif kind == "bare state_dict":
        state = state["model"]
    else:
        del state["optimizer"]
    save_checkpoint(last, state)
    trainer = unit_trainer(data, tmp_path / "run", epochs=2)
    with pytest.raises(SoundtagError) as info:
        trainer.resume()
    assert str(info.value).startswith(str(last)) and "\n" not in str(info.value)


def test_18_load_weights_names_missing_unexpected_and_misshapen_weights(tmp_path):
    model = build_model(ModelConfig(name="vgg_small", channels=[4], fc_dim=8), BINS, N_CLASSES)
    weights = model.state_dict()
    first = next(iter(weights))
    del weights[first]
    weights["extra.weight"] = torch.zeros(1)
    misshapen = [key for key in weights if key.endswith(".weight")][-2]
    weights[misshapen] = torch.zeros(7, 7)
    save_checkpoint(tmp_path / "x.pt", {"model": weights})
    with pytest.raises(SoundtagError) as info:
        load_weights(tmp_path / "x.pt", model)
    assert str(info.value).startswith(f"{tmp_path / 'x.pt'}: holds the weights of another model (")
    assert f"1 missing, e.g. '{first}'" in str(info.value) and "1 unexpected, e.g. 'extra.weight'" in str(info.value)
    assert f"'{misshapen}' is [7, 7] here but" in str(info.value)


def test_18_best_score_of_a_checkpoint_without_a_score(tmp_path, feature_cache_dir):
    run = fake_run(tmp_path / "run", feature_cache_dir)
    save_checkpoint(run / "best.pt", {"model": load_checkpoint(run / "best.pt")["model"]})
    with pytest.raises(SoundtagError, match="no numeric 'score'"):
        RunFolder(run).best_score()


# --- 24: evaluating on a corpus of another vocabulary ------------------------------------------------


def renamed_corpus(root: Path, renames: dict[str, str]) -> Path:
    """The demo corpus (linked) with some classes renamed in both CSVs: another vocabulary."""
    train = [[r["fname"], renames.get(r["label"], r["label"]), r["manually_verified"]]
             for r in read_rows(DEMO / "train.csv")]
    test = [[r["fname"], renames.get(r["label"], r["label"])] for r in read_rows(DEMO / "test.csv")]
    return linked_corpus(root, train, test)


def test_24_another_vocabulary_is_warned_and_scored_beside_the_runs_own(tmp_path, capfd, feature_cache_dir):
    run = fake_run(tmp_path / "run", feature_cache_dir)
    own = RunFolder(run).evaluation_dir("test")
    own.mkdir()
    (own / "metrics.json").write_text('{"mine": true}\n')
    labels = sorted({r["label"] for r in read_rows(DEMO / "test.csv")})
    renames = {labels[0]: "Didgeridoo", labels[1]: "Kazoo"}
    other = renamed_corpus(tmp_path / "other-corpus", renames)
    n_unknown = sum(r["label"] in renames for r in read_rows(DEMO / "test.csv"))
    n_test = len(read_rows(DEMO / "test.csv"))

    tagger = Tagger.from_run(run, device="cpu")
    result, metrics = evaluate_split(tagger, read_corpus(other), "test", None, progress=False)
    assert metrics["n_unknown_label"] == n_unknown and metrics["n_clips"] == n_test - n_unknown
    assert result.describe_unknown().startswith(f"skipped {n_unknown} of {n_test} clips")
    assert "'Didgeridoo'" in result.describe_unknown() and "'Kazoo'" in result.describe_unknown()
    assert (run / "eval-test-other-corpus" / "metrics.json").is_file()
    assert (own / "metrics.json").read_text() == '{"mine": true}\n'

    code = main(["evaluate", str(run), "--corpus", str(other), "--quiet"])
    captured = capfd.readouterr()
    assert code == 0, captured.err
    assert f"soundtag: warning: skipped {n_unknown} of {n_test} clips" in captured.err
    assert str(run / "eval-test-other-corpus") in captured.out
    assert (run / "eval-test-other-corpus" / "confusion.png").is_file()
    assert (own / "metrics.json").read_text() == '{"mine": true}\n' and not (own / "confusion.png").exists()


def test_24_the_runs_own_corpus_keeps_eval_test(tmp_path, feature_cache_dir):
    run = fake_run(tmp_path / "run", feature_cache_dir)
    tagger = Tagger.from_run(run, device="cpu")
    result, _ = evaluate_split(tagger, read_corpus(DEMO), "test", None, progress=False)
    assert result.corpus_name is None and result.unknown == [] and result.describe_unknown() == ""
    assert (run / "eval-test" / "metrics.json").is_file()


# --- 25: corpora of symbolic links; rows left out are counted and named -----------------------------


def test_25_a_corpus_of_per_file_links_is_read_and_featurised(tmp_path, capfd):
    root = linked_corpus(tmp_path / "linked")
    corpus = read_corpus(root)
    assert corpus.rejected == []
    assert len(corpus.train) == len(read_rows(DEMO / "train.csv"))
    assert len(corpus.test) == len(read_rows(DEMO / "test.csv"))
    code = main(["features", "--corpus", str(root), "--set", "features.n_mels=32",
                 "--cache-dir", str(tmp_path / "cache"), "--workers", "0", "--quiet"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert out.startswith(f"{len(corpus.clips)} clips (0 already cached, {len(corpus.clips)} extracted, 0 failed)")


def test_25_train_says_why_no_training_clip_is_usable(tmp_path, capfd, feature_cache_dir):
    rows = [[f"../../elsewhere/{r['fname']}", r["label"], r["manually_verified"]]
            for r in read_rows(DEMO / "train.csv")]
    root = linked_corpus(tmp_path / "corpus", rows)
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(tiny_config(feature_cache_dir, "train.epochs=1").to_dict()))
    code = main(["train", str(config), "--corpus", str(root), "--out-dir", str(tmp_path / "run"), "--quiet"])
    err = capfd.readouterr().err
    assert code == 2 and err.count("soundtag: error:") == 1
    line = err.strip().splitlines()[-1]
    assert "no usable training clips" in line and f"left out {len(rows)} CSV rows (train.csv {len(rows)})" in line
    assert repr(rows[0][0]) in line and "escapes its audio folder" in line and f"and {len(rows) - 3} more" in line


def test_25_train_warns_once_with_the_rows_left_out_even_when_quiet(tmp_path, capfd, feature_cache_dir):
    rows = [[r["fname"], r["label"], r["manually_verified"]] for r in read_rows(DEMO / "train.csv")]
    rows[:4] = [[f"/data/{fname}", label, verified] for fname, label, verified in rows[:4]]
    root = linked_corpus(tmp_path / "corpus", rows)
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(tiny_config(feature_cache_dir, "train.epochs=1").to_dict()))
    code = main(["train", str(config), "--corpus", str(root), "--out-dir", str(tmp_path / "run"), "--quiet"])
    err = capfd.readouterr().err
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("soundtag: warning:")]
    assert warnings == [line for line in warnings if "left out 4 CSV rows (train.csv 4)" in line] and len(warnings) == 1
    assert "'/data/" in warnings[0] and "and 1 more" in warnings[0]


def test_25_predict_says_the_test_rows_were_left_out_not_that_there_is_no_test_csv(tmp_path, capfd,
                                                                                   feature_cache_dir):
    run = fake_run(tmp_path / "run", feature_cache_dir)
    test = [[f"/abs/{r['fname']}", r["label"]] for r in read_rows(DEMO / "test.csv")]
    root = linked_corpus(tmp_path / "corpus", test=test)
    code = main(["predict", str(run), "--corpus", str(root), "-o", str(tmp_path / "s.csv"), "--quiet"])
    err = capfd.readouterr().err
    assert code == 2
    assert "no test CSV" not in err
    error = [line for line in err.splitlines() if line.startswith("soundtag: error:")]
    assert len(error) == 1 and "every row of test.csv was left out" in error[0] and "absolute path" in error[0]
    warnings = [line for line in err.splitlines() if line.startswith("soundtag: warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(f"soundtag: warning: left out {len(test)} CSV rows")


def test_25_evaluate_summarises_the_rows_left_out_in_one_warning(tmp_path, capfd, feature_cache_dir):
    run = fake_run(tmp_path / "run", feature_cache_dir)
    test = [[r["fname"], r["label"]] for r in read_rows(DEMO / "test.csv")]
    test[:5] = [[f"../{fname}", label] for fname, label in test[:5]]
    root = linked_corpus(tmp_path / "corpus", test=test)
    code = main(["evaluate", str(run), "--corpus", str(root), "--quiet"])
    err = capfd.readouterr().err
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "left out" in line]
    assert len(warnings) == 1
    assert "left out 5 CSV rows (test.csv 5)" in warnings[0] and repr(test[0][0]) in warnings[0]
    assert "and 2 more" in warnings[0]


def test_25_describe_rejected_and_empty_split_reason(tmp_path):
    rejected = [(str(tmp_path / "train.csv"), f"fname '../{i}.wav' escapes its audio folder") for i in range(5)]
    rejected.append((str(tmp_path / "test.csv"), "fname '/x.wav' is an absolute path"))
    text = describe_rejected(rejected, most=2)
    assert text == ("left out 6 CSV rows (train.csv 5, test.csv 1): fname '../0.wav' escapes its audio folder; "
                    "fname '../1.wav' escapes its audio folder; and 4 more")
    assert describe_rejected([]) == ""
    root = linked_corpus(tmp_path / "corpus", test=[["/x.wav", "Cello"]])
    assert "every row of test.csv was left out" in empty_split_reason(read_corpus(root), "test")
    (root / "test.csv").unlink()
    assert empty_split_reason(read_corpus(root), "test").startswith("no test CSV")
