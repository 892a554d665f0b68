"""``soundtag train``, ``evaluate``, ``predict`` and ``tag`` end to end on the demo corpus.

The real program runs as a subprocess to train, evaluate --json, tag a folder, report a user error,
and for the kill -9 test; the other checks call ``soundtag.cli.main.main`` in this process (the same
code without the few seconds each new process spends importing torch). Every run is a
tiny model on 1 s windows of 32 mel bands, single-threaded, with features in a temporary cache.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from soundtag.audio import load_audio
from soundtag.cli.main import main
from soundtag.training import load_checkpoint
from tests.helpers import DEMO, Result, assert_user_error, read_rows, write_corrupt_audio
from tests.training.tiny_run import (
    DEMO_CONFIG,
    EPOCHS,
    TINY,
    assert_same_run,
    shared_cache_dir,
    single_thread_torch,
    subprocess_env,
)

pytestmark = pytest.mark.e2e

DEMO_FILE = DEMO / "audio_test" / "01423593.flac"
TIMEOUT = 300


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("train-cli")


@pytest.fixture(scope="module")
def env(workspace) -> dict[str, str]:
    home = workspace / "xdg-cache"
    home.mkdir()
    return subprocess_env(home)


@pytest.fixture(scope="module")
def train_args(tmp_path_factory) -> list[str]:
    """``soundtag train`` arguments of the tiny demo run (add ``--out-dir``)."""
    args = ["train", str(DEMO_CONFIG), "--cache-dir", str(shared_cache_dir(tmp_path_factory)), "--quiet"]
    for override in TINY:
        args += ["--set", override]
    return args


def soundtag(args: list[str], env: dict[str, str], cwd: Path) -> Result:
    proc = subprocess.run([sys.executable, "-m", "soundtag", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def in_process(capsys, args: list[str]) -> Result:
    """``soundtag ARGS`` through the CLI entry point in this process."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture(scope="module")
def cli_run(workspace, env, train_args) -> tuple[Path, Result]:
    """The tiny demo run trained by the real program (3 epochs)."""
    run_dir = workspace / "run"
    return run_dir, soundtag([*train_args, "--out-dir", run_dir], env, workspace)


@pytest.fixture(scope="module")
def tag_inputs(workspace) -> Path:
    """A folder of audio: a demo clip two levels down, an 8 kHz 3.5 s file, a corrupt file, a text file."""
    folder = workspace / "to-tag"
    (folder / "sub" / "deep").mkdir(parents=True)
    shutil.copy(DEMO_FILE, folder / "sub" / "deep" / "a.flac")
    signal_8k = np.tile(load_audio(DEMO_FILE, 8000), 5)[: int(3.5 * 8000)]
    sf.write(folder / "b.wav", signal_8k, 8000)
    write_corrupt_audio(folder / "bad.wav")
    (folder / "notes.txt").write_text("not audio, not listed")
    return folder


@pytest.fixture(scope="module")
def pipeline(cli_run, workspace, env, tag_inputs) -> dict[str, Result]:
    """After training, evaluate, tag and a user error as real subprocesses, two at a time."""
    run_dir, trained = cli_run
    assert trained.returncode == 0, trained.stderr
    (workspace / "empty").mkdir()
    commands = {
        "evaluate": ["evaluate", run_dir, "--json", "--quiet"],
        "tag": ["tag", run_dir, tag_inputs, "--quiet"],
        "resume-empty": ["train", "--resume", workspace / "empty"],
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(soundtag, args, env, workspace) for name, args in commands.items()}
        return {name: future.result() for name, future in futures.items()}


# ---------------------------------------------------------------------------------------------
# train


