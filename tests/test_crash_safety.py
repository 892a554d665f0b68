"""Crash safety: ``soundtag features``, ``tag`` and ``selftrain`` are killed with SIGKILL at seeded
random points; a rerun must finish with outputs identical to an uninterrupted run, and no half-written
cache entry, output or checkpoint may ever be read.

Training alone is covered by tests/cli/test_train_cli.py
(``test_a_run_killed_after_epoch_one_resumes_to_the_same_result``); a truncated checkpoint at the
API level by tests/training/test_checkpoint.py. Here: the CLI commands that write many files, and
checkpoints damaged beyond what a kill can do, which must stop a resume with one line.

The killed runs are real processes (``python -m soundtag``, one torch thread); the uninterrupted
references and the final reruns call ``soundtag.cli.main.main`` in this process, which saves each
the seconds of importing torch (both run the same code single-threaded, so the results are equal).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import psutil
import pytest
import soundfile as sf

from soundtag.audio import load_audio
from soundtag.cli.main import main
from soundtag.training import start_run
from tests.helpers import DEMO
from tests.training.tiny_run import (
    DEMO_CONFIG,
    TINY,
    assert_same_weights,
    metrics_without_seconds,
    shared_cache_dir,
    single_thread_torch,
    subprocess_env,
    tiny_config,
)

pytestmark = pytest.mark.e2e

TIMEOUT = 300


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture
def kill_points(request) -> random.Random:
    """Where to kill: random, but the same on every run of a test (seeded by the test's name)."""
    return random.Random(request.node.name)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("crash")


@pytest.fixture(scope="module")
def env(workspace) -> dict[str, str]:
    return subprocess_env(workspace / "xdg-cache")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return shared_cache_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def run_dir(workspace, cache_dir) -> Path:
    """A tiny demo run trained for one epoch."""
    path = workspace / "run"
    start_run(tiny_config(cache_dir, "train.epochs=1"), path, progress=False)
    return path


def run_main(capfd, args: list) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def spawn(args: list, env: dict[str, str], log: Path, terminal: bool = False) -> subprocess.Popen:
    """``python -m soundtag ARGS`` in its own process group, stdout and stderr to ``log``; with ``terminal``
    through a pseudo-terminal copied to ``log`` (progress bars are drawn only on a terminal)."""
    command = [sys.executable, "-m", "soundtag", *map(str, args)]
    if not terminal:
        with open(log, "wb") as handle:
            return subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 0 columns: tqdm draws nothing
    proc = subprocess.Popen(command, env=env, stdout=child, stderr=child, start_new_session=True)
    os.close(child)
    handle = open(log, "wb")  # there before spawn returns: the caller reads it at once
    threading.Thread(target=copy_terminal, args=(parent, handle), daemon=True).start()
    return proc


def copy_terminal(fd: int, handle: BinaryIO) -> None:
    """Copy what a process writes to the pseudo-terminal ``fd`` into ``handle`` until it closes, then close both."""
    with handle:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the process and its terminal are gone
                break
            if not data:
                break
            handle.write(data)
            handle.flush()
    os.close(fd)


def wait_until(proc: subprocess.Popen, ready: Callable[[], bool], what: str) -> None:
    """Poll ``ready`` until it holds; fail if the process ends first."""
    deadline = time.monotonic() + TIMEOUT
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the process ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def kill_group(proc: subprocess.Popen) -> bool:
    """SIGKILL the process and everything it started; True when it was still running."""
    running = proc.poll() is None
    if running:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return running and proc.returncode == -signal.SIGKILL


# --- feature extraction ----------------------------------------------------------------------------


def npy_entries(cache: Path) -> dict[str, Path]:
    """Cache entries by their path under the cache folder."""
    return {str(p.relative_to(cache)): p for p in sorted(cache.rglob("*.npy"))}


def make_audio_folder(folder: Path, copies: int) -> int:
    """``copies`` copies of every demo clip under other names; the number of files."""
    folder.mkdir()
    sources = sorted((DEMO / "audio_train").iterdir()) + sorted((DEMO / "audio_test").iterdir())
    for copy in range(copies):
        for source in sources:
            shutil.copy(source, folder / f"{copy}-{source.name}")
    return copies * len(sources)


def test_features_killed_twice_finish_like_an_uninterrupted_run(workspace, env, kill_points, capfd):
    folder = workspace / "features-audio"
    n = make_audio_folder(folder, copies=3)
    reference, killed = workspace / "features-reference", workspace / "features-killed"
    code, out, err = run_main(capfd, ["features", "--corpus", folder, "--cache-dir", reference, "--workers", "0",
                                      "--quiet"])
    assert code == 0, err
    assert len(npy_entries(reference)) == n
    args = ["features", "--corpus", folder, "--cache-dir", killed, "--workers", "2", "--quiet"]

    # 1. only the main process is killed (as the kernel's OOM killer would): its workers must follow
    proc = spawn(args, env, workspace / "features-kill-1.log")
    first = kill_points.randint(1, n // 3)
    wait_until(proc, lambda: len(npy_entries(killed)) >= first, f"{first} entries were cached")
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers, "no worker processes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    try:
        _, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, f"worker processes {[p.pid for p in alive]} outlived the killed main process"
    finally:
        for worker in workers:
            if worker.is_running():
                worker.kill()
    assert proc.returncode == -signal.SIGKILL

    # 2. the whole process group is killed a little later, maybe in the middle of a write
    done = len(npy_entries(killed))
    assert done < n, "the first run finished before it was killed"
    second = kill_points.randint(done + 1, done + (n - done) // 2)
    proc = spawn(args, env, workspace / "features-kill-2.log")
    wait_until(proc, lambda: len(npy_entries(killed)) >= second, f"{second} entries were cached")
    time.sleep(kill_points.uniform(0.0, 0.05))
    assert kill_group(proc), "the second run finished before it was killed"

    # 3. the rerun extracts what is missing; the cache is then the uninterrupted run's, array by array
    cached = len(npy_entries(killed))
    code, out, err = run_main(capfd, ["features", "--corpus", folder, "--cache-dir", killed, "--workers", "0",
                                      "--quiet"])
    assert code == 0, err
    assert out.startswith(f"{n} clips ({cached} already cached, {n - cached} extracted, 0 failed)")
    expected, got = npy_entries(reference), npy_entries(killed)
    assert sorted(got) == sorted(expected)
    # A rerun packs the missing clips together differently from the uninterrupted run, and the BLAS
    # kernel of the mel projection may sum a frame in another order at another place in a pack: the
    # last float32 digit may differ (1e-7 relative), nothing more.
    for name, path in got.items():
        np.testing.assert_allclose(np.load(path, allow_pickle=False), np.load(expected[name]), rtol=1e-6,
                                   atol=1e-4, err_msg=name)
    (settings,) = killed.glob("features/*/settings.yaml")
    assert settings.read_text() == next(reference.glob("features/*/settings.yaml")).read_text()
    # what a kill can leave is a hidden temporary file, never under an entry's name
    leftovers = [p for p in killed.rglob("*") if p.is_file() and p.suffix != ".npy" and p != settings]
    assert all(re.fullmatch(r"\..+\.npy\..+\.tmp", p.name) for p in leftovers), leftovers


# --- tagging ---------------------------------------------------------------------------------------


def files_tagged(log: Path) -> int:
    """Files done so far, from the last progress bar update in ``log``."""
    counts = re.findall(rb"tagging:.*?(\d+)/\d+", log.read_bytes())
    return int(counts[-1]) if counts else 0


@pytest.fixture(scope="module")
def tag_folder(workspace) -> tuple[Path, int]:
    """Demo clips and a few long files (so the tagging takes seconds): the folder and its file count."""
    folder = workspace / "to-tag"
    folder.mkdir()
    clips = sorted((DEMO / "audio_test").iterdir())[:10]
    for clip in clips:
        shutil.copy(clip, folder / clip.name)
    signal_8k = np.concatenate([load_audio(clip, 8000) for clip in clips])
    minutes = np.tile(signal_8k, int(np.ceil(3 * 60 * 8000 / len(signal_8k))))[: 3 * 60 * 8000]
    for index in range(6):
        sf.write(folder / f"long-{index}.wav", np.roll(minutes, index * 8000), 8000, subtype="PCM_16")
    return folder, len(clips) + 6


def undated(data: bytes) -> bytes:
    """A JSON output without the time in its provenance (the rest of it must match to the byte)."""
    return re.sub(rb'"created": "[^"]*"', b'"created": ""', data)


def test_tagging_killed_keeps_the_old_output_whole_and_a_rerun_matches(run_dir, tag_folder, workspace, env,
                                                                       kill_points, capfd):
    folder, n = tag_folder
    reference = workspace / "tags-reference.json"
    code, _, err = run_main(capfd, ["tag", run_dir, folder, "--format", "json", "-o", reference, "--quiet"])
    assert code == 0, err
    expected = undated(reference.read_bytes())  # JSON: written whole (JSON lines stream: tests/test_tag_jobs.py)
    assert len(json.loads(expected)["files"]) + len(json.loads(expected)["failed"]) == n

    out_dir = workspace / "tags"
    out = out_dir / "tags.json"
    code, _, err = run_main(capfd, ["tag", run_dir, DEMO / "audio_test" / "01423593.flac", "--format", "json", "-o",
                                    out, "--quiet"])
    assert code == 0, err
    previous = undated(out.read_bytes())  # an earlier, complete output that a killed run must leave alone

    args = ["tag", run_dir, folder, "--format", "json", "-o", out]  # progress on: it says how far it got
    # 1. killed part of the way through the files
    log = workspace / "tag-kill-1.log"
    proc = spawn(args, env, log, terminal=True)
    point = kill_points.randint(1, n - 2)
    wait_until(proc, lambda: files_tagged(log) >= point, f"{point} files were tagged")
    assert kill_group(proc), "tagging finished before it was killed"
    assert undated(out.read_bytes()) == previous
    assert sorted(out_dir.iterdir()) == [out]

    # 2. killed once every file is tagged, while the output is written or just after
    log = workspace / "tag-kill-2.log"
    proc = spawn(args, env, log, terminal=True)
    wait_until(proc, lambda: files_tagged(log) >= n or proc.poll() is not None, "every file was tagged")
    time.sleep(kill_points.uniform(0.0, 0.01))
    kill_group(proc)
    assert undated(out.read_bytes()) in (previous, expected)  # the old output or the whole new one, never a part
    assert all(p == out or re.fullmatch(r"\.tags\.json\..+\.tmp", p.name) for p in out_dir.iterdir())

    # 3. the rerun writes what an uninterrupted run writes
    code, _, err = run_main(capfd, ["tag", run_dir, folder, "--format", "json", "-o", out, "--quiet"])
    assert code == 0, err
    assert undated(out.read_bytes()) == expected


# --- self-training ---------------------------------------------------------------------------------

SELFTRAIN = [*TINY, "train.labels=verified", "selftrain.rounds=2", "selftrain.epochs_per_round=2",
             "selftrain.lower_start=0.2", "selftrain.lower_end=0.1"]


def selftrain_args(cache_dir: Path, out: Path) -> list:
    args: list = ["selftrain", DEMO_CONFIG, "--cache-dir", cache_dir, "--quiet", "--out-dir", out]
    for override in SELFTRAIN:
        args += ["--set", override]
    return args


@pytest.fixture(scope="module")
def selftrain_reference(workspace, cache_dir) -> Path:
    """The uninterrupted self-training run: two rounds of two epochs."""
    out = workspace / "selftrain-reference"
    assert main([str(a) for a in selftrain_args(cache_dir, out)]) == 0
    return out


def assert_same_selftraining(a: Path, b: Path) -> None:
    assert (a / "rounds.csv").read_text() == (b / "rounds.csv").read_text()
    for round_dir in sorted(a.glob("round-*")):
        other = b / round_dir.name
        assert (round_dir / "round.json").read_text() == (other / "round.json").read_text()
        assert (round_dir / "selection.json").is_file() == (other / "selection.json").is_file()
        if (round_dir / "selection.json").is_file():
            assert (round_dir / "selection.json").read_text() == (other / "selection.json").read_text()
        pd.testing.assert_frame_equal(metrics_without_seconds(round_dir), metrics_without_seconds(other))
        assert_same_weights(round_dir / "best.pt", other / "best.pt")
        assert_same_weights(round_dir / "last.pt", other / "last.pt")


def test_selftraining_killed_in_both_rounds_resumes_to_the_same_result(selftrain_reference, cache_dir, workspace,
                                                                       env, kill_points, capfd):
    killed = workspace / "selftrain-killed"
    args = selftrain_args(cache_dir, killed)
    assert len(list(selftrain_reference.glob("round-*"))) == 2

    # 1. killed in round 1 after its first epoch, or soon after round 1
    proc = spawn(args, env, workspace / "selftrain-kill-1.log")
    wait_until(proc, (killed / "round-1" / "last.pt").is_file, "round 1 saved an epoch")
    time.sleep(kill_points.uniform(0.0, 0.2))
    assert kill_group(proc), "self-training finished before it was killed"
    assert not (killed / "rounds.csv").exists()
    round_1_unfinished = not (killed / "round-1" / "round.json").exists()

    # 2. the same command resumes; killed again in round 2 (when it gets there in time)
    proc = spawn(args, env, workspace / "selftrain-kill-2.log")
    wait_until(proc, lambda: (killed / "round-2" / "last.pt").is_file() or proc.poll() == 0, "round 2 saved an epoch")
    time.sleep(kill_points.uniform(0.0, 0.3))
    kill_group(proc)

    # 3. once more to the end: every round as in the uninterrupted run
    code, _, err = run_main(capfd, args)
    assert code == 0, err
    assert_same_selftraining(selftrain_reference, killed)
    if round_1_unfinished:  # its trainer resumed (or found its last epoch done, when killed just after it)
        assert re.search(r"(resumed|already finished) after epoch", (killed / "train.log").read_text())


# --- damaged checkpoints: one line, no traceback -------------------------------------------------------


def truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("soundtag: error: "), err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_a_truncated_last_checkpoint_stops_resume_and_tag_with_one_line(run_dir, workspace, capfd, keep):
    copy = workspace / f"run-truncated-{keep}"
    shutil.copytree(run_dir, copy)
    truncate(copy / "last.pt", keep)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.name != "train.log"}

    code, _, err = run_main(capfd, ["train", "--resume", copy, "--quiet"])
    assert_one_line_error(code, err, str(copy / "last.pt"), "corrupt or unreadable checkpoint")
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.name != "train.log"} == before

    clip = DEMO / "audio_test" / "01423593.flac"
    code, _, err = run_main(capfd, ["tag", copy, clip, "--checkpoint", "last.pt", "-o", workspace / "t.json"])
    assert_one_line_error(code, err, str(copy / "last.pt"))
    assert not (workspace / "t.json").exists()


def test_a_truncated_round_checkpoint_stops_selftraining_with_one_line(selftrain_reference, cache_dir, workspace,
                                                                       capfd):
    copy = workspace / "selftrain-truncated"
    shutil.copytree(selftrain_reference, copy)
    (copy / "round-2" / "round.json").unlink()  # round 2 unfinished: its last.pt is where it resumes
    truncate(copy / "round-2" / "last.pt", 0.3)
    code, _, err = run_main(capfd, selftrain_args(cache_dir, copy))
    assert_one_line_error(code, err, str(copy / "round-2" / "last.pt"), "corrupt or unreadable checkpoint")
    assert not (copy / "round-2" / "round.json").exists()
