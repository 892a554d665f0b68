"""Multi-label runs end to end: sigmoid outputs learnt with binary cross-entropy, lwlrap on validation,
per-class thresholds chosen after training and stored in the run, tags that may be an empty list, and
evaluation by lwlrap, macro mAP and F1.

The corpus is a manifest over the demo clips: each demo clip with its label, mixtures of two demo
clips with both labels, and silent clips with none (negatives, which teach the model to say nothing).
The last test builds soundscapes with ``scripts/make_soundscapes.py`` and drives the CLI.
"""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from soundtag.audio import load_audio
from soundtag.cli.main import main
from soundtag.data import read_corpus
from soundtag.errors import ConfigError, SoundtagError
from soundtag.features import extract_batch
from soundtag.inference import Tagger, evaluate_split
from soundtag.inference.export import ExportedTagger, export_run
from soundtag.runs import THRESHOLDS_FILE, RunFolder
from soundtag.training import choose_thresholds, f1_scores, load_checkpoint, lwlrap, start_run
from soundtag.training.metrics import THRESHOLD_GRID
from soundtag.training.trainer import MULTI_LABEL_COLUMNS
from tests.helpers import DEMO, REPO_ROOT, make_soundscapes, read_rows
from tests.training.tiny_run import TINY, shared_cache_dir, single_thread_torch, tiny_config

SR = 32000
N_MIXTURES, N_SILENT = 16, 24


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="module")
def feature_cache_dir(tmp_path_factory):
    return shared_cache_dir(tmp_path_factory)


def _write_manifest(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fname", "labels", "verified", "split"])
        writer.writerows(rows)


@pytest.fixture(scope="module")
def corpus_csv(tmp_path_factory):
    """manifest.csv over links to the demo clips (one label each), mixtures of two demo train clips
    of different classes (both labels) and silent clips (no label); every fifth of each kind goes to
    validation, demo test clips and a few mixtures and silent clips to test."""
    root = tmp_path_factory.mktemp("multi-corpus")
    (root / "audio").mkdir()
    rows = []
    train = read_rows(DEMO / "train.csv")
    for i, row in enumerate(train):
        (root / "audio" / row["fname"]).symlink_to(DEMO / "audio_train" / row["fname"])
        rows.append([f"audio/{row['fname']}", row["label"], row["manually_verified"], "val" if i % 5 == 0 else "train"])
    rng = np.random.default_rng(0)
    for i in range(N_MIXTURES + 4):
        a, b = rng.choice(len(train), size=2, replace=False)
        while train[a]["label"] == train[b]["label"]:
            b = rng.integers(len(train))
        first, second = (load_audio(DEMO / "audio_train" / train[j]["fname"], SR) for j in (a, b))
        n = min(len(first), len(second), 2 * SR)
        sf.write(root / "audio" / f"mix-{i:02d}.wav", 0.5 * (first[:n] + second[:n]), SR)
        split = "test" if i >= N_MIXTURES else "val" if i % 5 == 0 else "train"
        rows.append([f"audio/mix-{i:02d}.wav", f"{train[a]['label']},{train[b]['label']}", "1", split])
    for i in range(N_SILENT + 3):
        sf.write(root / "audio" / f"silent-{i:02d}.wav", np.zeros(int(1.5 * SR), dtype=np.float32), SR)
        split = "test" if i >= N_SILENT else "val" if i % 4 == 0 else "train"
        rows.append([f"audio/silent-{i:02d}.wav", "", "1", split])
    for row in read_rows(DEMO / "test.csv")[:12]:
        (root / "audio" / f"test-{row['fname']}").symlink_to(DEMO / "audio_test" / row["fname"])
        rows.append([f"audio/test-{row['fname']}", row["label"], "1", "test"])
    _write_manifest(root / "manifest.csv", rows)
    return root / "manifest.csv"


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory, feature_cache_dir, corpus_csv):
    """A tiny multi-label run (train.multi_label auto: the corpus has clips with two labels and none)."""
    run_dir = tmp_path_factory.mktemp("multi-run")
    config = tiny_config(feature_cache_dir, "train.epochs=15", "train.lr=0.01", f"data.corpus={corpus_csv}")
    result, prepared = start_run(config, run_dir, progress=False)
    return run_dir, result, prepared


@pytest.fixture(scope="module")
def tagger(multi_run) -> Tagger:
    return Tagger.from_run(multi_run[0], device="cpu")


