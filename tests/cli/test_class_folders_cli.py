"""A user's own folder of class subfolders, end to end through the CLI: corpus, train, evaluate, tag.

The corpus is the demo's train clips as ``ROOT/<given label>/<file>`` links, with no ``test/``
folder, so soundtag draws the test split from the seed, records it with the run, and ``evaluate``
scores exactly the clips training left out.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from soundtag.cli.main import main
from tests.helpers import DEMO, Result, read_rows
from tests.training.tiny_run import DEMO_CONFIG, TINY, shared_cache_dir, single_thread_torch

pytestmark = pytest.mark.e2e


def run_cli(capsys, *args: object) -> Result:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("my-sounds")
    for row in read_rows(DEMO / "train.csv"):
        folder = root / row["label"]
        folder.mkdir(exist_ok=True)
        (folder / row["fname"]).symlink_to(DEMO / "audio_train" / row["fname"])
    return root


@pytest.fixture(scope="module")
def trained(class_folders, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("class-run") / "run"
    sets = [item for override in TINY for item in ("--set", override)]
    with single_thread_torch():
        code = main(["train", str(DEMO_CONFIG), "--corpus", str(class_folders), "--out-dir", str(run_dir), "--quiet",
                     "--cache-dir", str(shared_cache_dir(tmp_path_factory)), *sets])
    assert code == 0
    return run_dir


def test_corpus_says_what_it_understood(class_folders, capsys):
    result = run_cli(capsys, "corpus", class_folders, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["layout"] == "class_folders"
    assert summary["labels"] == sorted({r["label"] for r in read_rows(DEMO / "train.csv")})
    assert summary["clips"]["test"] and summary["split_note"]


def test_training_records_the_drawn_test_split(trained, class_folders):
    split = read_rows(trained / "split.csv")
    tested = [row["fname"] for row in split if row["split"] == "test"]
    assert tested and len(tested) < len(split) == len(read_rows(DEMO / "train.csv"))
    per_class = Counter(Path(fname).parts[0] for fname in tested)
    assert set(per_class) <= {r["label"] for r in read_rows(DEMO / "train.csv")}


def test_evaluate_scores_exactly_the_clips_training_left_out(trained, capsys):
    result = run_cli(capsys, "evaluate", trained, "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    tested = [row for row in read_rows(trained / "split.csv") if row["split"] == "test"]
    assert metrics["n_clips"] == len(tested) and 0.0 <= metrics["accuracy"] <= metrics["map3"] <= 1.0


def test_tag_a_clip_of_the_folder(trained, class_folders, capsys):
    clip = next(class_folders.glob("*/*.flac"))
    result = run_cli(capsys, "tag", trained, clip, "--format", "jsonl", "--quiet")
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    labels = {r["label"] for r in read_rows(DEMO / "train.csv")}
    assert record["tags"] and {tag["label"] for tag in record["tags"]} <= labels
