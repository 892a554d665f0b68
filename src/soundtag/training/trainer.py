"""The classifier trainer: Adam + cross-entropy, early stopping on validation MAP@3, checkpoints
every epoch, and exact resumption after a crash. A multi-label run (:attr:`TrainingSet.multi_label`)
learns with binary cross-entropy on multi-hot targets and stops early on validation lwlrap; after
training, :meth:`Trainer.choose_thresholds` picks its per-class tagging thresholds on the validation clips.

Every random choice of an epoch is seeded from (seed, epoch): the batch order, the crops and the
dropout masks. A run resumed from ``last.pt`` therefore ends exactly where an uninterrupted run does.

A batch whose loss is not finite stops training before its step (so no NaN reaches the weights), with
a line naming the cause: the clips whose features hold NaN or infinity, the clips whose own loss is
not finite, weights that an earlier step made non-finite, or the clip with the largest features.
Without validation clips the best epoch is the one with the lowest training loss, and is reported so.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from soundtag.config import RunConfig
from soundtag.data import Example, FeatureCache, FeatureDataset
from soundtag.errors import SoundtagError
from soundtag.features import build_transform
from soundtag.training import distributed as dd
from soundtag.training.augment import augment_batch
from soundtag.training.distill import distill_losses
from soundtag.training.losses import clip_losses, smooth, weighted_mean
from soundtag.training.loop import EpochLoop, TrainResult, non_finite_parameters
from soundtag.training.schedule import epoch_lr, set_lr, swa_first_epoch, update_batchnorm
from soundtag.training.metrics import (
    DEFAULT_THRESHOLD,
    accuracy,
    choose_thresholds,
    lwlrap,
    map_at_k,
    mean_average_precision,
)
from soundtag.training.windows import predict_clips

__all__ = ["METRICS_COLUMNS", "MULTI_LABEL_COLUMNS", "Trainer", "TrainResult", "TrainingSet", "resolve_device",
           "target_matrix"]

METRICS_COLUMNS = ["epoch", "loss", "train_acc", "val_loss", "val_acc", "val_map3", "seconds"]
MULTI_LABEL_COLUMNS = ["epoch", "loss", "val_loss", "val_lwlrap", "val_map", "seconds"]


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present (this process's GPU under torchrun), else the CPU."""
    if name == "auto":
        return torch.device(f"cuda:{dd.local_rank()}" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class TrainingSet:
    """The examples, cache and window geometry one training run needs."""

    train: list[Example]
    val: list[Example]
    cache: FeatureCache
    n_classes: int
    in_bins: int
    width: int
    multi_label: bool = False
    """Sigmoid outputs and binary cross-entropy on the examples' multi-hot ``targets`` (else softmax
    and cross-entropy on ``target``)."""
    variants: list[FeatureCache] = field(default_factory=list)
    """Caches of augmented variants of the train clips (``train.augment.chain``; none when it is off)."""
    teacher: np.ndarray | None = None
    """A teacher's probabilities of the train clips, one row per example (``train.teacher``; else None)."""

    @property
    def hop(self) -> int:
        """Evaluation windows overlap by half."""
        return max(1, self.width // 2)


class WeightedExamples(Dataset):
    """(features, target, weight, index) items: a :class:`FeatureDataset` with each example's loss
    weight and its index (so a bad batch can name its clips); the target is a class index, or a
    multi-hot vector for a multi-label set."""

    def __init__(self, dataset: FeatureDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor, float, int]:
        features, target = self.dataset[index]
        return features, target, self.dataset.examples[index].weight, index


def target_matrix(examples: list[Example], n_classes: int) -> np.ndarray:
    """The (examples, classes) 0/1 matrix of the examples' ``targets`` (a row of zeros: none of the classes).

    >>> target_matrix([Example("a", 1, targets=(0, 2)), Example("b", -1, targets=())], 3).tolist()
    [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    matrix = np.zeros((len(examples), n_classes), dtype=np.float32)
    for row, example in zip(matrix, examples):
        row[list(example.targets)] = 1.0
    return matrix


def name_examples(examples: list[Example], most: int = 3) -> str:
    """The files of ``examples``, the first ``most`` of them by path."""
    shown = ", ".join(e.path for e in examples[:most])
    return shown + (f" and {len(examples) - most} more" if len(examples) > most else "")


class Trainer(EpochLoop):
    """Fits a classifier on a :class:`TrainingSet` with Adam and cross-entropy, keeping the epoch
    with the best validation MAP@3 in ``best.pt`` (binary cross-entropy and lwlrap for a multi-label set).

    Under torchrun the model is wrapped in DistributedDataParallel and each process takes its
    share of every epoch from a ``DistributedSampler`` with ``train.batch_size / world`` clips a
    batch, so the global batch stays the configured one; every process validates (so all agree on
    early stopping) and rank 0 alone writes.
    """

    metrics_columns = METRICS_COLUMNS

    def __init__(
        self,
        config: RunConfig,
        model: nn.Module,
        data: TrainingSet,
        run_dir: str | Path,
        progress: bool = True,
        logger: logging.Logger | None = None,
        max_epochs: int | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.device = resolve_device(config.train.device)
        model = model.to(self.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
        super().__init__(model, optimizer, run_dir, max_epochs or config.train.epochs, config.train.patience,
                         config.seed, logger, progress)
        self.dataset = FeatureDataset(
            data.cache, data.train, data.width, random_crop=True, pad_mode=config.train.pad_mode, seed=config.seed,
            multi_label=data.multi_label, n_classes=data.n_classes,
            activity_floor_db=config.train.crop_activity_floor_db, random_share=config.train.random_crop_share,
            variants=data.variants, clean_share=config.train.augment.chain.clean_share,
        )
        self.metrics_columns = MULTI_LABEL_COLUMNS if data.multi_label else METRICS_COLUMNS
        self.score_column = "val_lwlrap" if data.multi_label else "val_map3"
        self.transform = build_transform(config.features, config.audio.sample_rate)  # in_db, spectral: how to augment
        self.writes = dd.is_main_process()
        self.progress = progress and self.writes
        self.forward_model: nn.Module = self.model
        self.swa_first = swa_first_epoch(config.train.swa_start, config.train.epochs)
        if data.teacher is not None and data.multi_label:
            raise SoundtagError("train.teacher: distillation needs a single-label run (softmax outputs)")
        self.teacher = None if data.teacher is None else torch.as_tensor(data.teacher, device=self.device)
        self.swa = AveragedModel(self.model) if self.swa_first is not None else None
        if dd.is_distributed():
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_model = DistributedDataParallel(self.model, device_ids=ids)

    def score(self, row: dict[str, float]) -> float:
        """Validation MAP@3, or lwlrap for a multi-label run (minus the training loss when there is no
        validation set)."""
        return row[self.score_column] if self.data.val else -row["loss"]

    @property
    def score_name(self) -> str:
        if not self.data.val:
            return "train loss (no validation clips)"
        return "val lwlrap" if self.data.multi_label else "val MAP@3"

    def score_value(self, row: dict[str, float]) -> float:
        """Validation MAP@3 (lwlrap), or the training loss itself when there is no validation set."""
        return row[self.score_column] if self.data.val else row["loss"]

    def describe(self, row: dict[str, float]) -> str:
        if self.data.multi_label:
            return (f"loss {row['loss']:.4f} val_loss {row['val_loss']:.4f} val_lwlrap {row['val_lwlrap']:.4f} "
                    f"val_map {row['val_map']:.4f}")
        return (f"loss {row['loss']:.4f} train_acc {row['train_acc']:.3f} val_acc {row['val_acc']:.3f} "
                f"val_map3 {row['val_map3']:.4f}")

    def _epoch_loader(self, epoch: int) -> DataLoader:
        """This process's batches of epoch ``epoch``, in an order drawn from (seed, epoch)."""
        world = dd.world_size()
        sampler = DistributedSampler(self.dataset, num_replicas=world, rank=dd.rank(), shuffle=True,
                                     seed=self.config.seed)
        sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)
        return DataLoader(
            WeightedExamples(self.dataset),
            batch_size=max(1, self.config.train.batch_size // world),
            sampler=sampler,
            num_workers=self.config.train.num_workers,
            pin_memory=self.device.type == "cuda",
        )

    def run_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training set, then validation."""
        start = time.perf_counter()
        set_lr(self.optimizer, epoch_lr(self.config.train, epoch, self.config.train.epochs))
        self.model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        batches = tqdm(self._epoch_loader(epoch), desc=f"epoch {epoch}", unit="batch",
                       disable=None if self.progress else True, leave=False)  # None: off unless stderr is a terminal
        cfg = self.config.train
        buffers = [b for b in self.model.buffers() if b.is_floating_point()]  # e.g. BatchNorm's running stats
        previous: tuple[torch.Tensor, torch.Tensor] | None = None
        for batch, (clean, targets, weights, indices) in enumerate(batches, 1):
            clean = clean.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            hard = targets.float() if self.data.multi_label else nn.functional.one_hot(targets, self.data.n_classes)
            soft = smooth(hard.float(), cfg.label_smoothing)
            if self.teacher is not None:  # mixed alongside the labels
                soft = torch.cat([soft, self.teacher[indices.to(self.device)]], dim=1)
            inputs, soft, weights = augment_batch(clean, soft, weights.to(self.device).float(), cfg.augment,
                                                  in_db=self.transform.in_db, spectral=self.transform.spectral)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                logits = self.forward_model(inputs)
            per_clip = self.clip_losses(logits.float(), soft)
            loss = weighted_mean(per_clip, weights)
            # one synchronisation, as loss.item() alone was: the loss, and whether this forward pass left
            # the running statistics finite (finite but absurd features overflow them, not the loss)
            value, *finite = torch.stack([loss.detach().float(), *(torch.isfinite(b).all().float() for b in buffers)]
                                         ).tolist()
            if not math.isfinite(value) or not all(finite):
                self.stop(f"epoch {epoch}, batch {batch}: "
                          + (f"the loss is {value}" if not math.isfinite(value) else
                             "the model's running statistics overflowed")
                          + f": {self.bad_batch_cause(clean, per_clip, indices, previous)}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            previous = (clean, indices)
            loss_sum += value * len(targets)
            if not self.data.multi_label:
                correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
            batches.set_postfix(loss=f"{loss_sum / seen:.3f}", refresh=False)
        loss_sum, correct, seen = dd.all_reduce_sum([loss_sum, correct, seen], self.device)
        if self.averaging(epoch):
            val = self.validate(self.update_average(epoch))
        else:
            val = self.validate()
        accuracy_column = {} if self.data.multi_label else {"train_acc": correct / max(seen, 1)}
        return {"epoch": epoch, "loss": loss_sum / max(seen, 1), **accuracy_column, **val,
                "seconds": time.perf_counter() - start}

    def clip_losses(self, logits: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        """Each clip's loss against its soft targets; with a teacher (whose probabilities follow the
        classes' columns in ``soft``), (1 - alpha) x that + alpha x the distillation loss."""
        cfg = self.config.train
        if self.teacher is None:
            return clip_losses(logits, soft, cfg.loss, cfg.gce_q, self.data.multi_label)
        soft, teacher = soft.split(self.data.n_classes, dim=1)
        hard = clip_losses(logits, soft, cfg.loss, cfg.gce_q, self.data.multi_label)
        return (1 - cfg.distill_alpha) * hard + cfg.distill_alpha * distill_losses(logits, teacher,
                                                                                     cfg.distill_temperature)

    def averaging(self, epoch: int) -> bool:
        """Whether ``epoch`` is in the SWA phase (its weights enter the average, which it validates)."""
        return self.swa_first is not None and epoch >= self.swa_first

    def update_average(self, epoch: int) -> nn.Module:
        """Add the weights after ``epoch`` to the SWA average, recompute the average's BatchNorm
        statistics on this epoch's training crops (unaugmented), and return the averaged model."""
        assert self.swa is not None
        self.swa.update_parameters(self.model)
        update_batchnorm(self.swa.module, (clean.to(self.device) for clean, *_ in self._epoch_loader(epoch)))
        return self.swa.module

    def best_model(self) -> nn.Module:
        """The SWA average from the first SWA epoch on (``best.pt`` keeps it when it validates best), else the model."""
        if self.swa is not None and self.averaging(self.state["epoch"]):
            return self.swa.module
        return self.model

    def extra_state(self) -> dict:
        """The SWA average (its weights, BatchNorm statistics and count), when SWA is on."""
        return {} if self.swa is None else {"swa": {k: v.detach().cpu() for k, v in self.swa.state_dict().items()}}

    def load_extra_state(self, path: Path, checkpoint: dict) -> None:
        """Restore the SWA average of a ``last.pt``; one written without SWA resumes with an empty average."""
        if self.swa is None or "swa" not in checkpoint:
            return
        try:
            self.swa.load_state_dict(checkpoint["swa"])
        except (RuntimeError, KeyError, TypeError) as exc:
            raise SoundtagError(f"{path}: its SWA average does not fit this model ({str(exc).splitlines()[0][:120]})"
                                ) from None

    def bad_batch_cause(self, inputs: torch.Tensor, per_clip: torch.Tensor, indices: torch.Tensor,
                        previous: tuple[torch.Tensor, torch.Tensor] | None = None) -> str:
        """Why a batch went non-finite, naming its clips where one or a few are the cause (or the clips
        of the ``previous`` batch, whose step made the weights non-finite)."""
        bad_weights = non_finite_parameters(self.model, parameters_only=True)
        if bad_weights:
            cause = f"the model's weights were already non-finite ({bad_weights}): the previous step diverged"
            if previous is None:
                return cause
            return f"{cause}; {self.largest_features(*previous)} (lower train.lr, or look at that clip)"
        flat = inputs.detach().float().flatten(1)
        bad_inputs = (~torch.isfinite(flat).all(dim=1)).cpu().tolist()
        if any(bad_inputs):
            return f"the features of {name_examples(self.examples_of(indices, bad_inputs))} hold NaN or infinity"
        bad_losses = (~torch.isfinite(per_clip.detach())).cpu().tolist()
        if any(bad_losses) and not all(bad_losses):
            return f"the loss of {name_examples(self.examples_of(indices, bad_losses))} is not finite"
        return self.largest_features(inputs, indices)

    def examples_of(self, indices: torch.Tensor, chosen: list[bool] | None = None) -> list[Example]:
        """The training examples at ``indices`` (those where ``chosen`` is true)."""
        examples = [self.dataset.examples[int(i)] for i in indices]
        return examples if chosen is None else [e for e, keep in zip(examples, chosen) if keep]

    def largest_features(self, inputs: torch.Tensor, indices: torch.Tensor) -> str:
        """Which clip of a batch has the largest feature magnitude, against the others'."""
        peaks = inputs.detach().float().flatten(1).abs().amax(dim=1).cpu()
        worst = int(peaks.argmax())
        examples = self.examples_of(indices)
        others = (f" (the other clips' at most {float(torch.cat([peaks[:worst], peaks[worst + 1:]]).max()):.3g})"
                  if len(peaks) > 1 else "")
        return (f"the largest feature magnitude of the batch is {float(peaks[worst]):.3g}, "
                f"in {examples[worst].path}{others}")

    def validate(self, model: nn.Module | None = None) -> dict[str, float]:
        """Validation loss, accuracy and MAP@3 over whole clips (windows averaged), or for a multi-label
        run the binary cross-entropy, lwlrap and macro mAP, of ``model`` (default: the trained one); a
        validation clip whose probabilities are not finite stops training, naming it."""
        if not self.data.val:
            return {column: float("nan") for column in self.metrics_columns if column.startswith("val_")}
        probs = self.validation_probabilities(model)
        if self.data.multi_label:
            truth = target_matrix(self.data.val, self.data.n_classes)
            p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
            bce = -(truth * np.log(p) + (1 - truth) * np.log(1 - p)).sum(axis=1)
            return {"val_loss": float(bce.mean()), "val_lwlrap": lwlrap(probs, truth),
                    "val_map": mean_average_precision(probs, truth)}
        targets = np.array([e.target for e in self.data.val])
        picked = np.clip(probs[np.arange(len(targets)), targets], 1e-12, 1.0)
        return {"val_loss": float(-np.log(picked).mean()), "val_acc": accuracy(probs, targets),
                "val_map3": map_at_k(probs, targets, 3)}

    def validation_probabilities(self, model: nn.Module | None = None) -> np.ndarray:
        """The probabilities of ``model`` (default: the trained one) on the validation clips (windows
        averaged); non-finite ones stop training, naming the clips."""
        probs = predict_clips(
            model or self.model, (self.data.cache.load(e.path) for e in self.data.val), self.data.width, self.data.hop,
            self.device, self.config.train.batch_size, self.config.train.pad_mode, self.data.multi_label,
        )
        bad = ~np.isfinite(probs).all(axis=1)
        if bad.any():
            bad_weights = non_finite_parameters(self.model)
            cause = (f"the model's weights are not finite ({bad_weights})" if bad_weights else
                     f"{name_examples([e for e, b in zip(self.data.val, bad) if b])} give non-finite "
                     "probabilities (NaN or infinity in their features, or values out of range)")
            self.stop(f"epoch {self.state['epoch'] + 1}, validation: {cause}")
        return probs

    def choose_thresholds(self) -> tuple[np.ndarray, str]:
        """Per-class tagging thresholds of a multi-label run, and a note saying how they were chosen:
        with the weights of ``best.pt``, the best-F1 threshold of each class on the validation clips
        (:func:`~soundtag.training.metrics.choose_thresholds`); 0.5 for a class no validation clip holds,
        and for every class when there are no validation clips."""
        if not self.data.val:
            return (np.full(self.data.n_classes, DEFAULT_THRESHOLD),
                    f"no validation clips: {DEFAULT_THRESHOLD:g} for every class")
        self.load_best()
        truth = target_matrix(self.data.val, self.data.n_classes)
        thresholds = choose_thresholds(self.validation_probabilities(), truth)
        held = int(truth.any(axis=0).sum())
        return thresholds, (f"best F1 per class on {len(self.data.val)} validation clips (epoch "
                            f"{self.state['best_epoch']}); {self.data.n_classes - held} class(es) without a "
                            f"validation clip at {DEFAULT_THRESHOLD:g}")
