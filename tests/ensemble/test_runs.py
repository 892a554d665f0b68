"""Ensembles of runs: chosen by validation score, aligned on their common clips, weighted in the
order the runs were given, and written as metrics.json and a Kaggle submission."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from soundtag.ensemble import RunScores, combine_probabilities, ensemble_runs, write_ensemble
from soundtag.errors import SoundtagError
from soundtag.training import accuracy, map_at_k

LABELS = ["a", "b", "c", "d"]


def run(name: str, val: float, fnames: list[str], seed: int) -> RunScores:
    """Scores of a made-up run; the target of clip ``cN`` is class ``N % 4``."""
    probs = np.random.default_rng(seed).dirichlet(np.ones(len(LABELS)), size=len(fnames))
    targets = np.array([int(f[1:]) % len(LABELS) for f in fnames])
    return RunScores(Path(name), val, fnames, probs, targets, list(LABELS))


@pytest.fixture
def runs() -> dict[str, RunScores]:
    return {"r1": run("r1", 0.5, ["c0", "c1", "c2", "c3", "c4"], 0),
            "r2": run("r2", 0.7, ["c4", "c2", "c0", "c1"], 1),  # another order, c3 missing
            "r3": run("r3", 0.2, ["c0", "c1", "c2", "c4"], 2)}


def rows_of(scores: RunScores, fnames: list[str]) -> np.ndarray:
    return np.array([scores.probabilities[scores.fnames.index(f)] for f in fnames])


def test_runs_above_the_minimum_are_aligned_on_their_common_clips(runs):
    result = ensemble_runs(runs, "arithmetic", 0.3)
    assert result.runs == ["r2", "r1"]  # best validation score first; r3 is below the minimum
    assert result.fnames == ["c0", "c1", "c2", "c4"]
    expected = (rows_of(runs["r2"], result.fnames) + rows_of(runs["r1"], result.fnames)) / 2
    np.testing.assert_allclose(result.probabilities, expected / expected.sum(axis=1, keepdims=True))
    assert result.targets.tolist() == [0, 1, 2, 0]
    assert result.labels == LABELS and result.weights is None


def test_weighted_without_weights_uses_the_validation_scores(runs):
    result = ensemble_runs(runs, "weighted", 0.0)
    assert result.runs == ["r2", "r1", "r3"] and result.weights == [0.7, 0.5, 0.2]


def test_given_weights_follow_the_runs_as_given(runs):
    result = ensemble_runs(runs, "weighted", 0.3, [1.0, 2.0, 3.0])
    assert result.weights == [2.0, 1.0]  # r2's and r1's, in the chosen order
    fnames = result.fnames
    expected = combine_probabilities([rows_of(runs["r2"], fnames), rows_of(runs["r1"], fnames)], "weighted", [2, 1])
    np.testing.assert_allclose(result.probabilities, expected)


def test_refusals(runs):
    with pytest.raises(SoundtagError, match="minimum validation score 0.9"):
        ensemble_runs(runs, "geometric", 0.9)
    with pytest.raises(SoundtagError, match="one weight per run"):
        ensemble_runs(runs, "weighted", 0.0, [1.0, 2.0])
    other = dict(runs, r4=RunScores(Path("r4"), 0.9, ["c0"], np.ones((1, 4)) / 4, np.array([0]), ["a", "b", "c", "e"]))
    with pytest.raises(SoundtagError, match="share one label set"):
        ensemble_runs(other, "geometric", 0.0)


def test_written_metrics_and_submission(runs, tmp_path):
    result = ensemble_runs(runs, "geometric", 0.0)
    metrics = write_ensemble(result, tmp_path / "ens")
    assert json.loads((tmp_path / "ens" / "metrics.json").read_text()) == metrics
    assert metrics == {"method": "geometric", "runs": ["r2", "r1", "r3"], "weights": None,
                       "map3": map_at_k(result.probabilities, result.targets, 3),
                       "accuracy": accuracy(result.probabilities, result.targets), "n_clips": 4}
    submission = pd.read_csv(tmp_path / "ens" / "submission.csv")
    assert list(submission["fname"]) == result.fnames
    for row, labels in zip(result.probabilities, submission["label"]):
        best = [LABELS[i] for i in np.argsort(-row)[:3]]
        assert labels.split() == best


def test_collapsed_runs_are_left_out_with_the_reason_unless_kept(tmp_path):
    fnames = ["c0", "c1", "c2", "c3", "c4"]
    one_class = RunScores(tmp_path / "flat", 0.9, fnames, np.tile([0.7, 0.1, 0.1, 0.1], (5, 1)),
                          np.arange(5) % 4, list(LABELS))
    runs = {"flat": one_class, "ok": run("ok", 0.5, fnames, 0)}
    assert one_class.collapse_reason() == "predicts 'a' for 100 % of the test clips"
    left = ensemble_runs(runs, "arithmetic", 0.0, keep_collapsed=False)
    assert left.runs == ["ok"] and left.left_out == {"flat": "collapsed: predicts 'a' for 100 % of the test clips"}
    assert left.metrics()["left_out"] == left.left_out
    assert ensemble_runs(runs, "arithmetic", 0.0).runs == ["flat", "ok"]  # kept by default
    assert ensemble_runs({"flat": one_class}, "arithmetic", 0.0, keep_collapsed=False).runs == ["flat"]  # none else


def test_a_best_first_epoch_of_several_is_a_collapse(tmp_path):
    from soundtag.ensemble import collapse_reason
    from soundtag.ensemble.runs import best_epoch

    (tmp_path / "metrics.csv").write_text("epoch,loss,val_map3\n1,2.0,0.3\n2,1.9,0.2\n3,1.8,0.3\n")
    assert best_epoch(tmp_path) == (1, 3)
    assert collapse_reason((1, 3), ("a", 0.2)).startswith("best epoch 1 of 3")
    assert collapse_reason((1, 1), ("a", 0.8)) is None  # one epoch run, and exactly 80 % is not "most"
