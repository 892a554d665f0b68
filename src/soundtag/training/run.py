"""A training run end to end: corpus -> cached features -> split -> model -> trainer -> run folder.

The run folder's layout, resume-or-refuse rule and lock belong to :mod:`soundtag.runs`.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from soundtag.config import MULTI_LABEL_GCE, RunConfig
from soundtag.data import (
    Clip,
    Corpus,
    FeatureCache,
    LabelMap,
    cache_features,
    choose_training_clips,
    describe_rejected,
    examples_for,
    read_corpus,
    read_extra_labels,
    write_split,
)
from soundtag.data.reviewed import apply_review
from soundtag.data.variants import cache_variants, open_bank
from soundtag.errors import SoundtagError
from soundtag.features import build_transform
from soundtag.models import build_model, model_summary
from soundtag.runs import SPLIT_FILE, RunFolder, open_run, run_logger
from soundtag.training import distributed as dd
from soundtag.training.distill import read_teacher
from soundtag.training.finetune import check_fine_tuning, freeze_blocks, load_initial_weights
from soundtag.training.split import validation_split
from soundtag.training.trainer import Trainer, TrainingSet, TrainResult


def window_frames(config: RunConfig) -> int:
    """Width in frames of a training window: fixed by the feature (seed spectrogram) or from
    ``train.crop_seconds``.
    """
    transform = build_transform(config.features, config.audio.sample_rate)
    crop = int(round(config.train.crop_seconds * config.audio.sample_rate))
    return transform.fixed_frames or transform.num_frames(crop)


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


@dataclass
class PreparedRun:
    """Everything needed to start or resume training, and what was skipped."""

    data: TrainingSet
    label_map: LabelMap
    failures: list[tuple[str, str]]
    clips: list[Clip]
    """The train clips of the corpus (every one, chosen or not), with their given labels."""
    extra_labels: dict[str, str]
    """``train.extra_labels`` as fname -> label (empty without it)."""
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """The corpus's CSV rows that were left out, as (csv file, problem)."""
    corpus: Corpus | None = None
    """The corpus read (its ``split_note`` says whether its test split was drawn)."""


def prepare_training(config: RunConfig, progress: bool = True) -> PreparedRun:
    """Read the corpus, cache features of its train clips and split off validation clips."""
    corpus = read_corpus(config.data.corpus)
    multi_label = multi_label_run(config, corpus)  # refused before any work
    label_map = LabelMap(corpus.labels)
    cache = FeatureCache(config.data.cache_dir, config.audio, config.features)
    extra = read_extra_labels(config.train.extra_labels, corpus) if config.train.extra_labels else {}
    if config.data.reviewed:  # a person's decisions win over the given and the extra labels
        corpus = apply_review(corpus, config.data.reviewed)
    clips = choose_training_clips(corpus, config.train.labels, extra)
    report = cache_features([c.path for c in clips + corpus.val], config.audio, config.features, cache,
                            num_workers=config.data.num_workers, progress=progress)
    failed = {path for path, _ in report.failures}
    usable = [c for c in clips if str(c.path) not in failed]
    if corpus.val:  # the layout names its validation clips (manifest split=val, FSD50K dev val, val/)
        train, val = usable, [c for c in corpus.val if str(c.path) not in failed]
    else:
        train, val = validation_split(usable, config.train.val_fraction, config.seed,
                                      from_verified=config.train.val_from == "verified")
    if not train:
        drawn = [] if corpus.val else val  # the validation clips taken from the train clips
        raise SoundtagError(f"{config.data.corpus}: no usable training clips: "
                            f"{why_no_training_clips(config, corpus, clips, report.failures, drawn)}")
    weight = config.train.unverified_weight
    data = TrainingSet(examples_for(train, label_map, weight, set(extra)), examples_for(val, label_map), cache,
                       len(label_map), feature_bins(config), window_frames(config), multi_label,
                       chain_variants(config, usable, label_map, progress))
    if config.train.teacher:
        data.teacher = read_teacher(config.train.teacher, data.train, label_map.labels)
    return PreparedRun(data, label_map, corpus.rejected + report.failures, corpus.train, extra, corpus.rejected,
                       corpus)


def chain_variants(config: RunConfig, clips: list[Clip], label_map: LabelMap, progress: bool) -> list[FeatureCache]:
    """The caches of the augmented variants of ``clips`` (``train.augment.chain``), made where missing;
    none when no ingredient is on. They are made of every usable train clip, the validation clips drawn
    from them included, so runs of other seeds (other splits) share them."""
    chain = config.train.augment.chain
    if not chain.enabled:
        return []
    bank = open_bank(config.data.cache_dir, config.audio, config.features, chain, clips, label_map.labels)
    cache_variants(bank, [c.path for c in clips], num_workers=config.data.num_workers, progress=progress)
    return bank.caches()


def multi_label_run(config: RunConfig, corpus: Corpus) -> bool:
    """Whether a run learns sigmoid outputs with binary cross-entropy: ``train.multi_label`` ``yes``,
    or ``auto`` on a multi-label corpus (:attr:`~soundtag.data.Corpus.multi_label`). A multi-label
    corpus with ``no``, and ``train.loss=gce`` on a multi-label run, are refused in one line."""
    choice = config.train.multi_label
    multi = corpus.multi_label if choice == "auto" else choice == "yes"
    if corpus.multi_label and not multi:
        raise SoundtagError(f"{config.data.corpus}: train.multi_label=no, but the corpus is multi-label (clips with "
                            "several labels, or none): a softmax run cannot learn it; use train.multi_label=auto")
    if multi and config.train.loss == "gce":
        raise SoundtagError(f"{config.data.corpus}: {MULTI_LABEL_GCE}")
    return multi


