"""End to end: ``soundtag experiment`` on a tiny config of the demo corpus writes every stage,
summary.json and a report with every table and picture; the stage commands work on their own.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from soundtag.cli.main import main
from soundtag.config import load_config
from tests.helpers import REPO_ROOT
from tests.training.tiny_run import single_thread_torch

TINY = [
    "--set", "train.epochs=2", "--set", "model.channels=[8,16]", "--set", "model.fc_dim=32",
    "--set", "train.crop_seconds=1.0", "--set", "features.n_mels=32", "--set", "data.num_workers=1",
    "--set", "autoencoder.latent_dim=64", "--set", "autoencoder.channels=[8,8]", "--set", "autoencoder.epochs=2",
    "--set", "autoencoder.input_frames=32", "--set", "autoencoder.lr=0.001",
    "--set", "selftrain.rounds=2", "--set", "selftrain.epochs_per_round=1",
    "--set", "selftrain.lower_start=0.2", "--set", "selftrain.lower_end=0.1",
]
CONFIG = str(REPO_ROOT / "configs" / "experiment-demo.yaml")


@pytest.fixture(scope="module")
def experiment_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiment")
    with single_thread_torch():
        code = main(["experiment", CONFIG, *TINY, "--cache-dir", str(out / "cache"), "--out-dir", str(out / "exp"),
                     "--quiet"])
    assert code == 0
    return out


@pytest.mark.e2e
def test_summary_has_every_stage(experiment_dir):
    summary = json.loads((experiment_dir / "exp" / "summary.json").read_text())
    assert set(summary["stages"]) == {"all_labels", "verified", "promoted", "selftrain", "ensemble"}
    for stage in summary["stages"].values():
        assert 0.0 <= stage["accuracy"] <= stage["map3"] <= 1.0
        assert stage["n_clips"] == 34


@pytest.mark.e2e
def test_report_contains_every_table_and_picture(experiment_dir):
    page = (experiment_dir / "exp" / "report.html").read_text()
    for heading in ("Results per stage", "Label spreading", "Autoencoder", "Self-training", "Stage: promoted",
                    "Stage: ensemble", "First-layer filters", "groups of scheme", "all schemes", "per round"):
        assert heading in page
    for caption in ("t-SNE before spreading", "t-SNE after spreading", "originals (top) and reconstructions",
                    "all_labels: training curves", "promoted (test): confusion matrix", "filters", "activations"):
        assert caption in page
    for fact in ("configs/experiment-demo.yaml --set train.epochs=2", "data/demo", "34 clips",
                 "standard error of MAP@3", "wrong labels caught %"):
        assert fact in page
    assert page.count("data:image/png;base64,") >= 14


@pytest.mark.e2e
def test_stage_outputs(experiment_dir):
    exp = experiment_dir / "exp"
    promoted = pd.read_csv(exp / "spread-music2" / "promoted.csv")
    train = pd.read_csv(REPO_ROOT / "data" / "demo" / "train.csv")
    given = dict(zip(train["fname"], train["label"]))
    unverified = set(train["fname"][train["manually_verified"] == 0])
    assert set(promoted["fname"]) <= unverified
    assert all(given[f] == label for f, label in zip(promoted["fname"], promoted["label"]))
    rounds = pd.read_csv(exp / "runs" / "selftrain" / "rounds.csv")
    assert list(rounds["round"]) == [1, 2] and rounds["clips_used"].is_monotonic_increasing
    compare = pd.read_csv(exp / "spread-compare.csv")
    assert list(compare["scheme"]) == ["all", "music2", "groups3", "groups5"]
    assert (exp / "autoencoder" / "latents.npz").is_file()
    submission = pd.read_csv(exp / "ensemble" / "submission.csv")
    assert len(submission) == 34 and all(len(s.split()) == 3 for s in submission["label"])


def finished_stage_files(exp: Path) -> dict[str, tuple[int | None, str]]:
    """What each trained stage leaves, as (mtime_ns, SHA-256): every classifier run's metrics.csv and
    best.pt (self-training rounds included) and the autoencoder's latents.npz. An epoch trained again
    would change metrics.csv (its wall-clock seconds) and touch best.pt; metrics.csv and latents.npz
    are rewritten with the same bytes by a resumed run, so only their content counts (mtime None).
    """
    files = {p: p.stat().st_mtime_ns for p in sorted(exp.glob("runs/**/best.pt"))}
    files.update({p: None for p in sorted(exp.glob("runs/**/metrics.csv"))})
    files[exp / "autoencoder" / "latents.npz"] = None
    return {p.relative_to(exp).as_posix(): (mtime, hashlib.sha256(p.read_bytes()).hexdigest())
            for p, mtime in files.items()}


@pytest.mark.e2e
def test_rerun_reuses_finished_stages(experiment_dir, capsys):
    exp = experiment_dir / "exp"
    before = finished_stage_files(exp)
    runs = {Path(name).parent.as_posix() for name in before if name.endswith("best.pt")}
    assert {"runs/all_labels", "runs/verified", "runs/promoted", "runs/selftrain/round-1",
            "runs/selftrain/round-2"} <= runs
    with single_thread_torch():
        code = main(["experiment", CONFIG, *TINY, "--cache-dir", str(experiment_dir / "cache"),
                     "--out-dir", str(exp), "--quiet"])
    assert code == 0
    assert "ensemble: test MAP@3" in capsys.readouterr().out
    assert finished_stage_files(exp) == before  # no epoch trained again, no latents changed


@pytest.mark.e2e
def test_spread_compare_and_ensemble_commands(experiment_dir, capsys):
    exp = experiment_dir / "exp"
    assert main(["spread", str(exp / "autoencoder"), "--compare", "--out-dir", str(experiment_dir / "cmp"),
                 "--quiet"]) == 0
    assert "groups5" in capsys.readouterr().out
    runs = [str(exp / "runs" / name) for name in ("all_labels", "verified", "promoted")]
    assert main(["ensemble", *runs, "--method", "weighted", "--out-dir", str(experiment_dir / "ens"), "--json",
                 "--quiet"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n_clips"] == 34 and len(metrics["runs"]) == 3
    assert main(["ensemble", *runs, "--min-score", "1.01", "--out-dir", str(experiment_dir / "ens2"), "--quiet"]) == 2


RECIPE = ["--set", "recipe.members=2", "--set", "recipe.cleaner=confident",
          "--set", "recipe.overrides=[train.augment.mixup_alpha=0.3, train.unverified_weight=0.5, train.labels=all]"]


@pytest.mark.e2e
def test_second_recipe_trains_beside_the_reused_seed_stages(experiment_dir, capsys):
    exp = experiment_dir / "exp"
    before = (exp / "runs" / "promoted" / "metrics.csv").read_text()
    with single_thread_torch():
        code = main(["experiment", CONFIG, *TINY, *RECIPE, "--cache-dir", str(experiment_dir / "cache"),
                     "--out-dir", str(exp), "--quiet"])
    assert code == 0
    assert "recipe recipe: test MAP@3" in capsys.readouterr().out
    assert (exp / "runs" / "promoted" / "metrics.csv").read_text() == before  # the 2018 stages were reused
    summary = json.loads((exp / "summary.json").read_text())
    dcase2018, recipe = summary["recipes"]["dcase2018"], summary["recipes"]["recipe"]
    assert recipe["members"] == 2 and len(recipe["runs"]) == 2
    assert 0.0 < recipe["train_minutes"] and 0.0 < dcase2018["train_minutes"]
    assert {"recipe_1", "recipe_2", "recipe_ensemble"} <= set(summary["stages"])
    first, second = (load_config(exp / "runs" / f"recipe-{i}" / "config.yaml") for i in (1, 2))
    assert second.seed == first.seed + 1 and first.train.augment.mixup_alpha == 0.3
    assert first.train.extra_labels.endswith("clean-confident/promoted.csv")
    cleaners = {row["cleaner"]: row for row in summary["cleaners"]}
    assert set(cleaners) == {"label spreading (music2)", "confident learning"}
    for row in cleaners.values():
        assert 0.0 <= row["promoted_precision"] <= 1.0 and 0.0 <= row["wrong_caught_pct"] <= 100.0
    page = (exp / "report.html").read_text()
    assert "Recipes side by side" in page and "confident cleaner, 2-member ensemble" in page


def test_only_the_experiment_command_imports_the_experiment():
    """The recipe chains the library's stages; no stage or plain command imports it."""
    importers = set()
    for path in (REPO_ROOT / "src" / "soundtag").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n == "soundtag.experiment" or n.startswith("soundtag.experiment.") for n in names):
                importers.add(path.relative_to(REPO_ROOT / "src").as_posix())
    assert importers == {"soundtag/cli/labels.py"}
