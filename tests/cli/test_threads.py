"""--threads on every heavy command: one spelling, whole numbers from 1 or auto; DEFAULT_THREADS, and
TRAINING_THREADS (auto: the idle cores) for the commands that train."""

from __future__ import annotations

import io

import pytest

from soundtag.cli import common
from soundtag.cli.common import DEFAULT_THREADS, TRAINING_THREADS, idle_cores, use_threads
from soundtag.cli.main import build_parser

HEAVY = {
    "train": ["train", "configs/demo.yaml"],
    "features": ["features", "configs/demo.yaml"],
    "evaluate": ["evaluate", "runs/x"],
    "predict": ["predict", "runs/x", "-o", "s.csv"],
    "tag": ["tag", "runs/x", "a.wav"],
    "embed": ["embed", "runs/x", "a.wav", "-o", "e.npz"],
    "experiment": ["experiment", "configs/demo.yaml", "--out-dir", "x"],
    "selftrain": ["selftrain", "configs/demo.yaml", "--out-dir", "x"],
    "autoencode": ["autoencode", "configs/demo.yaml", "--out-dir", "x"],
}


TRAINING = {"train", "experiment", "selftrain", "autoencode"}


@pytest.mark.parametrize("command", HEAVY)
def test_every_heavy_command_takes_threads_with_one_default(command):
    parser = build_parser()
    default = TRAINING_THREADS if command in TRAINING else DEFAULT_THREADS
    assert parser.parse_args(HEAVY[command]).threads == default
    assert parser.parse_args([*HEAVY[command], "--threads", "2"]).threads == 2
    assert parser.parse_args([*HEAVY[command], "--threads", "AUTO"]).threads == "auto"


@pytest.mark.parametrize(("cores", "busy", "expected"), [(2, 0.1, 2), (2, 0.6, 1), (2, 3.7, 1), (16, 5.2, 11), (1, 0.0, 1)])
def test_auto_takes_the_cores_other_work_leaves_idle(monkeypatch, cores, busy, expected):
    monkeypatch.setattr(common.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(common, "busy_cores", lambda: busy)
    assert idle_cores() == expected


def test_busy_cores_reads_the_kernels_counters(monkeypatch):
    # 2 CPUs; over the sample 300 ticks passed of which 150 idle: one core's worth of work
    stats = iter(["cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 x\ncpu1 x\n", "cpu  175 0 175 820 130 0 0 0 0 0\ncpu0 x\ncpu1 x\n"])
    monkeypatch.setattr("builtins.open", lambda *a, **k: io.StringIO(next(stats)))
    assert common.busy_cores(seconds=0) == pytest.approx(1.0)


def test_busy_cores_falls_back_to_the_load_average(monkeypatch):
    def no_proc(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr("builtins.open", no_proc)
    monkeypatch.setattr(common.os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    assert common.busy_cores(seconds=0) == 1.5


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_threads_must_be_a_whole_number_of_at_least_one(value, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*HEAVY["train"], "--threads", value])
    assert "give a whole number of at least 1, or auto" in capsys.readouterr().err


def test_use_threads_sets_torchs_threads():
    import torch

    before = torch.get_num_threads()
    try:
        use_threads(1)
        assert torch.get_num_threads() == 1
        use_threads("auto")
        assert torch.get_num_threads() == idle_cores()
    finally:
        torch.set_num_threads(before)
