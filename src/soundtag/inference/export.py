"""Export a run as one graph from waveform to class probabilities (ONNX or TorchScript); such a file
tags without soundtag's training code or checkpoint (:class:`~soundtag.inference.graph.ExportedTagger`,
named here too).

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

import torch
from torch import nn

from soundtag.data.dataset import PAD_MODES
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write
from soundtag.inference.graph import METADATA_KEY, ExportedTagger, require_package
from soundtag.inference.tagger import Tagger
from soundtag.outputs import check_output, run_files
from soundtag.runs import BEST_CHECKPOINT
from soundtag.training import activation

__all__ = ["FORMATS", "ExportedTagger", "WaveformClassifier", "export_metadata", "export_run",
           "waveform_classifier"]

FORMATS = ("onnx", "torchscript", "hf")
"""Export formats: one graph file (ONNX, TorchScript), or a Hugging Face-style model folder (``hf``:
:mod:`soundtag.inference.pretrained`)."""
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
            "window_seconds": tagger.window_seconds, "window_floor_db": tagger.window_floor_db,
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
    and must be writable (checked before the export starts). Format ``hf`` writes the model folder
    ``path`` instead (:func:`~soundtag.inference.pretrained.export_pretrained`)."""
    if fmt not in FORMATS:
        raise SoundtagError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "hf":
        from soundtag.inference.pretrained import export_pretrained

        return export_pretrained(run_dir, path, checkpoint)
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



def _onnx_bytes(module: nn.Module, example: torch.Tensor, metadata: str) -> bytes:
    require_package("onnxscript")

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