def test_the_run_is_multi_label_and_scores_validation_by_lwlrap(multi_run):
    run_dir, result, prepared = multi_run
    assert prepared.data.multi_label
    assert RunFolder(run_dir).is_multi_label()
    assert json.loads((run_dir / "manifest.json").read_text())["multi_label"] is True
    frame = pd.read_csv(run_dir / "metrics.csv")
    assert list(frame.columns) == MULTI_LABEL_COLUMNS
    assert frame[["val_lwlrap", "val_map"]].stack().between(0, 1).all()
    assert result.score_name == "val lwlrap"
    best = int(frame["val_lwlrap"].to_numpy().argmax())
    assert result.best_epoch == best + 1 and result.best_score == pytest.approx(frame["val_lwlrap"][best], abs=1e-6)
    assert load_checkpoint(run_dir / "best.pt")["score_name"] == "val lwlrap"
    # negatives and mixtures are examples like any other: all-zero and two-hot targets
    targets = {len(e.targets) for e in prepared.data.train}
    assert targets == {0, 1, 2}


def test_thresholds_are_the_best_f1_on_the_validation_clips(multi_run, tagger):
    run_dir, _, prepared = multi_run
    stored = json.loads((run_dir / THRESHOLDS_FILE).read_text())["thresholds"]
    assert list(stored) == tagger.labels
    assert set(stored.values()) <= {*THRESHOLD_GRID.tolist(), 0.5}
    assert "sha256" in json.dumps(json.loads((run_dir / "manifest.json").read_text()))
    # recomputed independently: the best model's probabilities of the validation clips, through the tagger
    val = prepared.data.val
    probs = tagger.probabilities(prepared.data.cache.load(e.path) for e in val)
    truth = np.zeros((len(val), len(tagger.labels)))
    for row, example in zip(truth, val):
        row[list(example.targets)] = 1
    expected = choose_thresholds(probs, truth)
    assert [stored[label] for label in tagger.labels] == pytest.approx(expected.tolist())
    assert tagger.thresholds.tolist() == pytest.approx(expected.tolist())
    # no other grid value gives a class a better F1 on those clips
    for c in np.flatnonzero(truth.any(axis=0)):
        best = max(f1_scores(probs[:, [c]], truth[:, [c]], t)[0] for t in THRESHOLD_GRID)
        assert f1_scores(probs[:, [c]], truth[:, [c]], expected[c])[0] == pytest.approx(best)


