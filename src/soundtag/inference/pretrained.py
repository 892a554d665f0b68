"""Share a run as a Hugging Face-style model folder, and load such a folder back from a local path.

``soundtag export RUN_DIR --format hf -o DIR`` (:func:`export_pretrained`) writes three files:

- ``model.safetensors``: the checkpoint's model weights (safetensors: tensors only, nothing to run);
- ``config.json``: what rebuilds the tagger: the soundtag version, the run's ``audio``, ``features``,
  ``model`` and ``tag`` sections and the ``train`` settings the tagger reads (window length and pad
  mode; no local paths), the labels (output i is the i-th), ``multi_label`` and the per-class
  ``thresholds`` of a multi-label run, the SHA-256 of ``model.safetensors`` and where the weights came
  from (checkpoint name, epoch, validation score and SHA-256, the run's config digest);
- ``README.md``: a model card (YAML front matter with ``library_name: soundtag``, the
  ``audio-classification`` tag and the test metrics of ``soundtag evaluate`` when the run has them).

:func:`load_pretrained` (``Tagger.from_pretrained``) reads such a folder from disk and never from the
network: soundtag downloads nothing, so fetch a shared folder first (``git clone`` of the model's
repository, or ``huggingface-cli download``). Its tags are those of ``Tagger.from_run`` on the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from soundtag import __version__
from soundtag.config import RunConfig, config_from_dict
from soundtag.errors import SoundtagError
from soundtag.features import build_transform
from soundtag.fileio import WriteError, describe_os_error
from soundtag.inference.export import ExportedTagger
from soundtag.inference.tagger import SegmentTagger, Tagger, fitted_model
from soundtag.outputs import check_output, run_files
from soundtag.runs import BEST_CHECKPOINT, RunFolder, file_digest
from soundtag.training import load_checkpoint

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
EXPORT_FILES = (WEIGHTS_FILE, CONFIG_FILE, CARD_FILE)
FORMAT_VERSION = 1
"""The layout of ``config.json``; a folder of a later layout is refused rather than misread."""
SECTIONS = ("audio", "features", "model", "tag")
TAGGER_TRAIN_FIELDS = ("crop_seconds", "pad_mode")
"""The ``train`` settings a tagger reads: the training window (file-level windows) and how short clips are padded."""
METRIC_WORDS = {
    "map3": ("MAP@3", "mean over test clips of 1/rank of the true label in the top 3 (else 0)"),
    "accuracy": ("accuracy", "share of test clips whose top label is the true label"),
    "lwlrap": ("lwlrap", "label-weighted label-ranking average precision"),
    "map": ("mAP", "mean over classes of average precision"),
    "f1_macro": ("macro F1", "mean over classes of F1 at the per-class thresholds"),
    "f1_micro": ("micro F1", "F1 over every clip-label decision at the per-class thresholds"),
}
"""The headline metrics of ``eval-test/metrics.json`` the model card reports, in words."""
NEVER_DOWNLOADS = ("soundtag never downloads models: fetch the folder first (git clone of the model's repository, "
                   "or huggingface-cli download) and give its local path")


@dataclass
class PretrainedSettings:
    """What ``config.json`` holds besides provenance: the config, labels, multi-label flag and thresholds,
    and the digest of the weights file written beside it."""

    config: RunConfig
    labels: list[str]
    multi_label: bool
    thresholds: dict[str, float] | None
    weights_sha256: str
    origin: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form written to ``config.json``."""
        full = self.config.to_dict()
        sections = {name: full[name] for name in SECTIONS}
        sections["train"] = {name: full["train"][name] for name in TAGGER_TRAIN_FIELDS}
        return {"library_name": "soundtag", "format_version": FORMAT_VERSION, "soundtag_version": __version__,
                "config": sections, "labels": self.labels, "multi_label": self.multi_label,
                "thresholds": self.thresholds, "weights_sha256": self.weights_sha256, "origin": self.origin}

    @classmethod
    def from_dict(cls, data: Any, where: Path) -> PretrainedSettings:
        """Settings read from ``config.json`` at ``where``, each part checked (the config as any config
        is, by :func:`~soundtag.config.config_from_dict`); a problem is one line naming the file."""
        if not isinstance(data, dict):
            raise SoundtagError(f"{where}: not a soundtag model config (not a JSON object)")
        if data.get("library_name") != "soundtag" or not isinstance(data.get("format_version"), int):
            raise SoundtagError(f"{where}: not a soundtag model config (no library_name 'soundtag' and format_version)")
        if data["format_version"] > FORMAT_VERSION:
            raise SoundtagError(f"{where}: written by a later soundtag (format {data['format_version']}); "
                                f"this one reads format {FORMAT_VERSION}: upgrade soundtag")
        try:
            config = config_from_dict(data["config"])
        except (KeyError, TypeError):
            raise SoundtagError(f"{where}: 'config' is missing or not a mapping of config sections") from None
        except SoundtagError as exc:
            raise SoundtagError(f"{where}: {exc}") from None
        labels = data.get("labels")
        if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)
                and labels == sorted(set(labels))):
            raise SoundtagError(f"{where}: 'labels' must be a non-empty list of sorted, unique names")
        origin = data.get("origin")
        return cls(config, labels, _flag(data.get("multi_label"), where),
                   _thresholds(data.get("thresholds"), labels, where),
                   _text(data.get("weights_sha256"), "weights_sha256", where),
                   origin if isinstance(origin, dict) else {})

    def threshold_list(self) -> list[float] | None:
        """The thresholds in label order, as :class:`Tagger` takes them."""
        return None if self.thresholds is None else [self.thresholds[label] for label in self.labels]


