"""Export: one graph from waveform to probabilities that matches PyTorch, and tags like the run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundtag.cli.main import main
from soundtag.errors import SoundtagError
from soundtag.features import extract_batch
from soundtag.inference import Tagger
from soundtag.inference.export import ExportedTagger, export_run
from tests.training.tiny_run import single_thread_torch


def reference(tagger: Tagger, segments: list[np.ndarray]) -> np.ndarray:
    """PyTorch's probabilities for each whole segment (front-end, then model)."""
    with torch.inference_mode():
        return np.stack([torch.softmax(tagger.model(torch.from_numpy(f)[None]), 1)[0].numpy()
                         for f in extract_batch(tagger.transform, segments)])


@pytest.fixture(scope="module")
def segments():
    rng = np.random.default_rng(0)
    return [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (32000, 32000, 45000)]


@pytest.mark.parametrize("fmt,suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
def test_exported_graph_matches_pytorch(tiny_run, tmp_path, segments, fmt, suffix):
    with single_thread_torch():
        path = export_run(tiny_run, fmt, tmp_path / f"model{suffix}")
        exported = ExportedTagger(path)
        tagger = Tagger.from_run(tiny_run)
        for batch in ([segments[0], segments[1]], [segments[2]]):
            ours = np.concatenate([exported.run(np.stack(batch))])
            assert np.abs(ours - reference(tagger, batch)).max() < 1e-4
    assert exported.labels == tagger.labels and exported.sample_rate == tagger.sample_rate


def test_tag_runs_from_an_exported_file(tiny_run, tmp_path, demo_root, capsys):
    with single_thread_torch():
        assert main(["export", str(tiny_run), "--format", "torchscript", "-o", str(tmp_path / "m.pt")]) == 0
        clip = sorted((demo_root / "audio_test").glob("*.flac"))[0]
        assert main(["tag", str(tmp_path / "m.pt"), str(clip), "--format", "jsonl", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert clip.name in out and '"label"' in out


def test_not_an_export_is_refused(tmp_path):
    bogus = tmp_path / "x.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(SoundtagError, match="not a soundtag ONNX export"):
        ExportedTagger(bogus)


def test_onnx_export_of_a_deeper_model_at_a_longer_hop(tiny_run, tmp_path, segments):
    """fsd-mini.yaml's shape: 4 conv blocks at a hop of 640 samples. The graph's shortest input is one
    training window, which covers the frames the model's pooling needs (a fixed 4096-sample floor did not)."""
    import shutil

    import yaml

    from soundtag.config import load_config
    from soundtag.models import build_model
    from soundtag.runs import RunFolder
    from soundtag.training.checkpoint import save_checkpoint

    run = tmp_path / "hop640"
    shutil.copytree(tiny_run, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["features"]["hop_length"] = 640
    config["model"]["channels"] = [8, 8, 8, 8]
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    loaded = load_config(run / "config.yaml")
    RunFolder(run).write_config(loaded)  # the run soundtag would have written for this config
    torch.manual_seed(0)
    model = build_model(loaded.model, loaded.features.n_mels, len(Tagger.from_run(tiny_run).labels))
    save_checkpoint(run / "best.pt", {"model": model.state_dict(), "score": 0.0})
    with single_thread_torch():
        exported = ExportedTagger(export_run(run, "onnx", tmp_path / "hop640.onnx"))
        tagger = Tagger.from_run(run)
        for batch in ([segments[0], segments[1]], [segments[2]]):
            assert np.abs(exported.run(np.stack(batch)) - reference(tagger, batch)).max() < 1e-4
