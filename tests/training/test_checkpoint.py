"""Checkpoints hold weights and numbers only: they round-trip, and anything else is refused."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import pytest
import torch

from soundtag.config import ModelConfig
from soundtag.errors import SoundtagError
from soundtag.models import build_model
from soundtag.training import load_checkpoint, save_checkpoint


def leave_mark(path: str) -> str:
    """What a malicious checkpoint would run on load: here it only writes a marker file."""
    Path(path).write_text("the checkpoint ran code")
    return "pwned"


class Payload:
    """An object whose unpickling calls :func:`leave_mark`."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (leave_mark, (self.marker,))


def model_state():
    model = build_model(ModelConfig(name="vgg_small", channels=[4], fc_dim=8), 5, 3)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 5, 7)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_round_trip_of_weights_optimiser_and_counters(tmp_path):
    model, optimizer = model_state()
    state = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 4, "best_score": -math.inf,
        "best_epoch": 0, "stopped": False, "history": [{"epoch": 1.0, "loss": 2.5, "val_map3": math.nan}],
    }
    path = tmp_path / "sub" / "last.pt"
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert set(loaded) == set(state)
    for key, value in state["model"].items():
        assert torch.equal(loaded["model"][key], value)
    assert loaded["epoch"] == 4 and loaded["best_score"] == -math.inf and loaded["stopped"] is False
    assert math.isnan(loaded["history"][0]["val_map3"])
    again, again_opt = model_state()
    again.load_state_dict(loaded["model"])
    again_opt.load_state_dict(loaded["optimizer"])
    assert again_opt.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left behind


def test_checkpoints_load_with_plain_torch_weights_only(tmp_path):
    model, _ = model_state()
    save_checkpoint(tmp_path / "best.pt", {"model": model.state_dict(), "epoch": 1, "score": 0.5})
    assert torch.load(tmp_path / "best.pt", weights_only=True)["score"] == 0.5


def test_a_checkpoint_that_would_run_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "epoch": Payload(marker)}, path)
    with pytest.raises(SoundtagError, match="refused to load checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    # the payload is live: an unsafe load would have run it
    assert torch.load(path, weights_only=False)["epoch"] == "pwned"
    assert marker.read_text() == "the checkpoint ran code"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_plain_pickle_with_code_is_refused_too(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(SoundtagError, match=str(path.name)):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("keep", [0.0, 0.01, 0.5, 0.99])
def test_a_truncated_checkpoint_is_a_soundtag_error(tmp_path, keep):
    model, optimizer = model_state()
    save_checkpoint(tmp_path / "last.pt", {"model": model.state_dict(), "optimizer": optimizer.state_dict()})
    data = (tmp_path / "last.pt").read_bytes()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(SoundtagError, match="broken.pt"):
        load_checkpoint(broken)


@pytest.mark.parametrize(
    "content", [b"not a checkpoint at all\n", b"hello world this is text", bytes(range(256)) * 8, b"PK\x03\x04junk"]
)
def test_a_file_that_is_not_a_checkpoint_is_a_soundtag_error(tmp_path, content):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(SoundtagError, match="junk.pt"):
        load_checkpoint(path)


def test_a_missing_checkpoint_is_a_soundtag_error(tmp_path):
    with pytest.raises(SoundtagError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(SoundtagError, match="checkpoint not found"):
        load_checkpoint(tmp_path)
