"""A training run end to end: corpus -> cached features -> split -> model -> trainer -> run folder.

The run folder holds ``config.yaml`` (which reproduces the run), ``label_map.json``, ``metrics.csv``,
``best.pt``, ``last.pt`` and ``train.log``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from soundtag.config import RunConfig, load_config, save_config
from soundtag.data import Clip, Corpus, Example, FeatureCache, LabelMap, cache_features, read_corpus
from soundtag.data.corpus import read_csv
from soundtag.errors import SoundtagError
from soundtag.features import build_transform
from soundtag.models import build_model, model_summary
from soundtag.training import distributed as dd
from soundtag.training.split import validation_split
from soundtag.training.trainer import Trainer, TrainingSet, TrainResult

CONFIG_FILE = "config.yaml"
LABEL_MAP_FILE = "label_map.json"
LOG_FILE = "train.log"


def window_frames(config: RunConfig) -> int:
    """Width in frames of a training window: fixed by the feature (seed spectrogram) or from
    ``train.crop_seconds``.
    """
    fixed = getattr(config.features, "n_frames", None)
    if fixed:
        return int(fixed)
    transform = build_transform(config.features, config.audio.sample_rate)
    return transform.num_frames(int(round(config.train.crop_seconds * config.audio.sample_rate)))


def feature_bins(config: RunConfig) -> int:
    """Rows of the configured feature."""
    return build_transform(config.features, config.audio.sample_rate).num_bins


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch. (CPU kernels are deterministic already; asking torch to enforce
    it imports its compiler stack, which costs seconds per process.)
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def run_logger(run_dir: Path, console: bool = True, name: str = "soundtag.training") -> Iterator[logging.Logger]:
    """A logger that appends to ``run_dir/train.log`` (and echoes to stderr) for one run; silent in
    the processes of a distributed run other than rank 0.
    """
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not dd.is_main_process():
        handlers: list[logging.Handler] = [logging.NullHandler()]
    else:
        handlers = [logging.FileHandler(run_dir / LOG_FILE, encoding="utf-8")]
        handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    if console and dd.is_main_process():
        handlers.append(logging.StreamHandler())
        handlers[1].setFormatter(logging.Formatter("%(message)s"))
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield logger
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()


def read_extra_labels(path: str | Path, corpus: Corpus) -> dict[str, str]:
    """``fname,label`` rows (e.g. promoted labels) for train clips of ``corpus``."""
    frame = read_csv(Path(path), ("fname", "label"))
    known = {c.fname for c in corpus.train}
    vocabulary = set(corpus.labels)
    for fname, label in zip(frame["fname"], frame["label"]):
        if fname not in known:
            raise SoundtagError(f"{path}: fname {fname!r} is not a train clip of {corpus.root}")
        if label not in vocabulary:
            raise SoundtagError(f"{path}: label {label!r} of {fname!r} is not in the vocabulary")
    return dict(zip(frame["fname"], frame["label"]))


def choose_training_clips(corpus: Corpus, labels: str, extra_labels: str | None = None) -> list[Clip]:
    """All labelled train clips or the verified ones, plus the clips of ``extra_labels`` with those
    labels. Extra clips are marked unverified, so the validation split stays the same.
    """
    clips = [c for c in corpus.train if labels == "all" or c.verified]
    if extra_labels:
        extra = read_extra_labels(extra_labels, corpus)
        chosen = {c.fname for c in clips}
        clips = [replace(c, label=extra[c.fname], verified=False) if c.fname in extra and not c.verified else c
                 for c in clips]
        clips += [replace(c, label=extra[c.fname], verified=False)
                  for c in corpus.train if c.fname in extra and c.fname not in chosen]
    return clips


def examples_for(clips: list[Clip], label_map: LabelMap, unverified_weight: float = 1.0,
                 trusted: set[str] | frozenset[str] = frozenset()) -> list[Example]:
    """Examples with class indices from ``label_map``; clips neither verified nor ``trusted``
    (e.g. promoted) get ``unverified_weight``.
    """
    return [Example(str(c.path), label_map.index(str(c.label)), c.fname,
                    1.0 if c.verified or c.fname in trusted else unverified_weight) for c in clips]


@dataclass
class PreparedRun:
    """Everything needed to start or resume training, and what was skipped."""

    data: TrainingSet
    label_map: LabelMap
    failures: list[tuple[str, str]]


def prepare_training(config: RunConfig, progress: bool = True) -> PreparedRun:
    """Read the corpus, cache features of its train clips and split off validation clips."""
    corpus = read_corpus(config.data.corpus)
    label_map = LabelMap(corpus.labels)
    cache = FeatureCache(config.data.cache_dir, config.audio, config.features)
    clips = choose_training_clips(corpus, config.train.labels, config.train.extra_labels)
    report = cache_features([c.path for c in clips], config.audio, config.features, cache,
                            num_workers=config.data.num_workers, progress=progress)
    failed = {path for path, _ in report.failures}
    usable = [c for c in clips if str(c.path) not in failed]
    train, val = validation_split(usable, config.train.val_fraction, config.seed,
                                  from_verified=config.train.val_from == "verified")
    if not train:
        raise SoundtagError(f"{config.data.corpus}: no usable training clips")
    trusted = set(read_extra_labels(config.train.extra_labels, corpus)) if config.train.extra_labels else set()
    weight = config.train.unverified_weight
    data = TrainingSet(examples_for(train, label_map, weight, trusted), examples_for(val, label_map), cache,
                       len(label_map), feature_bins(config), window_frames(config))
    return PreparedRun(data, label_map, corpus.rejected + report.failures)


def start_run(config: RunConfig, run_dir: str | Path, progress: bool = True) -> tuple[TrainResult, PreparedRun]:
    """Train a new run in ``run_dir``.

    A folder holding a run of the very same config is resumed instead, so a repeated command
    finishes the run rather than failing or starting over.
    """
    run_dir = Path(run_dir)
    dd.init_distributed()
    build_model(config.model, feature_bins(config), 2)  # a model that does not fit the features fails now
    if (run_dir / "last.pt").exists():
        if (run_dir / CONFIG_FILE).is_file() and load_config(run_dir / CONFIG_FILE).to_dict() == config.to_dict():
            return _train(config, run_dir, progress, resume=True)
        raise SoundtagError(f"{run_dir}: already holds a run of another config; use --resume {run_dir} or another --out")
    if dd.is_main_process():
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / CONFIG_FILE)
    dd.barrier()
    return _train(config, run_dir, progress, resume=False)


def resume_run(run_dir: str | Path, progress: bool = True) -> tuple[TrainResult, PreparedRun]:
    """Continue the run in ``run_dir`` from its last completed epoch."""
    run_dir = Path(run_dir)
    dd.init_distributed()
    config = load_config(run_dir / CONFIG_FILE)
    return _train(config, run_dir, progress, resume=(run_dir / "last.pt").exists())


def _train(config: RunConfig, run_dir: Path, progress: bool, resume: bool) -> tuple[TrainResult, PreparedRun]:
    seed_everything(config.seed)
    with dd.main_process_first():
        prepared = prepare_training(config, progress and dd.is_main_process())
    if dd.is_main_process():
        prepared.label_map.save(run_dir / LABEL_MAP_FILE)
    model = build_model(config.model, prepared.data.in_bins, prepared.data.n_classes)
    with run_logger(run_dir, console=progress) as logger:
        logger.info("%s; %d train / %d validation clips; window %d frames",
                    model_summary(config.model.name, model), len(prepared.data.train),
                    len(prepared.data.val), prepared.data.width)
        for path, problem in prepared.failures:
            logger.warning("skipped %s: %s", path, problem)
        trainer = Trainer(config, model, prepared.data, run_dir, progress=progress, logger=logger)
        if resume:
            trainer.resume()
        result = trainer.fit()
        logger.info("done: best val MAP@3 %.4f at epoch %d of %d", result.best_score, result.best_epoch,
                    result.epochs_run)
    dd.barrier()
    return result, prepared
