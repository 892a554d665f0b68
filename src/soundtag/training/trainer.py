"""The classifier trainer: Adam + cross-entropy, early stopping on validation MAP@3, checkpoints
every epoch, and exact resumption after a crash.

Every random choice of an epoch is seeded from (seed, epoch): the batch order, the crops and the
dropout masks. A run resumed from ``last.pt`` therefore ends exactly where an uninterrupted run does.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from soundtag.config import RunConfig
from soundtag.data import Example, FeatureCache, FeatureDataset
from soundtag.features import build_transform
from soundtag.training import distributed as dd
from soundtag.training.augment import augment_batch
from soundtag.training.losses import smooth, weighted_loss
from soundtag.training.loop import EpochLoop, TrainResult
from soundtag.training.metrics import accuracy, map_at_k
from soundtag.training.windows import predict_clips

__all__ = ["METRICS_COLUMNS", "Trainer", "TrainResult", "TrainingSet", "resolve_device"]

METRICS_COLUMNS = ["epoch", "loss", "train_acc", "val_loss", "val_acc", "val_map3", "seconds"]


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

    @property
    def hop(self) -> int:
        """Evaluation windows overlap by half."""
        return max(1, self.width // 2)


class WeightedExamples(Dataset):
    """(features, target, weight) items: a :class:`FeatureDataset` with each example's loss weight."""

    def __init__(self, dataset: FeatureDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, float]:
        features, target = self.dataset[index]
        return features, target, self.dataset.examples[index].weight


class Trainer(EpochLoop):
    """Fits a classifier on a :class:`TrainingSet` with Adam and cross-entropy, keeping the epoch
    with the best validation MAP@3 in ``best.pt``.

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
            data.cache, data.train, data.width, random_crop=True, pad_mode=config.train.pad_mode, seed=config.seed
        )
        self.transform = build_transform(config.features, config.audio.sample_rate)  # in_db, spectral: how to augment
        self.writes = dd.is_main_process()
        self.progress = progress and self.writes
        self.forward_model: nn.Module = self.model
        if dd.is_distributed():
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_model = DistributedDataParallel(self.model, device_ids=ids)

    def score(self, row: dict[str, float]) -> float:
        """Validation MAP@3 (minus the training loss when there is no validation set)."""
        return row["val_map3"] if not math.isnan(row["val_map3"]) else -row["loss"]

    def describe(self, row: dict[str, float]) -> str:
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
        self.model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        batches = tqdm(self._epoch_loader(epoch), desc=f"epoch {epoch}", unit="batch",
                       disable=not self.progress, leave=False)
        cfg = self.config.train
        for inputs, targets, weights in batches:
            inputs = inputs.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            soft = smooth(nn.functional.one_hot(targets, self.data.n_classes).float(), cfg.label_smoothing)
            inputs, soft, weights = augment_batch(inputs, soft, weights.to(self.device).float(), cfg.augment,
                                                  in_db=self.transform.in_db, spectral=self.transform.spectral)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                logits = self.forward_model(inputs)
            loss = weighted_loss(logits.float(), soft, weights, cfg.loss, cfg.gce_q)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_sum += loss.item() * len(targets)
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
            batches.set_postfix(loss=f"{loss_sum / seen:.3f}", refresh=False)
        loss_sum, correct, seen = dd.all_reduce_sum([loss_sum, correct, seen], self.device)
        val = self.validate()
        return {"epoch": epoch, "loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1), **val,
                "seconds": time.perf_counter() - start}

    def validate(self) -> dict[str, float]:
        """Validation loss, accuracy and MAP@3 over whole clips (windows averaged)."""
        if not self.data.val:
            return {"val_loss": float("nan"), "val_acc": float("nan"), "val_map3": float("nan")}
        probs = predict_clips(
            self.model, (self.data.cache.load(e.path) for e in self.data.val), self.data.width, self.data.hop,
            self.device, self.config.train.batch_size, self.config.train.pad_mode,
        )
        targets = np.array([e.target for e in self.data.val])
        picked = np.clip(probs[np.arange(len(targets)), targets], 1e-12, 1.0)
        return {"val_loss": float(-np.log(picked).mean()), "val_acc": accuracy(probs, targets),
                "val_map3": map_at_k(probs, targets, 3)}
