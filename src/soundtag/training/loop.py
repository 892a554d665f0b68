"""The epoch loop shared by every trainer: seeded epochs, early stopping, atomic checkpoints
(``best.pt``, ``last.pt``), ``metrics.csv``, and exact resumption from ``last.pt``.

An epoch whose loss, score or weights are not finite stops training with a :class:`NonFiniteError`
before anything of it is saved: ``best.pt`` and ``last.pt`` keep the last finite epoch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import torch
from torch import nn

from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.runs import RunFolder
from soundtag.training.checkpoint import load_weights, save_checkpoint

# What a ``last.pt`` holds besides the weights, and the types its counters must have.
RESUME_FIELDS = {"optimizer": dict, "epoch": int, "best_score": (int, float), "best_epoch": int, "bad_epochs": int,
                 "history": list, "stopped": bool}


class NonFiniteError(SoundtagError):
    """Training met a loss, score or weight that is NaN or infinite; nothing of that epoch was saved."""


@dataclass
class TrainResult:
    """Where training ended: the best score, its epoch, and every epoch's metrics.

    ``best_score`` is the loop's internal measure (higher is better: e.g. minus the loss);
    ``score_name`` and ``score_value`` say what it is as a user reads it, e.g. ``val MAP@3`` 0.61,
    or ``train loss (no validation clips)`` 0.52.
    """

    best_score: float
    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    score_name: str = "score"
    score_value: float = math.nan
    max_epochs: int = 0
    patience: int = 0
    stopped_early: bool = False
    """Training ended before ``max_epochs``: ``patience`` epochs in a row brought no better score."""
    already_finished: bool = False
    """The run had ended before this call (a finished run resumed without more epochs): nothing was trained."""

    def describe(self) -> str:
        """The result in one line, e.g. ``best val MAP@3 0.6123 at epoch 5 of 8``, saying why training
        stopped when it stopped early."""
        best = f"best {self.score_name} {self.score_value:.4f} at epoch {self.best_epoch}"
        if self.stopped_early:
            return f"{best}; {self.stop_reason()}"
        return f"{best} of {self.epochs_run}"

    def stop_reason(self) -> str:
        """Why training stopped before ``max_epochs``, e.g. ``stopped early after epoch 8 of 30: no better
        val MAP@3 in 3 epochs (patience 3)``."""
        epochs = f"{self.patience} epoch{'' if self.patience == 1 else 's'}"
        return (f"stopped early after epoch {self.epochs_run} of {self.max_epochs}: no better {self.score_name} "
                f"in {epochs} (patience {self.patience})")

    def summary(self) -> dict[str, Any]:
        """Where training ended, as plain values (the history is the run's ``metrics.csv``)."""
        return {"score_name": self.score_name, "score": self.score_value, "best_epoch": self.best_epoch,
                "epochs_run": self.epochs_run, "max_epochs": self.max_epochs, "patience": self.patience,
                "stopped_early": self.stopped_early, "already_finished": self.already_finished}


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

    @property
    def score_name(self) -> str:
        """What :meth:`score` measures, as the user reads it (see :meth:`score_value`)."""
        return "score"

    def score_value(self, row: dict[str, float]) -> float:
        """The figure reported under :attr:`score_name` for an epoch's row (default: the score)."""
        return self.score(row)

    def describe(self, row: dict[str, float]) -> str:
        """One log line for an epoch."""
        return " ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "seconds"))

    def resume(self) -> None:
        """Continue from ``last.pt``: model, optimiser, counters and metric history. Early stopping is
        judged again against this loop's patience, so a run given more patience trains on. A ``last.pt``
        of another structure or model is refused with a line naming it and what is wrong.
        """
        path = self.last_path
        checkpoint = load_weights(path, self.model, next(self.model.parameters()).device)
        for key, kind in RESUME_FIELDS.items():
            if key not in checkpoint:
                raise SoundtagError(f"{path}: not a soundtag last.pt: it has no {key!r} entry; cannot resume")
            if not isinstance(checkpoint[key], kind) or (kind is int and isinstance(checkpoint[key], bool)):
                raise SoundtagError(f"{path}: not a soundtag last.pt: {key!r} is a {type(checkpoint[key]).__name__}")
        try:
            self.optimizer.load_state_dict(checkpoint["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise SoundtagError(f"{path}: its optimiser state does not fit this model "
                                f"({_first_line(exc)}); it was written by another model") from None
        self.load_extra_state(path, checkpoint)
        self.state = {key: checkpoint[key] for key in self.state}
        self.state["stopped"] = self.state["bad_epochs"] >= self.patience
        if self.writes:
            self._write_metrics()
        finished = self.state["stopped"] or self.state["epoch"] >= self.max_epochs
        self.log.info("%s after epoch %d (best score %.4f)", "already finished" if finished else "resumed",
                      self.state["epoch"], self.state["best_score"])

    def fit(self) -> TrainResult:
        """Train until the epoch budget or early stopping; safe to call again after :meth:`resume`."""
        start = self.state["epoch"]
        while not self.state["stopped"] and self.state["epoch"] < self.max_epochs:
            epoch = self.state["epoch"] + 1
            torch.manual_seed(self.seed * 1_000_003 + epoch)
            row = self.run_epoch(epoch)
            score = self.check_finite(epoch, row)
            self._update_state(epoch, row, score)
            self._save(epoch)
            marker = " *" if self.state["best_epoch"] == epoch else ""
            self.log.info("epoch %d: %s (%.1f s)%s", epoch, self.describe(row), row.get("seconds", 0.0), marker)
        history = list(self.state["history"])
        best = self.state["best_epoch"]
        value = self.score_value(history[best - 1]) if 0 < best <= len(history) else math.nan
        epoch = self.state["epoch"]
        result = TrainResult(self.state["best_score"], best, epoch, history, self.score_name, value, self.max_epochs,
                             self.patience, stopped_early=self.state["stopped"] and epoch < self.max_epochs,
                             already_finished=start > 0 and epoch == start)
        if result.stopped_early and not result.already_finished:
            self.log.info("%s", result.stop_reason())
        return result

    def check_finite(self, epoch: int, row: dict[str, float]) -> float:
        """The epoch's score, after checking that its loss, its score and the model's weights are all
        finite; otherwise a :class:`NonFiniteError` (logged too) stops training before the epoch is saved.
        """
        problem = None
        if not math.isfinite(row.get("loss", 0.0)):
            problem = f"the training loss is {row['loss']}"
        elif (bad := non_finite_parameters(self.model)):
            problem = f"the model's weights are no longer finite ({bad})"
        score = self.score(row)
        if problem is None and not math.isfinite(score):
            problem = f"its score ({self.score_name}) is {score}"
        if problem is not None:
            self.stop(f"epoch {epoch}: {problem}")
        return score

    def stop(self, problem: str) -> NoReturn:
        """Log and raise the :class:`NonFiniteError` that ends training, saying what stays on disk."""
        best = self.state["best_epoch"]
        kept = (f"best.pt holds epoch {best}, last.pt epoch {self.state['epoch']}" if best
                else "no checkpoint was written")
        message = f"training stopped: {problem}; nothing of this epoch was saved ({kept})"
        self.log.error(message)
        raise NonFiniteError(f"{self.run_dir}: {message}")

    def best_model(self) -> nn.Module:
        """The module whose weights ``best.pt`` keeps when an epoch scores best (default: the trained model)."""
        return self.model

    def extra_state(self) -> dict[str, Any]:
        """What ``last.pt`` carries besides the weights, optimiser and counters (e.g. an SWA average)."""
        return {}

    def load_extra_state(self, path: Path, checkpoint: dict[str, Any]) -> None:
        """Restore :meth:`extra_state` from the ``last.pt`` read at ``path`` (default: nothing to restore)."""

    def load_best(self) -> None:
        """Put the weights of ``best.pt`` into the model."""
        load_weights(self.best_path, self.model, next(self.model.parameters()).device)

    def _update_state(self, epoch: int, row: dict[str, float], score: float | None = None) -> None:
        state = self.state
        state["epoch"] = epoch
        state["history"].append({k: float(v) for k, v in row.items()})
        score = self.score(row) if score is None else score
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
            best = {k: v.detach().cpu() for k, v in self.best_model().state_dict().items()}
            save_checkpoint(self.best_path, {"model": best, "epoch": epoch, "score": self.state["best_score"],
                                             "score_name": self.score_name})
        save_checkpoint(self.last_path, {"model": weights, "optimizer": self.optimizer.state_dict(), **self.state,
                                         **self.extra_state()})
        self._write_metrics()

    def _write_metrics(self) -> None:
        import pandas as pd  # here: tagging imports this module's package and needs no pandas

        frame = pd.DataFrame(self.state["history"], columns=self.metrics_columns)
        frame["epoch"] = frame["epoch"].astype(int)
        atomic_write_text(self.folder.metrics_path, frame.to_csv(index=False, float_format="%.6f"))


def non_finite_parameters(model: nn.Module, most: int = 3, parameters_only: bool = False) -> str:
    """Names of the parameters (and buffers, e.g. running statistics) holding NaN or infinity, the
    first ``most`` of them, or ''."""
    named = [*model.named_parameters(), *([] if parameters_only else model.named_buffers())]
    bad = [name for name, tensor in named if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    return ", ".join(bad[:most]) + (f" and {len(bad) - most} more" if len(bad) > most else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]
