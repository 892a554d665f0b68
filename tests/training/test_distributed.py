"""``torchrun --nproc_per_node 2 -m soundtag train`` (gloo on CPU) matches a single-process run.

DistributedDataParallel averages gradients over the same global batch, but BatchNorm sees half a
batch in each process and the batches are split differently, so the runs agree closely rather than
bit for bit. Stated tolerance: every epoch's training and validation loss within 20 % of the
single-process run's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tests.training.tiny_run import DEMO_CONFIG, TINY, subprocess_env

TOLERANCE = 0.20


def train(cache_home, cache_dir, out, *launcher: str) -> subprocess.CompletedProcess:
    args = [*launcher, "-m", "soundtag", "train", str(DEMO_CONFIG), "--out-dir", str(out), "--cache-dir", str(cache_dir),
            "--quiet"] + [f"--set={o}" for o in TINY]
    return subprocess.run(args, capture_output=True, text=True, env=subprocess_env(cache_home), timeout=600)


@pytest.mark.e2e
def test_two_process_torchrun_matches_single_process(tmp_path, tmp_path_factory):
    torchrun = shutil.which("torchrun", path=str(sys.executable).rsplit("/", 1)[0]) or shutil.which("torchrun")
    assert torchrun, "torchrun ships with torch"
    cache = tmp_path / "cache"
    single = train(tmp_path, cache, tmp_path / "single", sys.executable)
    assert single.returncode == 0, single.stderr
    multi = train(tmp_path, cache, tmp_path / "ddp", torchrun, "--nproc_per_node", "2", "--master_port", "29517")
    assert multi.returncode == 0, multi.stderr
    one = pd.read_csv(tmp_path / "single" / "metrics.csv")
    two = pd.read_csv(tmp_path / "ddp" / "metrics.csv")
    assert list(one["epoch"]) == list(two["epoch"])
    for column in ("loss", "val_loss"):
        relative = ((two[column] - one[column]).abs() / one[column]).max()
        assert relative <= TOLERANCE, f"{column} differs by {relative:.1%}"
    # rank 0 alone wrote the run folder: one log line per epoch, one set of checkpoints
    log = (tmp_path / "ddp" / "train.log").read_text()
    assert log.count("epoch 1:") == 1
    for name in ("config.yaml", "label_map.json", "best.pt", "last.pt", "curves.png"):
        assert (tmp_path / "ddp" / name).is_file()
