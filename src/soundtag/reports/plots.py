"""Pictures of training and evaluation, written atomically as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from soundtag.fileio import atomic_write  # noqa: E402


def save_figure(fig: plt.Figure, path: str | Path) -> None:
    """Save ``fig`` as PNG at ``path`` atomically and close it."""
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_training_curves(metrics_csv: str | Path, path: str | Path) -> None:
    """Loss and accuracy / MAP@3 per epoch from a run's ``metrics.csv``."""
    frame = pd.read_csv(metrics_csv)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(frame["epoch"], frame["loss"], label="train loss")
    left.plot(frame["epoch"], frame["val_loss"], label="val loss")
    left.set_xlabel("epoch")
    left.set_title("loss")
    left.legend()
    for column in ("train_acc", "val_acc", "val_map3"):
        right.plot(frame["epoch"], frame[column], label=column.replace("_", " "))
    right.set_xlabel("epoch")
    right.set_ylim(0, 1)
    right.set_title("accuracy and MAP@3")
    right.legend()
    save_figure(fig, path)


def plot_confusion(matrix: np.ndarray, labels: list[str], path: str | Path, title: str = "confusion") -> None:
    """Row-normalised confusion matrix with counts in the cells."""
    size = max(4.0, 0.38 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=90, fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i, j in zip(*np.nonzero(matrix)):
        ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=6,
                color="white" if norm[i, j] > 0.5 else "black")
    save_figure(fig, path)