def _flag(value: Any, where: Path) -> bool:
    if not isinstance(value, bool):
        raise SoundtagError(f"{where}: 'multi_label' must be true or false")
    return value


def _text(value: Any, key: str, where: Path) -> str:
    if not isinstance(value, str) or not value:
        raise SoundtagError(f"{where}: '{key}' is missing")
    return value


def _thresholds(value: Any, labels: list[str], where: Path) -> dict[str, float] | None:
    """``thresholds`` of ``config.json``: None, or one number in [0, 1] for each label."""
    if value is None:
        return None
    ok = (isinstance(value, dict) and sorted(value) == labels
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in value.values()))
    if not ok:
        raise SoundtagError(f"{where}: 'thresholds' must hold one number in [0, 1] for each of the "
                            f"{len(labels)} labels")
    return {label: float(value[label]) for label in labels}


# --- export --------------------------------------------------------------------------------------

def export_pretrained(run_dir: str | Path, out_dir: str | Path, checkpoint: str = BEST_CHECKPOINT) -> Path:
    """Write the model folder ``out_dir`` (see the module's docstring) of ``checkpoint`` of the run in
    ``run_dir``, all at once (:func:`write_folder`). ``out_dir`` must be new, empty or an earlier export
    (replaced), and neither the run folder nor inside it."""
    import safetensors.torch

    folder = RunFolder(run_dir).require_run()
    out = check_export_folder(out_dir, folder)
    tagger = Tagger.from_run(folder.path, checkpoint=checkpoint, device="cpu", channels_last=False)
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in tagger.model.state_dict().items()}
    # one metadata key: safetensors writes several in a random order, and the export would not be reproducible
    weights_bytes = safetensors.torch.save(weights, metadata={"format": "pt"})
    settings = PretrainedSettings(tagger.config, tagger.labels, tagger.multi_label, _label_thresholds(tagger),
                                  hashlib.sha256(weights_bytes).hexdigest(), run_origin(folder, checkpoint))
    metrics = evaluation_metrics(folder, folder.checkpoint_path(checkpoint))
    card = model_card(settings, metrics, out.name, sum(t.numel() for t in weights.values()))
    config_text = json.dumps(settings.to_dict(), indent=1) + "\n"
    write_folder(out, {WEIGHTS_FILE: weights_bytes, CONFIG_FILE: config_text.encode(), CARD_FILE: card.encode()})
    return out


def _label_thresholds(tagger: Tagger) -> dict[str, float] | None:
    """A multi-label tagger's own per-class thresholds by label (None: it has none, or is single-label)."""
    if tagger.thresholds is None:
        return None
    return {label: round(float(t), 4) for label, t in zip(tagger.labels, tagger.thresholds)}


