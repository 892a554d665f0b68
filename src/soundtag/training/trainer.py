"""The classifier trainer: Adam + cross-entropy, early stopping on validation MAP@3, checkpoints
every epoch, and exact resumption after a crash.

Every random choice of an epoch is seeded from (seed, epoch): the batch order, the crops and the
dropout masks. A run resumed from ``last.pt`` therefore ends exactly where an uninterrupted run does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from soundtag.config import RunConfig
from soundtag.data import Example, FeatureCache, FeatureDataset
from soundtag.fileio import atomic_write_text
from soundtag.training.checkpoint import load_checkpoint, save_checkpoint
from soundtag.training.metrics import accuracy, map_at_k
from soundtag.training.windows import predict_clips

METRICS_COLUMNS = ["epoch", "loss", "train_acc", "val_loss", "val_acc", "val_map3", "seconds"]


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class TrainResult:
    """Where training ended: the best validation MAP@3, its epoch, and every epoch's metrics."""

    best_score: float
    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)


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


class Trainer:
    """Fits ``model`` on a :class:`TrainingSet`, writing ``best.pt``, ``last.pt`` and ``metrics.csv``."""

    def __init__(
        self,
        config: RunConfig,
        model: nn.Module,
        data: TrainingSet,
        run_dir: str | Path,
        progress: bool = True,
        logger: logging.Logger | None = None,
        sample_weights: Callable[[list[Example]], torch.Tensor] | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.device = resolve_device(config.train.device)
        self.model = model.to(self.device)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay
        )
        self.progress = progress
        self.log = logger or logging.getLogger("soundtag.training")
        self.dataset = FeatureDataset(
            data.cache, data.train, data.width, random_crop=True, pad_mode=config.train.pad_mode, seed=config.seed
        )
        self.state: dict[str, Any] = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "bad_epochs": 0,
                                      "history": [], "stopped": False}

    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    def resume(self) -> None:
        """Continue from ``last.pt``: model, optimiser, counters and metric history."""
        checkpoint = load_checkpoint(self.last_path, self.device)
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.state = {key: checkpoint[key] for key in self.state}
        self._write_metrics()
        self.log.info("resumed after epoch %d (best val MAP@3 %.4f)", self.state["epoch"], self.state["best_score"])

    def fit(self) -> TrainResult:
        """Train until ``train.epochs`` or early stopping; safe to call again after a resume."""
        cfg = self.config.train
        while not self.state["stopped"] and self.state["epoch"] < cfg.epochs:
            epoch = self.state["epoch"] + 1
            row = self._run_epoch(epoch)
            self._update_state(epoch, row)
            self._save(epoch)
            self.log.info(
                "epoch %d: loss %.4f train_acc %.3f val_acc %.3f val_map3 %.4f (%.1f s)%s",
                epoch, row["loss"], row["train_acc"], row["val_acc"], row["val_map3"], row["seconds"],
                " *" if self.state["best_epoch"] == epoch else "",
            )
        return TrainResult(
            self.state["best_score"], self.state["best_epoch"], self.state["epoch"], list(self.state["history"])
        )

    def _epoch_loader(self, epoch: int) -> DataLoader:
        """Batches of epoch ``epoch`` in an order drawn from (seed, epoch)."""
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        order = torch.randperm(len(self.dataset), generator=generator).tolist()
        self.dataset.set_epoch(epoch)
        return DataLoader(
            self.dataset,
            batch_size=self.config.train.batch_size,
            sampler=order,
            num_workers=self.config.train.num_workers,
            pin_memory=self.device.type == "cuda",
        )

    def _run_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training set, then validation."""
        import time

        start = time.perf_counter()
        torch.manual_seed(self.config.seed * 1_000_003 + epoch)
        self.model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        batches = tqdm(self._epoch_loader(epoch), desc=f"epoch {epoch}", unit="batch",
                       disable=not self.progress, leave=False)
        for inputs, targets in batches:
            inputs = inputs.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                logits = self.model(inputs)
            loss = nn.functional.cross_entropy(logits.float(), targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_sum += loss.item() * len(targets)
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
            batches.set_postfix(loss=f"{loss_sum / seen:.3f}", refresh=False)
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

    def _update_state(self, epoch: int, row: dict[str, float]) -> None:
        """Record the epoch and decide on early stopping (without validation: never stops early)."""
        state = self.state
        state["epoch"] = epoch
        state["history"].append({k: float(v) for k, v in row.items()})
        score = row["val_map3"] if not math.isnan(row["val_map3"]) else -row["loss"]
        if score > state["best_score"]:
            state["best_score"], state["best_epoch"], state["bad_epochs"] = float(score), epoch, 0
        else:
            state["bad_epochs"] += 1
            state["stopped"] = state["bad_epochs"] >= self.config.train.patience

    def _save(self, epoch: int) -> None:
        """``best.pt`` when improved, then ``last.pt``, then ``metrics.csv``: a kill between them is
        repaired by resuming, which redoes the epoch identically.
        """
        weights = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        if self.state["best_epoch"] == epoch:
            save_checkpoint(self.best_path, {"model": weights, "epoch": epoch, "score": self.state["best_score"]})
        save_checkpoint(self.last_path, {"model": weights, "optimizer": self.optimizer.state_dict(), **self.state})
        self._write_metrics()

    def _write_metrics(self) -> None:
        frame = pd.DataFrame(self.state["history"], columns=METRICS_COLUMNS)
        frame["epoch"] = frame["epoch"].astype(int)
        atomic_write_text(self.run_dir / "metrics.csv", frame.to_csv(index=False, float_format="%.6f"))
