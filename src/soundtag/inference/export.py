"""Export a run as one graph from waveform to class probabilities (ONNX or TorchScript), and tag
with such a file without soundtag's training code or checkpoint.

The graph computes what the run's own :class:`~soundtag.inference.Tagger` computes, not an
approximation of it: features of the whole waveform, padded to one training window as
:func:`~soundtag.data.fit_width` pads them (frames repeated, or zeros, or the clip's minimum), cut into
windows of that width every half window (the last aligned to the end, as
:func:`~soundtag.training.window_starts` places them), and the mean of the windows' probabilities
(:func:`~soundtag.training.activation`: softmax, or a sigmoid per class for a multi-label run, whose
metadata then says ``multi_label`` and carries its per-class ``thresholds``). Repeating
the WAVEFORM instead (as exports before this one did) gives other features at the seams, so short
clips were tagged differently.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from soundtag.data.dataset import PAD_MODES
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write
from soundtag.inference.tagger import SegmentTagger, Tagger
from soundtag.outputs import check_output, run_files
from soundtag.runs import BEST_CHECKPOINT
from soundtag.training import activation

FORMATS = ("onnx", "torchscript")
METADATA_KEY = "soundtag"
MIN_SAMPLES = 2  # the shortest waveform an ONNX graph takes (torch.export specialises sizes 0 and 1)


class WaveformClassifier(nn.Module):
    """Feature front-end and CNN in one module: (batch, samples) -> (batch, n_classes) probabilities,
    windowed over the frames exactly as the run's tagger does (see the module's docstring).

    Branch-free in the number of frames, so one exported graph serves every length: the padding is a
    repeat (or a fill) whose size follows the frame count, and the windows are gathered at
    ``min(i * hop, frames - width)``.
    """

    def __init__(self, transform: nn.Module, model: nn.Module, width: int, hop: int, pad_mode: str = "repeat",
                 multi_label: bool = False) -> None:
        super().__init__()
        if pad_mode not in PAD_MODES:
            raise SoundtagError(f"unknown pad mode {pad_mode!r} (known: {', '.join(PAD_MODES)})")
        self.transform = transform
        self.model = model
        self.width = width
        self.hop = hop
        self.pad_mode = pad_mode
        self.multi_label = multi_label

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.windowed_probabilities(self.transform(waveforms))

    def windowed_probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, n_classes): the mean probabilities (softmax, or sigmoid for a multi-label run) over the
        windows of (batch, bins, frames) features."""
        frames = features.shape[-1]
        if torch.jit.is_scripting():
            total = max(frames, self.width)
        else:
            total = torch.sym_max(frames, self.width)
        if self.pad_mode == "repeat":
            reps = (self.width + frames - 1) // frames
            features = features.repeat(1, 1, reps)[:, :, :total]
        else:
            fill = (torch.zeros_like(features[:, :, :1]) if self.pad_mode == "zeros"
                    else features.amin(dim=(1, 2), keepdim=True))
            features = torch.cat([features, fill.expand(-1, features.shape[1], total - frames)], dim=2)
        count = (total - self.width + self.hop - 1) // self.hop + 1
        starts = torch.clamp(torch.arange(count, device=features.device) * self.hop, max=total - self.width)
        index = starts[:, None] + torch.arange(self.width, device=features.device)[None, :]
        batch, bins = features.shape[0], features.shape[1]
        windows = features[:, :, index].permute(0, 2, 1, 3).reshape(batch * count, bins, self.width)
        probs = activation(self.model(windows).float(), self.multi_label)
        return probs.reshape(batch, count, -1).mean(dim=1)


def export_metadata(tagger: Tagger) -> dict:
    """What a tagger needs besides the graph: labels, sample rate, segment length, top-k, that the
    graph windows its frames itself (``windows``: width, hop and pad mode in frames), and whether its
    outputs are independent per class (``multi_label``) with the ``thresholds`` to tag them by."""
    thresholds = tagger.cutoffs() if tagger.multi_label else None
    return {"labels": tagger.labels, "sample_rate": tagger.sample_rate, "segment": tagger.default_segment,
            "window_seconds": tagger.window_seconds,
            "top_k": tagger.default_top_k, "feature": tagger.config.features.name, "model": tagger.config.model.name,
            "windows": {"width": tagger.width, "hop": tagger.hop, "pad_mode": tagger.config.train.pad_mode},
            "multi_label": tagger.multi_label,
            "thresholds": None if thresholds is None else [round(float(t), 4) for t in thresholds]}


def waveform_classifier(tagger: Tagger) -> WaveformClassifier:
    """The graph of ``tagger`` (its transform and model, windowed as it windows)."""
    return WaveformClassifier(tagger.transform, tagger.model, tagger.width, tagger.hop,
                              tagger.config.train.pad_mode, tagger.multi_label).eval()


def export_run(run_dir: str | Path, fmt: str, path: str | Path, checkpoint: str = BEST_CHECKPOINT) -> Path:
    """Write ``path`` (atomically): the run's front-end, windowing and model, taking waveforms of any
    length (see :class:`WaveformClassifier`). ``path`` may not be a file of the run,
    and must be writable (checked before the export starts)."""
    if fmt not in FORMATS:
        raise SoundtagError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    check_output(path, inputs=run_files(run_dir))
    tagger = Tagger.from_run(run_dir, checkpoint=checkpoint, device="cpu")
    module = waveform_classifier(tagger)
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

    # Waveforms of any length: the graph pads their frames to one training window itself.
    samples = torch.export.Dim("samples", min=MIN_SAMPLES)
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


def _torchscript_bytes(module: WaveformClassifier, example: torch.Tensor, metadata: str) -> bytes:
    """The front-end and the model traced (they have no branches on the length), the windowing around
    them scripted (it has)."""
    import io

    with torch.inference_mode(False), torch.no_grad():
        transform = torch.jit.trace(module.transform, example, check_trace=False)
        model = torch.jit.trace(module.model, torch.zeros(2, module.transform(example).shape[1], module.width),
                                check_trace=False)
        scripted = torch.jit.script(WaveformClassifier(transform, model, module.width, module.hop, module.pad_mode,
                                                       module.multi_label))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer, _extra_files={f"{METADATA_KEY}.json": metadata})
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
        # the windows of a file's own tags, as the run's tagger takes them (older files: the segment)
        self.window_seconds = float(self.metadata.get("window_seconds") or self.default_segment)
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
        """Equal-length segments go through the graph as one batch; the graph pads and windows their
        frames as the run's tagger does. (A file exported before graphs did that takes waveforms of one
        training window up: shorter segments are repeated up to it, as it expects.)
        """
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