def test_train_writes_a_complete_run_folder(cli_run):
    run_dir, result = cli_run
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.fullmatch(rf"best val MAP@3 \d\.\d{{4}} at epoch \d of {EPOCHS}; run: {re.escape(str(run_dir))}\n",
                        result.stdout), result.stdout  # the result, once
    assert result.stderr.splitlines()[-1] == f"next: soundtag evaluate {run_dir}"
    names = {p.name for p in run_dir.iterdir()}
    assert names >= {"config.yaml", "manifest.json", "label_map.json", "metrics.csv", "best.pt", "last.pt", "train.log",
                     "curves.png"}
    assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(run_dir / "metrics.csv")["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert load_checkpoint(run_dir / "last.pt")["epoch"] == EPOCHS
    log = (run_dir / "train.log").read_text()
    assert "model vgg_small:" in log and f"epoch {EPOCHS}:" in log and "done: best val MAP@3" in log
    assert len(json.loads((run_dir / "label_map.json").read_text())["labels"]) == 11
    assert not list(run_dir.glob("*.tmp*")) and not list(run_dir.glob(".*"))


def test_the_saved_config_holds_every_override(cli_run, tmp_path_factory):
    from soundtag.config import load_config

    run_dir, _ = cli_run
    config = load_config(run_dir / "config.yaml")
    assert (config.train.epochs, config.model.channels, config.model.fc_dim) == (EPOCHS, [8, 16], 32)
    assert (config.train.crop_seconds, config.features.n_mels) == (1.0, 32)
    assert Path(config.data.corpus) == DEMO.resolve()
    assert Path(config.data.cache_dir) == shared_cache_dir(tmp_path_factory).resolve()


def test_the_saved_config_reproduces_the_run(cli_run, workspace, capsys):
    run_dir, _ = cli_run
    other = workspace / "reproduced"
    result = in_process(capsys, ["train", run_dir / "config.yaml", "--out-dir", other, "--quiet"])
    assert result.returncode == 0, result.stderr
    assert_same_run(run_dir, other)
    assert (other / "config.yaml").read_text() == (run_dir / "config.yaml").read_text()


def test_the_same_train_command_again_resumes_the_finished_run(cli_run, workspace, train_args, capsys):
    run_dir, _ = cli_run
    copy = workspace / "again"
    shutil.copytree(run_dir, copy)
    result = in_process(capsys, [*train_args, "--out-dir", copy])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("already finished: best val MAP@3")
    log = (copy / "train.log").read_text()
    assert f"already finished after epoch {EPOCHS}" in log and "resumed" not in log
    assert_same_run(run_dir, copy)


def test_another_config_on_a_run_folder_is_refused(cli_run, workspace, train_args, capsys):
    run_dir, _ = cli_run
    copy = workspace / "taken"
    shutil.copytree(run_dir, copy)
    result = in_process(capsys, [*train_args, "--set", "train.lr=0.01", "--out-dir", copy])
    assert_user_error(result, "already holds a run of another config", "--resume", only_line=True)
    assert (copy / "config.yaml").read_text() == (run_dir / "config.yaml").read_text()


def test_a_run_killed_after_epoch_one_resumes_to_the_same_result(cli_run, workspace, env, train_args, capsys):
    run_dir, _ = cli_run
    killed = workspace / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "soundtag", *map(str, train_args), "--out-dir", str(killed)],
                            cwd=workspace, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    metrics = killed / "metrics.csv"
    deadline = time.monotonic() + TIMEOUT
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    done = load_checkpoint(killed / "last.pt")["epoch"]
    assert 1 <= done < EPOCHS, f"killed after epoch {done}: nothing left to resume"

    result = in_process(capsys, ["train", "--resume", killed, "--quiet"])
    assert result.returncode == 0, result.stderr
    assert f"resumed after epoch {done}" in (killed / "train.log").read_text()
    assert (killed / "curves.png").is_file()
    assert_same_run(run_dir, killed)


