"""Shared by the classifier tests: a tiny demo run config, a shared feature cache, and comparisons.

The machine is small, so every run here is a few-thousand-parameter VGG on 32 mel bands, trained
single-threaded for a few epochs; the demo corpus is only read, features go to a temporary cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch

from soundtag.config import RunConfig, load_config
from soundtag.training import load_checkpoint
from tests.helpers import REPO_ROOT

DEMO_CONFIG = REPO_ROOT / "configs" / "demo.yaml"
EPOCHS = 3
TINY = [
    f"train.epochs={EPOCHS}",
    "model.channels=[8,16]",
    "model.fc_dim=32",
    "train.crop_seconds=1.0",
    "features.n_mels=32",
    "data.num_workers=1",
]


def shared_cache_dir(tmp_path_factory) -> Path:
    """One feature cache for every classifier test of the session (the tiny settings share it)."""
    path = tmp_path_factory.getbasetemp() / "classifier-feature-cache"
    path.mkdir(exist_ok=True)
    return path


def tiny_config(cache_dir: Path, *overrides: str) -> RunConfig:
    """configs/demo.yaml with the tiny settings, the given cache and any further overrides."""
    return load_config(DEMO_CONFIG, [*TINY, f"data.cache_dir={cache_dir}", *overrides])


@contextmanager
def single_thread_torch() -> Iterator[None]:
    """Run torch on one thread (as the CLI subprocesses do with OMP_NUM_THREADS=1), then put the
    thread count and the deterministic-algorithms flag that training sets back as they were.
    """
    threads = torch.get_num_threads()
    flags = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        now = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
        if now != flags:
            torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])


def subprocess_env(cache_home: Path) -> dict[str, str]:
    """Environment of a CLI subprocess: one torch thread, no user cache, no display."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", XDG_CACHE_HOME=str(cache_home), MPLBACKEND="Agg")
    env.pop("PYTHONWARNINGS", None)
    return env


def metrics_without_seconds(run_dir: Path) -> pd.DataFrame:
    """A run's metrics.csv as written (text cells) without the wall-clock column."""
    return pd.read_csv(run_dir / "metrics.csv", dtype=str).drop(columns=["seconds"])


def assert_same_weights(a: Path, b: Path) -> None:
    """The two checkpoints hold bit-identical model weights (and the same epoch)."""
    first, second = load_checkpoint(a), load_checkpoint(b)
    assert first["epoch"] == second["epoch"]
    assert first["model"].keys() == second["model"].keys()
    for key in first["model"]:
        assert torch.equal(first["model"][key], second["model"][key]), f"{a.name}: {key} differs"


def assert_same_run(a: Path, b: Path) -> None:
    """Identical metrics (ignoring seconds) and identical best.pt and last.pt weights."""
    pd.testing.assert_frame_equal(metrics_without_seconds(a), metrics_without_seconds(b))
    assert_same_weights(a / "best.pt", b / "best.pt")
    assert_same_weights(a / "last.pt", b / "last.pt")