def run_origin(folder: RunFolder, checkpoint: str) -> dict[str, Any]:
    """Where the weights come from: the checkpoint's name, SHA-256, epoch and validation score, and the
    run's config digest and soundtag version (no local paths)."""
    path = folder.checkpoint_path(checkpoint)
    saved = load_checkpoint(path)
    manifest = folder.read_manifest() or {}
    numbers = {key: saved[key] for key in ("epoch", "score")
               if isinstance(saved.get(key), (int, float)) and not isinstance(saved.get(key), bool)}
    return {"checkpoint": checkpoint, "checkpoint_sha256": file_digest(path), **numbers,
            "run_config_sha256": manifest.get("config_sha256"),
            "run_soundtag_version": manifest.get("soundtag_version")}


def check_export_folder(out_dir: str | Path, folder: RunFolder) -> Path:
    """``out_dir``, after checking it can take an export: writable, not the run folder or inside it, and
    new, empty or an earlier export (whose three files the new ones replace; anything else there is
    refused, so no other file is ever deleted)."""
    out = check_output(out_dir, inputs=[folder.path, *run_files(folder.path)], folder=True, option="-o")
    run, place = folder.path.resolve(), out.resolve()
    if run in place.parents:
        raise SoundtagError(f"-o {out}: lies inside the run folder {folder.path}; write the export elsewhere")
    if out.is_dir():
        others = sorted(child.name for child in out.iterdir() if child.name not in EXPORT_FILES)
        if others or (any(out.iterdir()) and not is_pretrained_folder(out)):
            example = f" (e.g. {others[0]})" if others else ""
            raise SoundtagError(f"-o {out}: holds files that are not a soundtag model export{example}; "
                                "give a new or empty folder, or an earlier export to replace")
    return out


