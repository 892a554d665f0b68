"""Self-training: before each round (after the first, or from the start when initial weights are
given), unverified (and unlabelled) clips whose top predicted probability lies in [lower, upper]
join the training set; ``lower`` moves linearly over the rounds.

Each round is a classifier run in ``OUT/round-K/`` (a full run folder) continuing from the previous
round's best weights; a round's selection and its end are recorded (``selection.json``,
``round.json``), so a killed run resumes where it stopped and ends as an uninterrupted one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from soundtag.config import RunConfig, SelfTrainConfig
from soundtag.data import Clip, LabelMap, cache_features, examples_for, read_folder
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.models import build_model, model_summary
from soundtag.runs import RunFolder, open_run, run_logger
from soundtag.training import (
    Trainer,
    TrainingSet,
    load_weights,
    predict_clips,
    prepare_training,
    seed_everything,
)

ROUND_COLUMNS = ["round", "lower", "epochs", "clips_used", "added", "train_acc", "val_acc", "val_map3"]


def lower_bound(config: SelfTrainConfig, round_index: int) -> float:
    """The lower probability bound after round ``round_index`` (1-based), linear from start to end.

    >>> lower_bound(SelfTrainConfig(rounds=3, lower_start=0.9, lower_end=0.7), 2)
    0.8
    """
    if config.rounds == 1:
        return config.lower_start
    step = (config.lower_end - config.lower_start) / (config.rounds - 1)
    return round(config.lower_start + step * (round_index - 1), 10)


def select_confident(probabilities: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Mask of rows whose top probability lies in [lower, upper]."""
    top = probabilities.max(axis=1) if len(probabilities) else np.zeros(0)
    return (top >= lower) & (top <= upper)


@dataclass
class SelfTrainResult:
    """The per-round table and the folder of the round with the best validation MAP@3."""

    table: pd.DataFrame
    final_dir: Path


def candidate_pool(config: RunConfig, train_clips: list[Clip], all_train: list[Clip]) -> list[Clip]:
    """Unverified train clips not in the training set, plus unlabelled clips when configured."""
    used = {c.fname for c in train_clips}
    pool = [c for c in all_train if not c.verified and c.fname not in used]
    if config.selftrain.unlabelled_dir:
        pool += [replace(c, fname=f"unlabelled/{c.fname}") for c in read_folder(config.selftrain.unlabelled_dir)]
    return pool


def run_selftraining(config: RunConfig, out_dir: str | Path, progress: bool = True) -> SelfTrainResult:
    """Run (or resume) every round; write ``rounds.csv`` and ``rounds.md``."""
    with open_run(out_dir, config) as (folder, config, _):
        return _run_rounds(config, folder, progress)


def _run_rounds(config: RunConfig, folder: RunFolder, progress: bool) -> SelfTrainResult:
    seed_everything(config.seed)
    prepared = prepare_training(config, progress)
    label_map = prepared.label_map
    folder.write_label_map(label_map)
    data = prepared.data
    model = build_model(config.model, data.in_bins, data.n_classes)
    in_training = {e.fname for e in data.train} | {e.fname for e in data.val}
    train_clips = [c for c in prepared.clips if c.fname in in_training]
    pool = candidate_pool(config, train_clips, prepared.clips)
    added: dict[str, str] = {}
    rows = []
    if config.selftrain.init_weights:
        load_weights(config.selftrain.init_weights, model)
    with run_logger(folder, name="soundtag.selftrain") as logger:
        logger.info("%s; %d train clips, %d candidates", model_summary(config.model.name, model), len(data.train),
                    len(pool))
        for index in range(1, config.selftrain.rounds + 1):
            round_folder = RunFolder(folder.path / f"round-{index}")
            round_folder.path.mkdir(exist_ok=True)
            round_folder.write_config(config)
            round_folder.write_label_map(label_map)
            done = round_folder.path / "round.json"
            if done.is_file():
                added, row = read_round(done)
                load_weights(round_folder.best_path, model)
            else:
                added, row = _run_round(config, index, model, data, pool, added, label_map, prepared.extra_labels,
                                        round_folder.path, progress, logger)
                atomic_write_text(done, json.dumps({"row": row, "added": added}))
            rows.append(row)
    table = pd.DataFrame(rows, columns=ROUND_COLUMNS)
    atomic_write_text(folder.path / "rounds.csv", table.to_csv(index=False))
    atomic_write_text(folder.path / "rounds.md", table.to_markdown(index=False) + "\n")
    best = int(table.loc[table["val_map3"].idxmax(), "round"]) if table["val_map3"].notna().any() else len(table)
    return SelfTrainResult(table, folder.path / f"round-{best}")


