"""Tag with an exported graph file (``soundtag export``): ONNX through onnxruntime, without importing
torch, or TorchScript. The graphs themselves are written by :mod:`soundtag.inference.export`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from soundtag.errors import SoundtagError
from soundtag.inference.segments import SegmentTagger

METADATA_KEY = "soundtag"
"""The key of the JSON metadata (labels, rate, windows) embedded in an exported graph."""


def require_package(module: str) -> None:
    """Fail with one line when an optional ONNX package is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise SoundtagError(f"ONNX support needs the package '{module}': pip install 'soundtag[onnx]'")


def session_options(onnxruntime: Any, threads: int | None) -> Any:
    """onnxruntime session options: every graph optimisation, and ``threads`` threads within an operator
    (None: onnxruntime's own choice) with none across operators (the graph is one chain)."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


class ExportedTagger(SegmentTagger):
    """Tags with an exported ``.onnx`` (onnxruntime) or TorchScript file and its embedded metadata, on
    ``threads`` CPU threads (None: the runtime's own choice). torch is imported for a TorchScript file only."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        path = Path(path)
        self.threads = threads
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
        # the windows of a file's own tags, as the run's tagger takes them (older files: the segment)
        self.window_seconds = float(self.metadata.get("window_seconds") or self.default_segment)
        self.window_floor_db = self.metadata.get("window_floor_db")
        self.source = str(path)
        self.default_top_k = int(self.metadata.get("top_k", 3))
        self.multi_label = bool(self.metadata.get("multi_label", False))
        thresholds = self.metadata.get("thresholds")
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)

    def source_digest(self) -> str:
        """The SHA-256 of the exported file."""
        from soundtag.runs import file_digest

        return file_digest(self.path)

    def _load_onnx(self, path: Path) -> None:
        require_package("onnxruntime")
        import onnxruntime

        try:
            self.session = onnxruntime.InferenceSession(str(path), session_options(onnxruntime, self.threads),
                                                        providers=["CPUExecutionProvider"])
            self.metadata = json.loads(self.session.get_modelmeta().custom_metadata_map[METADATA_KEY])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SoundtagError(f"{path}: not a soundtag ONNX export ({str(exc).splitlines()[0][:120]})") from None
        self.run = lambda batch: self.session.run(None, {"waveforms": batch})[0]

    def _load_torchscript(self, path: Path) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
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

    def segment_probabilities(self, segments: list[np.ndarray], sample_rate: int | None = None) -> np.ndarray:
        """Equal-length segments go through the graph as one batch; the graph pads and windows their
        frames as the run's tagger does. (A file exported before graphs did that takes waveforms of one
        training window up: shorter segments are repeated up to it, as it expects.) The graph computes
        its features at :attr:`sample_rate` only, so every file is decoded at it (:meth:`decode_rate`).
        """
        if sample_rate not in (None, self.sample_rate):
            raise ValueError(f"{self.path}: the graph takes {self.sample_rate} Hz waveforms, not {sample_rate} Hz")
        if "windows" not in self.metadata:
            window = int(round(self.default_segment * self.sample_rate))
            segments = [_repeat_to(seg, window) for seg in segments]
        out = []
        for group in _equal_length_runs(segments):
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