def test_an_edited_thresholds_file_is_refused(multi_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(multi_run[0], copy)
    data = json.loads((copy / THRESHOLDS_FILE).read_text())
    first = next(iter(data["thresholds"]))
    data["thresholds"][first] = 0.01
    (copy / THRESHOLDS_FILE).write_text(json.dumps(data))
    with pytest.raises(SoundtagError, match=THRESHOLDS_FILE):
        Tagger.from_run(copy)


def test_a_silent_file_gets_an_empty_tag_list(tagger, tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(int(4.5 * SR), dtype=np.float32), SR)
    tags = tagger.tag_file(path, segment=1.0)
    assert tags.silent and tags.tags == []
    assert tags.segments and all(s.tags == [] for s in tags.segments)
    assert tags.to_dict()["tags"] == []
    framewise = tagger.tag_file(path, segment=1.0, framewise=True)
    assert framewise.tags == [] and all(s.tags == [] for s in framewise.segments)


def test_tags_are_the_labels_at_or_above_their_thresholds_most_probable_first(tagger, corpus_csv):
    threshold = dict(zip(tagger.labels, tagger.thresholds))
    for path in sorted((corpus_csv.parent / "audio").glob("mix-*.wav"))[:6]:
        # --threshold 0 with a large k: every class, most probable first, with its probability
        everything = tagger.tag_file(path, segment=60.0, k=50, threshold=0.0).tags
        assert len(everything) == len(tagger.labels)
        assert [p for _, p in everything] == sorted((p for _, p in everything), reverse=True)
        tags = tagger.tag_file(path, segment=60.0).tags
        assert tags == [(label, p) for label, p in everything if p >= threshold[label]][:3]  # tag.top_k: 3
        assert tagger.tag_file(path, segment=60.0, k=1).tags == tags[:1]
        assert tagger.tag_file(path, segment=60.0, threshold=0.3).tags == [t for t in everything if t[1] >= 0.3][:3]


def test_evaluation_scores_lwlrap_map_and_f1_at_the_run_thresholds(tagger, corpus_csv, feature_cache_dir):
    corpus = read_corpus(corpus_csv)
    result, metrics = evaluate_split(tagger, corpus, "test", str(feature_cache_dir), progress=False)
    assert {"lwlrap", "map", "f1_macro", "f1_micro", "n_clips", "per_class_ap", "thresholds"} <= set(metrics)
    assert "map3" not in metrics and "accuracy" not in metrics
    assert metrics["n_clips"] == len(corpus.test)  # the clips without labels are scored as negatives
    assert result.targets.shape == (len(corpus.test), len(tagger.labels))
    assert result.targets.sum(axis=1).tolist().count(0) == 3
    assert metrics["lwlrap"] == pytest.approx(lwlrap(result.probabilities, result.targets))
    macro, micro = f1_scores(result.probabilities, result.targets, tagger.thresholds)
    assert (metrics["f1_macro"], metrics["f1_micro"]) == pytest.approx((macro, micro))
    saved = json.loads((RunFolder(tagger.run_dir).evaluation_dir("test") / "metrics.json").read_text())
    assert saved["lwlrap"] == pytest.approx(metrics["lwlrap"])


def test_evaluate_cli_draws_average_precision_bars(multi_run, feature_cache_dir, capsys):
    run_dir = multi_run[0]
    assert main(["evaluate", str(run_dir), "--cache-dir", str(feature_cache_dir), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "lwlrap" in out and "F1 macro" in out
    assert (run_dir / "eval-test" / "average_precision.png").is_file()
    assert not (run_dir / "eval-test" / "confusion.png").exists()


@pytest.mark.parametrize("fmt,suffix", [("torchscript", ".pt"),
                                        pytest.param("onnx", ".onnx", marks=pytest.mark.skipif(
                                            importlib.util.find_spec("onnxscript") is None,
                                            reason="onnx extras not installed"))])
def test_the_exported_graph_of_a_multi_label_run_gives_sigmoids_and_its_thresholds(multi_run, tagger, tmp_path,
                                                                                  fmt, suffix):
    exported = ExportedTagger(export_run(multi_run[0], fmt, tmp_path / f"m{suffix}"))
    assert exported.multi_label and exported.thresholds.tolist() == pytest.approx(tagger.thresholds.tolist())
    rng = np.random.default_rng(1)
    segments = [(0.1 * rng.standard_normal(SR)).astype(np.float32) for _ in range(2)]
    ours = exported.run(np.stack(segments))
    assert np.abs(ours - tagger.probabilities(extract_batch(tagger.transform, segments))).max() < 1e-4
    assert not np.allclose(ours.sum(axis=1), 1.0, atol=1e-3)  # sigmoids, not a softmax
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(SR * 2, dtype=np.float32), SR)
    assert exported.tag_file(silent).tags == []


def test_gce_is_refused_for_a_multi_label_run(feature_cache_dir, corpus_csv, tmp_path):
    with pytest.raises(ConfigError, match="binary cross-entropy"):
        tiny_config(feature_cache_dir, "train.loss=gce", "train.multi_label=yes")
    config = tiny_config(feature_cache_dir, "train.loss=gce", f"data.corpus={corpus_csv}")  # auto: known with the corpus
    with pytest.raises(SoundtagError, match="train.loss=gce"):
        start_run(config, tmp_path / "gce", progress=False)
    config = tiny_config(feature_cache_dir, "train.multi_label=no", f"data.corpus={corpus_csv}")
    with pytest.raises(SoundtagError, match="multi-label"):
        start_run(config, tmp_path / "no", progress=False)


@pytest.mark.e2e
def test_soundscapes_train_evaluate_and_tag_from_the_command_line(tmp_path, feature_cache_dir, capsys):
    """A tiny soundscape manifest made by scripts/make_soundscapes.py: train 2 epochs, evaluate --json,
    tag: every file gets a list of tags (possibly empty), each label at or above its threshold."""
    scapes = make_soundscapes(tmp_path / "scapes", "--train", "16", "--test", "6", "--seconds", "3")
    capsys.readouterr()
    run_dir = tmp_path / "run"
    sets = [item for pair in zip(["--set"] * len(TINY), TINY) for item in pair]
    assert main(["train", str(REPO_ROOT / "configs" / "demo.yaml"), "--corpus", str(scapes / "manifest.csv"),
                 "--cache-dir", str(feature_cache_dir), "--out-dir", str(run_dir), *sets, "--set", "train.epochs=2",
                 "--quiet"]) == 0
    assert (run_dir / THRESHOLDS_FILE).is_file() and RunFolder(run_dir).is_multi_label()
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json", "--quiet", "--cache-dir", str(feature_cache_dir)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"lwlrap", "map", "f1_macro", "f1_micro", "n_clips"} <= set(metrics)
    assert metrics["n_clips"] == 6 and 0 <= metrics["lwlrap"] <= 1
    assert main(["tag", str(run_dir), str(scapes / "audio" / "test"), "--quiet", "--format", "json"]) == 0
    tagged = json.loads(capsys.readouterr().out)
    assert len(tagged["files"]) == 6 and not tagged["failed"]
    thresholds = json.loads((run_dir / THRESHOLDS_FILE).read_text())["thresholds"]
    for record in tagged["files"]:
        assert isinstance(record["tags"], list) and len(record["tags"]) <= 3
        assert all(t["probability"] >= round(thresholds[t["label"]], 4) - 1e-4 for t in record["tags"])
    assert main(["tag", str(run_dir), str(scapes / "audio" / "test"), "--quiet", "--threshold", "1"]) == 0
    assert all(record["tags"] == [] for record in json.loads(capsys.readouterr().out)["files"])