def test_a_finished_run_extended_with_more_epochs_ends_as_a_longer_run(cli_run, workspace, train_args, capsys):
    run_dir, _ = cli_run
    extended = workspace / "extended"
    shutil.copytree(run_dir, extended)
    result = in_process(capsys, ["train", "--resume", extended, "--set", f"train.epochs={EPOCHS + 1}", "--quiet"])
    assert result.returncode == 0, result.stderr
    longer = workspace / "longer"
    result = in_process(capsys, [*train_args, "--set", f"train.epochs={EPOCHS + 1}", "--out-dir", longer])
    assert result.returncode == 0, result.stderr
    assert_same_run(longer, extended)
    assert (extended / "config.yaml").read_text() == (longer / "config.yaml").read_text()


def test_a_second_train_on_the_same_folder_is_refused_while_the_first_runs(workspace, env, train_args, capsys):
    shared = workspace / "shared-out"
    first = subprocess.Popen([sys.executable, "-m", "soundtag", *map(str, train_args), "--out-dir", str(shared)],
                             cwd=workspace, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lock = shared / ".soundtag.lock"
    deadline = time.monotonic() + TIMEOUT
    while first.poll() is None and time.monotonic() < deadline and not (lock.is_file() and lock.read_text()):
        time.sleep(0.01)
    try:
        assert first.poll() is None, "the first run ended before the second could start"
        second = in_process(capsys, [*train_args, "--out-dir", shared])
        assert_user_error(second, str(shared), f"in use by process {first.pid} on ", only_line=True)
    finally:
        _, err = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, err
    assert pd.read_csv(shared / "metrics.csv")["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert not lock.exists()


def test_a_folder_holding_other_files_is_refused_and_left_alone(workspace, train_args, capsys):
    foreign = workspace / "foreign"
    foreign.mkdir()
    (foreign / "metrics.csv").write_text("mine\n")
    (foreign / "config.yaml").write_text("title: my notes\n")
    result = in_process(capsys, [*train_args, "--out-dir", foreign])
    assert_user_error(result, str(foreign), "not a soundtag run", only_line=True)
    assert sorted(p.name for p in foreign.iterdir()) == ["config.yaml", "metrics.csv"]
    assert (foreign / "metrics.csv").read_text() == "mine\n"


# ---------------------------------------------------------------------------------------------
# evaluate and predict


def test_evaluate_json_is_one_object_on_stdout(pipeline, cli_run):
    run_dir, _ = cli_run
    result = pipeline["evaluate"]
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    metrics = json.loads(result.stdout)
    assert {"map3", "accuracy", "n_clips", "n_failed", "per_class_ap", "split", "corpus"} <= set(metrics)
    assert metrics["n_clips"] == len(read_rows(DEMO / "test.csv")) == 34
    assert metrics["split"] == "test" and metrics["n_failed"] == 0
    assert 0.0 <= metrics["accuracy"] <= metrics["map3"] <= 1.0
    assert json.loads((run_dir / "eval-test" / "metrics.json").read_text()) == metrics
    assert (run_dir / "eval-test" / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_prints_a_summary_line_and_takes_the_train_split(pipeline, cli_run, capsys):
    run_dir, _ = cli_run
    result = in_process(capsys, ["evaluate", run_dir, "--split", "train", "--quiet"])
    assert result.returncode == 0, result.stderr
    assert re.match(r"train: 79 clips, accuracy \d\.\d{4}, MAP@3 \d\.\d{4}; details in ", result.stdout)
    assert json.loads((run_dir / "eval-train" / "metrics.json").read_text())["n_clips"] == 79


def test_predict_writes_one_row_per_test_clip_in_order(cli_run, workspace, capsys):
    run_dir, _ = cli_run
    submission = workspace / "kaggle" / "submission.csv"
    result = in_process(capsys, ["predict", run_dir, "-o", submission, "--quiet"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr.strip() == f"wrote 34 rows to {submission}"
    labels = {row["label"] for row in read_rows(DEMO / "train.csv")}
    rows = read_rows(submission)
    assert [row["fname"] for row in rows] == [row["fname"] for row in read_rows(DEMO / "test.csv")]
    for row in rows:
        parts = row["label"].split(" ")
        assert len(parts) == 3 and len(set(parts)) == 3 and set(parts) <= labels
    assert list(rows[0]) == ["fname", "label"]


# ---------------------------------------------------------------------------------------------
# tag


def test_tag_searches_a_folder_and_lists_the_bad_file(pipeline, tag_inputs):
    result = pipeline["tag"]
    assert result.returncode == 1, result.stderr  # bad.wav failed
    assert "Traceback" not in result.stderr
    output = json.loads(result.stdout)
    files = [item["file"] for item in output["files"]]
    assert files == [str(tag_inputs / "b.wav"), str(tag_inputs / "sub" / "deep" / "a.flac")]
    assert [item["file"] for item in output["failed"]] == [str(tag_inputs / "bad.wav")]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("soundtag: warning:")]
    assert len(warnings) == 1 and "bad.wav" in warnings[0]
    long, short = output["files"]
    assert long["duration"] == pytest.approx(3.5)
    assert [s["start"] for s in long["segments"]] == [0.0, 1.0, 2.0, 3.0]
    assert long["segments"][-1]["end"] == pytest.approx(3.5)
    assert "segments" not in short and len(short["tags"]) == 3


def test_tag_jsonl_to_a_file(cli_run, tag_inputs, workspace, capsys):
    run_dir, _ = cli_run
    out = workspace / "tags" / "out.jsonl"
    result = in_process(capsys, ["tag", run_dir, tag_inputs / "sub", DEMO_FILE, "-o", out, "--format", "jsonl",
                                 "--top-k", "2", "--quiet"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert f"tagged 2 file(s), 0 failed; wrote {out}" in result.stderr
    _, *lines = [json.loads(line) for line in out.read_text().splitlines()]  # after the provenance line
    assert [item["file"] for item in lines] == [str(tag_inputs / "sub" / "deep" / "a.flac"), str(DEMO_FILE)]
    assert all(len(item["tags"]) == 2 for item in lines)


def test_tag_csv_with_segments(cli_run, tag_inputs, workspace, capsys):
    run_dir, _ = cli_run
    out = workspace / "tags.csv"
    result = in_process(capsys, ["tag", run_dir, tag_inputs, "--format", "csv", "-o", out, "--quiet"])
    assert result.returncode == 1  # bad.wav failed
    assert "could not tag" in result.stderr and "bad.wav" in result.stderr
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["file", "level", "start", "end", "rank", "label", "probability", "error"]
    assert [r["file"] for r in rows if r["level"] == "error"] == [str(tag_inputs / "bad.wav")]
    rows = [r for r in rows if r["level"] != "error"]
    by_file = {}
    for row in rows:
        by_file.setdefault(row["file"], []).append(row)
    assert set(by_file) == {str(tag_inputs / "b.wav"), str(tag_inputs / "sub" / "deep" / "a.flac")}
    long = by_file[str(tag_inputs / "b.wav")]
    assert [r["rank"] for r in long if r["level"] == "clip"] == ["1", "2", "3"]
    assert sorted({float(r["start"]) for r in long if r["level"] == "segment"}) == [0.0, 1.0, 2.0, 3.0]
    assert all(0.0 <= float(r["probability"]) <= 1.0 for r in rows)


def test_tag_segment_options_and_json_file(cli_run, workspace, tag_inputs, capsys):
    run_dir, _ = cli_run
    out = workspace / "seg.json"
    long = tag_inputs / "b.wav"
    result = in_process(capsys, ["tag", run_dir, long, "--segment", "2", "--hop", "1", "-o", out, "--quiet"])
    assert result.returncode == 0, result.stderr
    item = json.loads(out.read_text())["files"][0]
    assert [(s["start"], s["end"]) for s in item["segments"]] == [(0.0, 2.0), (1.0, 3.0), (2.0, 3.5)]


def test_tag_with_only_bad_files_fails(cli_run, tag_inputs, capsys):
    run_dir, _ = cli_run
    result = in_process(capsys, ["tag", run_dir, tag_inputs / "bad.wav", "--quiet"])
    assert result.returncode == 1
    assert json.loads(result.stdout)["files"] == []
    assert "bad.wav" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# user errors: one line, exit 2, no traceback


def test_resume_of_a_folder_without_a_run_in_a_real_process(pipeline, workspace):
    assert_user_error(pipeline["resume-empty"], str(workspace / "empty"), only_line=True)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["evaluate", "{missing}"], ["not a run folder"]),
        (["evaluate", "{missing}", "--json"], ["not a run folder"]),
        (["predict", "{missing}", "-o", "{tmp}/s.csv"], ["not a run folder"]),
        (["tag", "{missing}", str(DEMO_FILE)], ["not a run folder"]),
        (["tag", "{run}", "{tmp}/no-such.wav"], ["no such file or folder"]),
        (["tag", "{run}", str(DEMO_FILE), "--top-k", "0"], ["--top-k"]),
        (["train", "--resume", "{tmp}"], ["not a run folder"]),
        (["train", "--resume", "{missing}"], ["not a run folder (no such folder)"]),
        (["train", "--resume", "{run}", "--out-dir", "{tmp}/x"], ["--resume takes the run folder and --set only"]),
        (["train", "--resume", "{run}", "--set", "model.fc_dim=64"], ["model.fc_dim", "would change the model"]),
        (["train"], ["CONFIG"]),
        (["train", str(DEMO_CONFIG), "--set", "train.nope=1", "--out-dir", "{tmp}/x"], ["train.nope"]),
        (["train", str(DEMO_CONFIG), "--set", "modle.name=x", "--out-dir", "{tmp}/x"], ["modle"]),
        (["train", "{tmp}/missing.yaml", "--out-dir", "{tmp}/x"], ["missing.yaml"]),
        (["evaluate", "{run}", "--checkpoint", "nope.pt"], ["nope.pt"]),
    ],
)
def test_user_errors(cli_run, tmp_path, capsys, args, fragments):
    run_dir, _ = cli_run
    values = {"missing": tmp_path / "no-run-here", "tmp": tmp_path, "run": run_dir}
    result = in_process(capsys, [a.format(**values) for a in args])
    assert_user_error(result, *fragments, only_line=True)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------------
# features at each file's own rate


def test_a_run_without_resampling_trains_tags_and_exports(workspace, env, train_args, capsys):
    # features.resample: false end to end: the demo's 44.1 kHz clips featurised at 44.1 kHz; a 48 kHz
    # file tagged at 48 kHz by the run; its ONNX graph (fixed at 32 kHz) resamples and agrees closely
    run_dir = workspace / "own-rate-run"
    trained = soundtag([*train_args, "--set", "train.epochs=1", "--set", "features.resample=false",
                        "--out-dir", run_dir], env, workspace)
    assert trained.returncode == 0, trained.stderr
    assert "resample: false" in (run_dir / "config.yaml").read_text()
    clip = workspace / "clip-48k.wav"
    sf.write(clip, load_audio(DEMO_FILE, 48000), 48000)
    tagged = in_process(capsys, ["tag", run_dir, clip, "--format", "json", "--top-k", "5", "--quiet"])
    assert tagged.returncode == 0, tagged.stderr
    run_tags = {t["label"]: t["probability"] for t in json.loads(tagged.stdout)["files"][0]["tags"]}
    graph = workspace / "own-rate.onnx"
    assert in_process(capsys, ["export", run_dir, "--format", "onnx", "-o", graph]).returncode == 0
    from_graph = in_process(capsys, ["tag", graph, clip, "--format", "json", "--top-k", "5", "--quiet"])
    assert from_graph.returncode == 0, from_graph.stderr
    graph_tags = {t["label"]: t["probability"] for t in json.loads(from_graph.stdout)["files"][0]["tags"]}
    assert max(abs(graph_tags[label] - p) for label, p in run_tags.items() if label in graph_tags) < 0.05