def read_round(path: Path) -> tuple[dict[str, str], dict]:
    """The clips added so far and the table row recorded in a finished round's ``round.json``; a
    file of another structure is refused with a line naming it."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        added, row = info["added"], info["row"]
        if not isinstance(added, dict) or not isinstance(row, dict) or set(ROUND_COLUMNS) - set(row):
            raise TypeError("'added' must map fnames to labels and 'row' hold " + ", ".join(ROUND_COLUMNS))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SoundtagError(f"{path}: not a finished round's record ({exc}); "
                            "delete it to run the round again") from None
    return {str(k): str(v) for k, v in added.items()}, row


def _run_round(config: RunConfig, index: int, model, data: TrainingSet, pool: list[Clip], added: dict[str, str],
               label_map: LabelMap, extra: dict[str, str], round_dir: Path, progress: bool, logger
               ) -> tuple[dict[str, str], dict]:
    """Select confident clips (recorded in ``selection.json``), then train round ``index``."""
    selects = index > 1 or bool(config.selftrain.init_weights)
    lower = lower_bound(config.selftrain, index)
    before = len(added)
    selection = round_dir / "selection.json"
    if selection.is_file():
        added = dict(json.loads(selection.read_text()))
    elif selects:
        added = {**added, **_confident_additions(config, model, data, pool, added, label_map, lower, extra)}
        atomic_write_text(selection, json.dumps(added))
    round_data = _round_data(data, added, pool, label_map)
    trainer = Trainer(config, model, round_data, round_dir, progress, logger,
                      max_epochs=config.selftrain.epochs_per_round)
    if trainer.last_path.exists():
        trainer.resume()
    result = trainer.fit()
    trainer.load_best()
    best = result.history[result.best_epoch - 1]
    row = {"round": index, "lower": lower if selects else None, "epochs": result.epochs_run,
           "clips_used": len(round_data.train), "added": len(added) - before,
           "train_acc": round(best["train_acc"], 4), "val_acc": round(best["val_acc"], 4),
           "val_map3": round(best["val_map3"], 4)}
    logger.info("round %d: %d clips used (%d added), val MAP@3 %.4f", index, row["clips_used"], row["added"],
                row["val_map3"])
    return added, row


def _round_data(base: TrainingSet, added: dict[str, str], pool: list[Clip], label_map: LabelMap) -> TrainingSet:
    """The base training set plus the clips added so far, with their assigned labels."""
    extra = [replace(c, labels=(added[c.fname],)) for c in pool if c.fname in added]
    return replace(base, train=base.train + examples_for(extra, label_map))


def _confident_additions(config: RunConfig, model, data: TrainingSet, pool: list[Clip], added: dict[str, str],
                         label_map: LabelMap, lower: float, extra: dict[str, str]) -> dict[str, str]:
    """Candidates not yet added whose top probability is within the bounds, with their new labels.

    With ``selftrain.label: given`` a clip is added under its given label, and only when the model's
    top label agrees with it.
    """
    remaining = [c for c in pool if c.fname not in added]
    if not remaining:
        return {}
    report = cache_features([c.path for c in remaining], config.audio, config.features, data.cache,
                            num_workers=config.data.num_workers, progress=False)
    failed = {path for path, _ in report.failures}
    remaining = [c for c in remaining if str(c.path) not in failed]
    device = next(model.parameters()).device
    probs = predict_clips(model, (data.cache.load(c.path) for c in remaining), data.width, data.hop, device,
                          config.train.batch_size, config.train.pad_mode)
    chosen = select_confident(probs, lower, config.selftrain.upper)
    predicted = [label_map.label(int(i)) for i in probs.argmax(axis=1)] if len(probs) else []
    additions = {}
    for clip, keep, label in zip(remaining, chosen, predicted):
        if keep and (config.selftrain.label == "predicted" or extra.get(clip.fname, clip.label) == label):
            additions[clip.fname] = label
    return additions