def write_folder(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) as the folder ``out`` all at once: each file is written and
    synced in a temporary sibling folder, which is then renamed to ``out`` (an earlier export there is
    first moved aside, and removed once the new folder is in place). A failed write leaves ``out`` as
    it was and raises a :class:`~soundtag.fileio.WriteError` naming it."""
    existed = out.is_dir() and any(out.iterdir())
    stem = out.parent / f".{out.name}.{secrets.token_hex(4)}"
    staging, aside = stem.with_name(stem.name + ".tmp"), stem.with_name(stem.name + ".old")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        for name, data in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        if existed:
            os.rename(out, aside)
        try:
            os.rename(staging, out)  # replaces an empty folder too
        except OSError:
            if existed:
                os.rename(aside, out)
            raise
    except OSError as exc:
        kept = "the earlier export is unchanged" if existed else "nothing was written"
        raise WriteError(out, f"not written, {describe_os_error(exc)}; {kept}", exc.errno) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)


def evaluation_metrics(folder: RunFolder, checkpoint_path: Path) -> dict[str, Any] | None:
    """The run's test metrics on its own corpus (``eval-test/metrics.json``, written by ``soundtag
    evaluate``), or None when there are none or they predate the checkpoint (they would describe other
    weights)."""
    path = folder.evaluation_dir("test") / "metrics.json"
    try:
        if path.stat().st_mtime < checkpoint_path.stat().st_mtime:
            return None
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) else None


# --- the model card ------------------------------------------------------------------------------

def corpus_name(corpus: str) -> str:
    """A corpus's name without its machine's path: its folder's name (a manifest CSV: the folder holding it).

    >>> corpus_name("/data/sounds/fsd-mini"), corpus_name("/data/multi/manifest.csv")
    ('fsd-mini', 'multi')
    """
    path = Path(corpus)
    return (path.parent if path.suffix.lower() == ".csv" else path).name or str(corpus)


def model_card(settings: PretrainedSettings, metrics: dict[str, Any] | None, name: str, n_parameters: int) -> str:
    """``README.md`` of an export: YAML front matter for the Hugging Face hub, then what the model is,
    what it was trained and scored on, its classes, intended use, limitations and how to load it."""
    config, labels, origin = settings.config, settings.labels, settings.origin
    corpus = corpus_name(config.data.corpus)
    scores = {key: float(metrics[key]) for key in METRIC_WORDS
              if metrics and isinstance(metrics.get(key), (int, float))}
    kind = ("multi-label: a sigmoid per class, each label given when its probability reaches the class's threshold"
            if settings.multi_label else "single-label: a softmax over the classes, the top labels given")
    score_name = "lwlrap" if settings.multi_label else "MAP@3"
    best = (f" Its weights are those of `{origin.get('checkpoint')}`, epoch {origin['epoch']}"
            f" (validation {score_name} {origin['score']:.3f})." if "epoch" in origin and "score" in origin else "")
    parts = [
        "---\n" + yaml.safe_dump(front_matter(scores, name, corpus), sort_keys=False) + "---\n",
        f"# {name}\n",
        f"A soundtag audio tagger for {len(labels)} classes, {kind}. Model `{config.model.name}` "
        f"({n_parameters:,} parameters) on `{config.features.name}` features of {config.audio.sample_rate} Hz mono "
        f"audio, in windows of {config.train.crop_seconds:g} s.\n",
        "## Training\n",
        f"Trained with soundtag {origin.get('run_soundtag_version') or __version__} on the training clips of the "
        f"corpus `{corpus}`.{best} `config.json` holds the settings the tagger needs; the run's full "
        "`config.yaml` reproduces the training.\n",
        "## Evaluation\n",
        _evaluation_text(scores, metrics, corpus),
        "## Classes\n",
        _classes_text(settings),
        "## Intended use\n",
        f"Tagging recordings like those of `{corpus}` with these {len(labels)} classes: whole files, with "
        "per-segment tags and times for longer files (`soundtag tag`), or audio already in memory.\n",
        "## Limitations\n",
        _limitations_text(settings),
        "## How to load\n",
        "soundtag loads this folder from a local path and never downloads: fetch it first (`git clone` of this "
        "repository, or `huggingface-cli download`).\n",
        "```python\nimport soundtag\n\n"
        f'tagger = soundtag.Tagger.from_pretrained("{name}")   # the local folder\n'
        'print(tagger.tag_file("clip.wav").tags)\n```\n',
        f"or `soundtag tag {name} clip.wav`. Files: `{WEIGHTS_FILE}` (the weights), `{CONFIG_FILE}` (settings, "
        f"labels, thresholds, digests), `{CARD_FILE}` (this card).\n",
    ]
    return "\n".join(parts)


def front_matter(scores: dict[str, float], name: str, corpus: str) -> dict[str, Any]:
    """The card's YAML metadata for the Hugging Face hub: library, task tags and, when the run was
    evaluated, its test ``scores`` as a ``model-index`` entry."""
    front: dict[str, Any] = {"library_name": "soundtag", "pipeline_tag": "audio-classification",
                             "tags": ["audio-classification", "audio-tagging", "soundtag"]}
    if scores:
        front["metrics"] = list(scores)
        front["model-index"] = [{"name": name, "results": [{
            "task": {"type": "audio-classification", "name": "Audio tagging"},
            "dataset": {"name": corpus, "type": corpus, "split": "test"},
            "metrics": [{"type": key, "name": METRIC_WORDS[key][0], "value": round(value, 4)}
                        for key, value in scores.items()]}]}]
    return front


def _evaluation_text(scores: dict[str, float], metrics: dict[str, Any] | None, corpus: str) -> str:
    """The card's evaluation section: a table of the test metrics, or how to get them."""
    if not scores:
        return ("Not evaluated: run `soundtag evaluate RUN_DIR` before exporting to report the test metrics "
                "here.\n")
    clips = metrics.get("n_clips") if metrics else None
    rows = "".join(f"| {METRIC_WORDS[key][0]} | {value:.3f} | {METRIC_WORDS[key][1]} |\n"
                   for key, value in scores.items())
    size = f" ({clips} clips)" if isinstance(clips, int) else ""
    return (f"On the test split of `{corpus}`{size}, as `soundtag evaluate` scored it:\n\n"
            "| metric | value | meaning |\n|---|---|---|\n" + rows)


def _classes_text(settings: PretrainedSettings) -> str:
    """The labels, with their thresholds when the model has them."""
    if settings.thresholds is None:
        return ", ".join(f"`{label}`" for label in settings.labels) + "\n"
    return "".join(f"- `{label}` (threshold {settings.thresholds[label]:.3f})\n" for label in settings.labels)


