"""Scoring a run on a corpus split, and the Kaggle submission file."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from soundtag.data import Clip, FeatureCache, read_corpus
from soundtag.errors import SoundtagError
from soundtag.inference import Tagger, evaluate_clips, evaluate_split, score_run, write_submission
from soundtag.runs import RunFolder
from soundtag.training import accuracy, load_checkpoint, map_at_k, per_class_average_precision, top_k
from tests.helpers import DEMO, read_rows, write_corrupt_audio


@pytest.fixture(scope="module")
def tagger(tiny_run) -> Tagger:
    return Tagger.from_run(tiny_run, device="cpu")


@pytest.fixture(scope="module")
def corpus():
    return read_corpus(DEMO)


@pytest.fixture(scope="module")
def test_result(tagger, corpus, feature_cache_dir):
    return evaluate_clips(tagger, corpus.test, str(feature_cache_dir), progress=False)


def test_evaluates_every_test_clip_in_order(test_result, corpus, tagger):
    rows = read_rows(DEMO / "test.csv")
    assert test_result.fnames == [row["fname"] for row in rows]
    assert test_result.probabilities.shape == (len(rows), 11)
    np.testing.assert_allclose(test_result.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [tagger.label_map.label(t) for t in test_result.targets] == [row["label"] for row in rows]
    assert test_result.labels == tagger.label_map.labels
    assert test_result.failures == []


def test_metrics_fields(test_result):
    metrics = test_result.metrics()
    assert set(metrics) == {"map3", "accuracy", "n_clips", "n_failed", "n_unknown_label", "per_class_ap"}
    assert metrics["n_unknown_label"] == 0
    probs, targets = test_result.probabilities, test_result.targets
    assert metrics["map3"] == map_at_k(probs, targets, 3)
    assert metrics["accuracy"] == accuracy(probs, targets)
    assert metrics["n_clips"] == 34 and metrics["n_failed"] == 0
    assert list(metrics["per_class_ap"]) == test_result.labels
    ap = per_class_average_precision(probs, targets)
    for value, expected in zip(metrics["per_class_ap"].values(), ap):
        assert value == (None if np.isnan(expected) else round(float(expected), 4))
    json.dumps(metrics)  # JSON-ready (no NaN, no numpy scalars that json refuses)


def test_probabilities_match_the_tagger_on_cached_features(test_result, tagger, corpus, feature_cache_dir):
    cache = FeatureCache(feature_cache_dir, tagger.config.audio, tagger.config.features)
    first = tagger.probabilities([cache.load(clip.path) for clip in corpus.test[:5]])
    np.testing.assert_allclose(test_result.probabilities[:5], first, atol=1e-6)


def test_an_absent_class_has_no_average_precision(tagger, corpus, feature_cache_dir):
    clips = [c for c in corpus.test if c.label in ("Telephone", "Flute")]
    metrics = evaluate_clips(tagger, clips, str(feature_cache_dir), progress=False).metrics()
    assert metrics["n_clips"] == len(clips)
    present = {k for k, v in metrics["per_class_ap"].items() if v is not None}
    assert present == {"Telephone", "Flute"}


def test_unlabelled_clips_and_unknown_labels_are_left_out(tagger, corpus, feature_cache_dir):
    clips = corpus.test[:4]
    mixed = [clips[0], replace(clips[1], labels=()), replace(clips[2], labels=("Didgeridoo",)), clips[3]]
    result = evaluate_clips(tagger, mixed, str(feature_cache_dir), progress=False)
    assert result.fnames == [clips[0].fname, clips[3].fname]
    assert result.unknown == [(clips[2].fname, "Didgeridoo")] and result.metrics()["n_unknown_label"] == 1
    assert result.describe_unknown().startswith("skipped 1 of 4 clips whose label the run does not know: 'Didgeridoo'")


def test_a_corrupt_clip_is_listed_as_failed(tagger, corpus, feature_cache_dir, tmp_path):
    bad = Clip("bad.wav", write_corrupt_audio(tmp_path / "bad.wav"), corpus.test[0].labels)
    result = evaluate_clips(tagger, [corpus.test[0], bad, corpus.test[1]], str(feature_cache_dir), progress=False)
    assert result.fnames == [corpus.test[0].fname, corpus.test[1].fname]
    assert [path for path, _ in result.failures] == [str(bad.path)]
    assert result.metrics()["n_failed"] == 1 and result.metrics()["n_clips"] == 2


def most_frequent_train_labels() -> list[str]:
    """The three most frequent train.csv labels (ties: the label seen first), computed independently."""
    labels = [row["label"] for row in read_rows(DEMO / "train.csv")]
    counts = Counter(labels)
    return sorted(counts, key=lambda label: (-counts[label], labels.index(label)))[:3]


def test_submission_rows(tagger, corpus, feature_cache_dir, tmp_path, test_result):
    bad = Clip("zz-corrupt.wav", write_corrupt_audio(tmp_path / "zz-corrupt.wav"))
    clips = corpus.test[:10] + [bad] + corpus.test[10:]
    path = tmp_path / "out" / "submission.csv"
    failures = write_submission(path, tagger, clips, corpus.train, str(feature_cache_dir), progress=False)
    assert [p for p, _ in failures] == [str(bad.path)]
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["fname", "label"]
        rows = list(reader)
    assert [fname for fname, _ in rows] == [c.fname for c in clips]
    for _, labels in rows:
        parts = labels.split(" ")
        assert len(parts) == 3 and len(set(parts)) == 3
        assert all(label in tagger.label_map for label in parts)
    assert rows[10][1] == " ".join(most_frequent_train_labels())
    # the other rows are the top 3 of the evaluated probabilities
    expected = [" ".join(tagger.label_map.label(int(i)) for i in row) for row in top_k(test_result.probabilities, 3)]
    assert [labels for _, labels in rows[:10] + rows[11:]] == expected


def test_a_submission_for_test_clips_without_labels(tagger, corpus, feature_cache_dir, tmp_path):
    clips = [replace(c, labels=()) for c in corpus.test[:3]]
    path = tmp_path / "submission.csv"
    assert write_submission(path, tagger, clips, corpus.train, str(feature_cache_dir), progress=False) == []
    assert path.read_text().splitlines()[0] == "fname,label"
    assert len(path.read_text().splitlines()) == 4


def test_evaluate_split_writes_the_metrics_beside_the_run(tagger, corpus, feature_cache_dir, test_result):
    result, metrics = evaluate_split(tagger, corpus, "test", str(feature_cache_dir), progress=False)
    out = RunFolder(tagger.run_dir).evaluation_dir("test")
    assert out == tagger.run_dir / "eval-test"
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics == {"split": "test", "corpus": str(corpus.root), **test_result.metrics()}
    assert result.fnames == test_result.fnames
    assert not (out / "confusion.png").exists()  # pictures are the reports stage's


def test_evaluate_split_refuses_a_split_without_clips(tagger, corpus, feature_cache_dir):
    with pytest.raises(SoundtagError, match="no test clips"):
        evaluate_split(tagger, replace(corpus, test=[]), "test", str(feature_cache_dir), progress=False)


def test_score_run_gives_the_test_probabilities_and_the_validation_score(tiny_run, feature_cache_dir, test_result):
    scores = score_run(tiny_run, str(DEMO), str(feature_cache_dir), progress=False)
    assert scores.run_dir == tiny_run
    assert scores.val_score == float(load_checkpoint(tiny_run / "best.pt")["score"])
    assert scores.fnames == test_result.fnames and scores.labels == test_result.labels
    np.testing.assert_allclose(scores.probabilities, test_result.probabilities, atol=1e-6)
    assert scores.targets.tolist() == test_result.targets.tolist()
