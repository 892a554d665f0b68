"""The epoch loop shared by every trainer: seeded epochs, early stopping, atomic checkpoints
(``best.pt``, ``last.pt``), ``metrics.csv``, and exact resumption from ``last.pt``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from soundtag.fileio import atomic_write_text
from soundtag.runs import RunFolder
from soundtag.training.checkpoint import load_checkpoint, save_checkpoint


@dataclass
class TrainResult:
    """Where training ended: the best score, its epoch, and every epoch's metrics."""

    best_score: float
    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)


class EpochLoop:
    """Runs epochs until ``max_epochs`` or ``patience`` epochs without a better :meth:`score`.

    Subclasses implement :meth:`run_epoch`; every epoch starts from a torch seed drawn from
    (seed, epoch), so a run resumed from ``last.pt`` ends exactly where an uninterrupted run does.
    """

    metrics_columns: list[str] = ["epoch", "loss", "seconds"]

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, run_dir: str | Path, max_epochs: int,
                 patience: int, seed: int, logger: logging.Logger | None = None, progress: bool = True) -> None:
        self.model = model
        self.optimizer = optimizer
        self.folder = RunFolder(run_dir)
        self.run_dir = self.folder.path
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = seed
        self.log = logger or logging.getLogger("soundtag.training")
        self.progress = progress
        self.writes = True  # a process of a distributed run other than rank 0 sets this False
        self.state: dict[str, Any] = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "bad_epochs": 0,
                                      "history": [], "stopped": False}

    @property
    def last_path(self) -> Path:
        return self.folder.last_path

    @property
    def best_path(self) -> Path:
        return self.folder.best_path

    def run_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch and return its metrics row (must include ``epoch``)."""
        raise NotImplementedError

    def score(self, row: dict[str, float]) -> float:
        """Higher is better; early stopping and ``best.pt`` follow it. Default: minus the loss."""
        return -row["loss"]

    def describe(self, row: dict[str, float]) -> str:
        """One log line for an epoch."""
        return " ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds"))

    def resume(self) -> None:
        """Continue from ``last.pt``: model, optimiser, counters and metric history. Early stopping is
        judged again against this loop's patience, so a run given more patience trains on.
        """
        checkpoint = load_checkpoint(self.last_path, next(self.model.parameters()).device)
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.state = {key: checkpoint[key] for key in self.state}
        self.state["stopped"] = self.state["bad_epochs"] >= self.patience
        if self.writes:
            self._write_metrics()
        self.log.info("resumed after epoch %d (best score %.4f)", self.state["epoch"], self.state["best_score"])

    def fit(self) -> TrainResult:
        """Train until the epoch budget or early stopping; safe to call again after :meth:`resume`."""
        while not self.state["stopped"] and self.state["epoch"] < self.max_epochs:
            epoch = self.state["epoch"] + 1
            torch.manual_seed(self.seed * 1_000_003 + epoch)
            row = self.run_epoch(epoch)
            self._update_state(epoch, row)
            self._save(epoch)
            marker = " *" if self.state["best_epoch"] == epoch else ""
            self.log.info("epoch %d: %s (%.1f s)%s", epoch, self.describe(row), row.get("seconds", 0.0), marker)
        return TrainResult(self.state["best_score"], self.state["best_epoch"], self.state["epoch"],
                           list(self.state["history"]))

    def load_best(self) -> None:
        """Put the weights of ``best.pt`` into the model."""
        device = next(self.model.parameters()).device
        self.model.load_state_dict(load_checkpoint(self.best_path, device)["model"])

    def _update_state(self, epoch: int, row: dict[str, float]) -> None:
        state = self.state
        state["epoch"] = epoch
        state["history"].append({k: float(v) for k, v in row.items()})
        score = self.score(row)
        if score > state["best_score"]:
            state["best_score"], state["best_epoch"], state["bad_epochs"] = float(score), epoch, 0
        else:
            state["bad_epochs"] += 1
            state["stopped"] = state["bad_epochs"] >= self.patience

    def _save(self, epoch: int) -> None:
        """``best.pt`` when improved, then ``last.pt``, then ``metrics.csv``: a kill between them is
        repaired by resuming, which redoes the epoch identically.
        """
        if not self.writes:
            return
        weights = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        if self.state["best_epoch"] == epoch:
            save_checkpoint(self.best_path, {"model": weights, "epoch": epoch, "score": self.state["best_score"]})
        save_checkpoint(self.last_path, {"model": weights, "optimizer": self.optimizer.state_dict(), **self.state})
        self._write_metrics()

    def _write_metrics(self) -> None:
        frame = pd.DataFrame(self.state["history"], columns=self.metrics_columns)
        frame["epoch"] = frame["epoch"].astype(int)
        atomic_write_text(self.folder.metrics_path, frame.to_csv(index=False, float_format="%.6f"))