def _limitations_text(settings: PretrainedSettings) -> str:
    """What the model cannot do, as the card's list."""
    unknown = ("A sound of another kind may still reach a class's threshold" if settings.multi_label
               else "A sound of another kind still gets the nearest of them (a single-label model always gives its "
                    "top labels)")
    return (f"- It knows only the classes above. {unknown}; read low probabilities as uncertain.\n"
            "- Scores hold for recordings like the corpus's test clips; other microphones, noise, sample rates or "
            "sources may score lower. A small test split leaves wide uncertainty on every figure.\n"
            f"- Audio is mixed to mono and resampled to {settings.config.audio.sample_rate} Hz before tagging.\n")


# --- loading -------------------------------------------------------------------------------------

class PretrainedTagger(Tagger):
    """A :class:`Tagger` read from an export folder by :func:`load_pretrained`; its provenance names the
    folder and, as its digest, the SHA-256 of its ``config.json`` (which holds the weights' SHA-256)."""

    config_sha256: str = ""

    def source_digest(self) -> str:
        return self.config_sha256


def is_pretrained_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding ``config.json`` and ``model.safetensors`` (an export to load)."""
    path = Path(path)
    return (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def pretrained_folder(path: str | Path) -> Path:
    """``path`` as a local export folder, or a one-line error saying what it is instead."""
    folder = Path(path)
    if not folder.is_dir():
        raise SoundtagError(f"{path}: no such folder; {NEVER_DOWNLOADS}")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            hint = "; it is a run folder: use Tagger.from_run" if RunFolder(folder).is_run() else ""
            raise SoundtagError(f"{folder}: not a soundtag model folder (no {name}){hint}")
    return folder


def load_pretrained(path: str | Path, device: str = "auto", channels_last: bool = True) -> PretrainedTagger:
    """The tagger of the export folder at the local ``path`` (never a download), its config checked
    as any config is, its weights checked against their SHA-256 in ``config.json`` and against the
    model they must fit."""
    from safetensors.torch import load as tensors_from_bytes  # tensors only: no pickle

    folder = pretrained_folder(path)
    config_bytes = _read(folder / CONFIG_FILE)
    try:
        data = json.loads(config_bytes)
    except ValueError as exc:
        raise SoundtagError(f"{folder / CONFIG_FILE}: not valid JSON ({exc})") from None
    settings = PretrainedSettings.from_dict(data, folder / CONFIG_FILE)
    weights_bytes = _read(folder / WEIGHTS_FILE)
    if hashlib.sha256(weights_bytes).hexdigest() != settings.weights_sha256:
        raise SoundtagError(f"{folder / WEIGHTS_FILE}: changed after export (its SHA-256 differs from "
                            f"{CONFIG_FILE}'s weights_sha256); export the run again")
    try:
        weights = tensors_from_bytes(weights_bytes)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types on a damaged file
        raise SoundtagError(f"{folder / WEIGHTS_FILE}: not readable safetensors ({str(exc)[:120]})") from None
    config = settings.config
    transform = build_transform(config.features, config.audio.sample_rate)
    model = fitted_model(config, transform, len(settings.labels), weights, folder / WEIGHTS_FILE, folder / CONFIG_FILE)
    tagger = PretrainedTagger(model, transform, settings.labels, config, device, channels_last,
                              multi_label=settings.multi_label, thresholds=settings.threshold_list())
    tagger.source, tagger.config_sha256 = str(folder), hashlib.sha256(config_bytes).hexdigest()
    return tagger


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SoundtagError(f"{path}: cannot read ({describe_os_error(exc)})") from None


def load_tagger(source: str | Path, checkpoint: str = BEST_CHECKPOINT, device: str = "auto") -> SegmentTagger:
    """The tagger a user names by path: an exported graph file (``.onnx``, ``.pt``), an export folder
    (:func:`is_pretrained_folder`) or a run folder (its ``checkpoint``)."""
    if Path(source).is_file():
        return ExportedTagger(source)
    if is_pretrained_folder(source):
        return load_pretrained(source, device)
    return Tagger.from_run(source, checkpoint=checkpoint, device=device)
