"""The experiment's typed summary gives summary.json's content; its parts, the verdict sentence and
the confusion pictures of scored runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from soundtag.config import RecipeConfig
from soundtag.ensemble import RunScores, ensemble_runs
from soundtag.reports import (
    ExperimentSummary,
    RecipeSummary,
    StageScores,
    cleaner_summary,
    latent_verdict,
    map3_standard_error,
    plot_ensemble_confusion,
    plot_run_confusion,
    recipe_sections,
    spreading_summary,
    training_minutes,
)
from soundtag.training import accuracy, map_at_k

COMPARE = pd.DataFrame({"scheme": ["all", "music2"], "groups": [1, 2], "promoted": [np.int64(10), np.int64(12)],
                        "promoted_pct": [40.0, 48.0], "promoted_precision": [0.9, 0.95],
                        "wrong_caught_pct": [50.0, 60.0]})


def scores(name: str, val: float) -> RunScores:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    return RunScores(Path(name), val, ["x", "y", "z"], probs, np.array([0, 1, 0]), ["a", "b", "c"])


def run_folder(path: Path, seconds: list[float]) -> Path:
    path.mkdir(parents=True)
    pd.DataFrame({"epoch": range(1, len(seconds) + 1), "seconds": seconds}).to_csv(path / "metrics.csv", index=False)
    return path


def test_stage_scores_of_a_run_and_of_an_ensemble():
    run = scores("r", 0.8)
    stage = StageScores.of_run(run)
    assert stage.to_dict() == {"map3": map_at_k(run.probabilities, run.targets, 3),
                               "accuracy": accuracy(run.probabilities, run.targets), "n_clips": 3, "val_map3": 0.8,
                               "map3_se": map3_standard_error(run.probabilities, run.targets), "top_class": "a",
                               "top_class_share": 2 / 3}
    assert stage.map3_se == pytest.approx(np.std([1.0, 1.0, 0.5], ddof=1) / np.sqrt(3))
    result = ensemble_runs({"r": run, "s": scores("s", 0.9)}, "arithmetic", 0.0)
    assert list(StageScores.of_ensemble(result).to_dict()) == ["map3", "accuracy", "n_clips", "runs", "method",
                                                               "map3_se", "top_class", "top_class_share"]
    assert StageScores.of_ensemble(result).runs == ["s", "r"]


def test_summary_dict_is_summary_json(tmp_path):
    dcase2018_dirs = [run_folder(tmp_path / "a", [30.0, 30.0]), run_folder(tmp_path / "b", [60.0])]
    member_dirs = [run_folder(tmp_path / "m", [6.0])]
    ensemble = StageScores(0.9, 0.8, 34, runs=["promoted"], method="geometric")
    recipe = RecipeConfig(members=1, cleaner="confident", overrides=["train.labels=all"])
    summary = ExperimentSummary(
        stages={"promoted": StageScores(0.85, 0.75, 34, val_map3=0.8), "ensemble": ensemble},
        seconds={"promoted": 2.5, "ensemble": 0.4}, spread_scheme="music2", spread_embedding="latent",
        spreading=spreading_summary(COMPARE, None),
        recipes={"dcase2018": RecipeSummary.of(ensemble, dcase2018_dirs),
                 "recipe": RecipeSummary.of(ensemble, member_dirs, recipe)},
        cleaners=cleaner_summary(COMPARE, COMPARE.iloc[[1]], "music2"))
    expected = {
        "stages": {"promoted": {"map3": 0.85, "accuracy": 0.75, "n_clips": 34, "val_map3": 0.8},
                   "ensemble": {"map3": 0.9, "accuracy": 0.8, "n_clips": 34, "runs": ["promoted"],
                                "method": "geometric"}},
        "seconds": {"promoted": 2.5, "ensemble": 0.4}, "spread_scheme": "music2", "spread_embedding": "latent",
        "spreading": {"embedding": {
            "all": {"promoted": 10.0, "promoted_pct": 40.0, "promoted_precision": 0.9, "wrong_caught_pct": 50.0},
            "music2": {"promoted": 12.0, "promoted_pct": 48.0, "promoted_precision": 0.95, "wrong_caught_pct": 60.0}}},
        "recipes": {"dcase2018": {"map3": 0.9, "accuracy": 0.8, "train_minutes": 2.0, "runs": [str(d) for d in dcase2018_dirs]},
                    "recipe": {"map3": 0.9, "accuracy": 0.8, "train_minutes": 0.1, "runs": [str(member_dirs[0])],
                               "members": 1, "cleaner": "confident", "overrides": ["train.labels=all"]}},
        "cleaners": [{"cleaner": "label spreading (music2)", "promoted": 12, "promoted_pct": 48.0,
                      "promoted_precision": 0.95, "wrong_caught_pct": 60.0},
                     {"cleaner": "confident learning", "promoted": 12, "promoted_pct": 48.0,
                      "promoted_precision": 0.95, "wrong_caught_pct": 60.0}],
    }
    assert summary.to_dict() == expected
    summary.write(tmp_path / "summary.json")
    text = (tmp_path / "summary.json").read_text()
    assert json.loads(text) == expected and list(json.loads(text)) == list(expected)
    assert '"promoted": 12.0' in text  # numpy integers are written as JSON numbers, as before


def test_a_summary_without_a_second_recipe_has_no_cleaners_and_no_recipe_section(tmp_path):
    final = StageScores(0.5, 0.4, 3, runs=["a"], method="geometric")
    summary = ExperimentSummary({"ensemble": final}, {}, "all", "mfcc_stats", {}, {
        "dcase2018": RecipeSummary.of(final, [run_folder(tmp_path / "a", [6.0])])})
    assert "cleaners" not in summary.to_dict()
    assert list(summary.to_dict()["recipes"]["dcase2018"]) == ["map3", "accuracy", "train_minutes", "runs"]
    assert recipe_sections(tmp_path, summary) == []
    assert training_minutes(tmp_path / "a") == pytest.approx(0.1)


def test_spreading_summary_keeps_the_reference_apart():
    reference = COMPARE.assign(promoted_precision=[0.8, 0.99])
    result = spreading_summary(COMPARE, reference)
    assert set(result) == {"embedding", "mfcc_reference"}
    assert result["mfcc_reference"]["music2"]["promoted_precision"] == 0.99


def test_latent_verdict_judges_the_scheme_that_ran():
    assert "match or beat" in latent_verdict(COMPARE, COMPARE.assign(promoted_pct=[10.0, 10.0]), "music2")
    worse = latent_verdict(COMPARE, COMPARE.assign(promoted_precision=[0.5, 0.99]), "music2")
    assert "do NOT match" in worse and "'music2'" in worse and "'all'" not in worse and "0.990" in worse
    assert "match or beat" in latent_verdict(COMPARE, COMPARE.assign(promoted_precision=[0.5, 0.99]), "all")
    assert "No train_truth.csv" in latent_verdict(COMPARE.drop(columns="promoted_precision"), COMPARE)


def test_confusion_pictures_of_a_run_and_an_ensemble(tmp_path):
    run = scores(str(tmp_path / "run"), 0.5)
    path = plot_run_confusion(run, run.run_dir, "test")
    assert path == tmp_path / "run" / "eval-test" / "confusion.png"
    assert path.read_bytes()[:4] == b"\x89PNG"
    result = ensemble_runs({"r": run}, "geometric", 0.0)
    assert plot_ensemble_confusion(result, tmp_path / "ens").read_bytes()[:4] == b"\x89PNG"
