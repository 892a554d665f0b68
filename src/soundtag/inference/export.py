"""Export a run as one graph from waveform to class probabilities (ONNX or TorchScript), and tag
with such a file without soundtag's training code or checkpoint.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from soundtag.errors import SoundtagError
from soundtag.features import FeatureTransform
from soundtag.fileio import atomic_write
from soundtag.inference.tagger import SegmentTagger, Tagger
from soundtag.runs import BEST_CHECKPOINT

FORMATS = ("onnx", "torchscript")
METADATA_KEY = "soundtag"


class WaveformClassifier(nn.Module):
    """Feature front-end and CNN in one module: (batch, samples) -> (batch, n_classes) probabilities."""

    def __init__(self, transform: FeatureTransform, model: nn.Module) -> None:
        super().__init__()
        self.transform = transform
        self.model = model

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(self.transform(waveforms)), dim=1)


def export_metadata(tagger: Tagger) -> dict:
    """What a tagger needs besides the graph: labels, sample rate, segment length, top-k."""
    return {"labels": tagger.labels, "sample_rate": tagger.sample_rate, "segment": tagger.default_segment,
            "top_k": tagger.default_top_k, "feature": tagger.config.features.name, "model": tagger.config.model.name}


def export_run(run_dir: str | Path, fmt: str, path: str | Path, checkpoint: str = BEST_CHECKPOINT) -> Path:
    """Write ``path`` (atomically): the run's front-end and model taking waveforms of any length from
    one training window up (ONNX; TorchScript takes any length)."""
    if fmt not in FORMATS:
        raise SoundtagError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    tagger = Tagger.from_run(run_dir, checkpoint=checkpoint, device="cpu")
    module = WaveformClassifier(tagger.transform, tagger.model).eval()
    example = torch.zeros(2, int(tagger.sample_rate * tagger.default_segment))
    metadata = json.dumps(export_metadata(tagger))
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        handle.write(_onnx_bytes(module, example, metadata) if fmt == "onnx"
                     else _torchscript_bytes(module, example, metadata))
    return path


def _require(module: str) -> None:
    """Fail with one line when an optional ONNX package is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise SoundtagError(f"ONNX support needs the package '{module}': pip install 'soundtag[onnx]'")


def _onnx_bytes(module: nn.Module, example: torch.Tensor, metadata: str) -> bytes:
    _require("onnxscript")

    # Waveforms of at least the example's length (one training window: ExportedTagger repeats shorter
    # segments up to it): a fixed small floor breaks models whose pooling needs more frames than it gives.
    samples = torch.export.Dim("samples", min=example.shape[1])
    dims = {"waveforms": {0: torch.export.Dim("batch", max=4096), 1: samples}}
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, (example,), None, dynamo=True, input_names=["waveforms"],
                                    output_names=["probabilities"], dynamic_shapes=(dims["waveforms"],),
                                    verbose=False)
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata
    return proto.SerializeToString()


def _torchscript_bytes(module: nn.Module, example: torch.Tensor, metadata: str) -> bytes:
    import io

    with torch.inference_mode(False), torch.no_grad():
        traced = torch.jit.trace(module, example, check_trace=False)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={f"{METADATA_KEY}.json": metadata})
    return buffer.getvalue()


class ExportedTagger(SegmentTagger):
    """Tags with an exported ``.onnx`` (onnxruntime) or TorchScript file and its embedded metadata."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise SoundtagError(f"{path}: exported model not found")
        self.path = path
        if path.suffix == ".onnx":
            self._load_onnx(path)
        else:
            self._load_torchscript(path)
        self.labels = list(self.metadata["labels"])
        self.sample_rate = int(self.metadata["sample_rate"])
        self.default_segment = float(self.metadata["segment"])
        self.default_top_k = int(self.metadata.get("top_k", 3))

    def _load_onnx(self, path: Path) -> None:
        _require("onnxruntime")
        import onnxruntime

        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self.metadata = json.loads(self.session.get_modelmeta().custom_metadata_map[METADATA_KEY])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SoundtagError(f"{path}: not a soundtag ONNX export ({str(exc).splitlines()[0][:120]})") from None
        self.run = lambda batch: self.session.run(None, {"waveforms": batch})[0]

    def _load_torchscript(self, path: Path) -> None:
        files = {f"{METADATA_KEY}.json": ""}
        try:
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=files)
            self.metadata = json.loads(files[f"{METADATA_KEY}.json"])
        except (RuntimeError, ValueError) as exc:
            raise SoundtagError(f"{path}: not a soundtag TorchScript export ({str(exc).splitlines()[0][:120]})") from None
        module.eval()

        def run(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return module(torch.from_numpy(batch)).numpy()

        self.run = run

    def segment_probabilities(self, segments: list[np.ndarray]) -> np.ndarray:
        """Segments shorter than the training window are repeated up to it (as the run's own tagger
        repeats their frames); equal-length segments then go through the graph as one batch.
        """
        window = int(round(self.default_segment * self.sample_rate))
        out = []
        for group in _equal_length_runs([_repeat_to(seg, window) for seg in segments]):
            out.append(self.run(np.stack(group).astype(np.float32)))
        return np.concatenate(out)


def _repeat_to(segment: np.ndarray, length: int) -> np.ndarray:
    """``segment`` tiled up to ``length`` samples (unchanged when already as long)."""
    return segment if len(segment) >= length else np.resize(segment, length)


def _equal_length_runs(segments: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Consecutive segments grouped while their lengths are equal."""
    groups: list[list[np.ndarray]] = []
    for seg in segments:
        if groups and len(groups[-1][0]) == len(seg):
            groups[-1].append(seg)
        else:
            groups.append([seg])
    return groups
