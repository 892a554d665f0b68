"""--threads on every heavy command: one spelling, one default (DEFAULT_THREADS), whole numbers from 1."""

from __future__ import annotations

import pytest

from soundtag.cli.common import DEFAULT_THREADS, use_threads
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


@pytest.mark.parametrize("command", HEAVY)
def test_every_heavy_command_takes_threads_with_one_default(command):
    parser = build_parser()
    assert parser.parse_args(HEAVY[command]).threads == DEFAULT_THREADS
    assert parser.parse_args([*HEAVY[command], "--threads", "2"]).threads == 2


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_threads_must_be_a_whole_number_of_at_least_one(value, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*HEAVY["train"], "--threads", value])
    assert "give a whole number of at least 1" in capsys.readouterr().err


def test_use_threads_sets_torchs_threads():
    import torch

    before = torch.get_num_threads()
    try:
        use_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