def why_no_training_clips(config: RunConfig, corpus: Corpus, chosen: list[Clip], failures: list[tuple[str, str]],
                          val: list[Clip]) -> str:
    """Where the train clips went: rows left out, labels not chosen, files not decoded, validation."""
    source = corpus.sources.get("train", corpus.root)
    train_rejected = [r for r in corpus.rejected if Path(r[0]) == source]
    parts = [f"{source.name} lists {len(corpus.train) + len(train_rejected)} train clip(s)"]
    if train_rejected:
        parts.append(describe_rejected(train_rejected))
    if len(chosen) < len(corpus.train):
        parts.append(f"{len(chosen)} of the {len(corpus.train)} readable rows chosen by "
                     f"train.labels={config.train.labels}")
    if failures:
        path, problem = failures[0]
        parts.append(f"{len(failures)} file(s) could not be decoded (first: {path}: {problem})")
    if val:
        parts.append(f"the remaining {len(val)} went to validation")
    return "; ".join(parts)


def start_run(config: RunConfig, run_dir: str | Path, progress: bool = True) -> tuple[TrainResult, PreparedRun]:
    """Train a new run of ``config`` in ``run_dir``.

    A folder holding a run of the very same config is resumed instead, so a repeated command
    finishes the run rather than failing or starting over (see :func:`soundtag.runs.open_run`).
    """
    dd.init_distributed()
    # a model that does not fit the features, or a train.init_from run it cannot start from, fails now
    check_fine_tuning(config, build_model(config.model, feature_bins(config), 2))
    with open_for_training(run_dir, config) as (folder, config):
        return _train(config, folder, progress)


def resume_run(run_dir: str | Path, progress: bool = True, extend: list[str] | None = None
               ) -> tuple[TrainResult, PreparedRun]:
    """Continue the run in ``run_dir`` from its last completed epoch; ``extend`` (``--set`` overrides
    of ``train.epochs``, ``train.patience`` and settings that change neither model nor data) lets a
    finished run train on.
    """
    dd.init_distributed()
    with open_for_training(run_dir, None, extend) as (folder, config):
        return _train(config, folder, progress)


@contextlib.contextmanager
def open_for_training(run_dir: str | Path, config: RunConfig | None, extend: list[str] | None = None
                      ) -> Iterator[tuple[RunFolder, RunConfig]]:
    """The run folder opened by the process that writes it (rank 0 of a distributed run); the other
    processes read the config it wrote once it has."""
    if dd.is_main_process():
        with open_run(run_dir, config, extend) as (folder, config, _):
            dd.barrier()
            yield folder, config
    else:
        dd.barrier()
        folder = RunFolder(run_dir)
        yield folder, folder.read_config()


def _train(config: RunConfig, folder: RunFolder, progress: bool) -> tuple[TrainResult, PreparedRun]:
    seed_everything(config.seed)
    writes = dd.is_main_process()
    with dd.main_process_first():
        prepared = prepare_training(config, progress and writes)
    resume = folder.last_path.exists()
    if resume and folder.label_map_path.is_file():
        saved = folder.read_label_map()
        if saved.labels != prepared.label_map.labels:
            raise SoundtagError(f"{folder.label_map_path}: the corpus's classes changed since the run started "
                                f"({len(saved)} then, {len(prepared.label_map)} now); train a new run")
        if folder.is_multi_label() != prepared.data.multi_label:
            raise SoundtagError(f"{folder.manifest_path}: the run {'was' if folder.is_multi_label() else 'was not'} "
                                "multi-label but its corpus now says otherwise; train a new run")
    if writes:
        folder.write_label_map(prepared.label_map, prepared.data.multi_label)
        if prepared.corpus is not None and prepared.corpus.split_note:
            write_split(prepared.corpus, folder.path / SPLIT_FILE)
    model = build_model(config.model, prepared.data.in_bins, prepared.data.n_classes)
    initial = None if resume else load_initial_weights(model, config, prepared.label_map)  # last.pt wins on resume
    freeze_blocks(model, config)
    if initial is not None and writes:
        folder.record_init_from(initial.source, initial.best_sha256)
    with run_logger(folder, writes=writes) as logger:
        logger.info("%s; %d train / %d validation clips; window %d frames; %d CPU thread(s)",
                    model_summary(config.model.name, model), len(prepared.data.train),
                    len(prepared.data.val), prepared.data.width, torch.get_num_threads())
        if initial is not None:
            logger.info("%s", initial.describe())
        if prepared.corpus is not None and prepared.corpus.split_note:
            logger.info("%s; recorded in %s", prepared.corpus.split_note, SPLIT_FILE)
        if prepared.rejected:
            logger.warning("%s", describe_rejected(prepared.rejected))
        for path, problem in prepared.failures[len(prepared.rejected):]:
            logger.warning("skipped %s: %s", path, problem)
        trainer = Trainer(config, model, prepared.data, folder.path, progress=progress, logger=logger)
        if resume:
            trainer.resume()
        result = trainer.fit()
        if prepared.data.multi_label and writes:
            thresholds, note = trainer.choose_thresholds()
            folder.write_thresholds(dict(zip(prepared.label_map.labels, thresholds.tolist())), note)
            logger.info("tagging thresholds: %s (%s)", folder.thresholds_path.name, note)
        logger.info("done: %s", result.describe())
    dd.barrier()
    return result, prepared
