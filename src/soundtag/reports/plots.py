"""Pictures of training and evaluation, written atomically as PNG."""

from __future__ import annotations

from pathlib import Path

from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from soundtag.fileio import atomic_write
from soundtag.runs import RunFolder


def subplots(*args: Any, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    """A figure of its own and its axes, as ``pyplot.subplots`` gives them, without pyplot: no GUI
    backend is chosen or switched (a notebook that imports soundtag keeps its own)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def save_figure(fig: Figure, path: str | Path) -> None:
    """Save ``fig`` as PNG at ``path`` atomically."""
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")


def plot_run_curves(run_dir: str | Path, title: str | None = None) -> Path:
    """A run's training curves, drawn from its ``metrics.csv`` into its ``curves.png``; ``title`` (the
    stage's name) heads each panel's title."""
    folder = RunFolder(run_dir)
    plot_training_curves(folder.metrics_path, folder.curves_path, title)
    return folder.curves_path


def plot_training_curves(metrics_csv: str | Path, path: str | Path, title: str | None = None) -> None:
    """Loss and, for classifiers, accuracy and MAP@3 (multi-label: lwlrap and mAP) per epoch from a run's
    ``metrics.csv``; with ``title``, the panels are titled ``"<title>: loss"`` and so on."""
    heading = (lambda text: f"{title}: {text}") if title else (lambda text: text)
    frame = pd.read_csv(metrics_csv)
    scores = [c for c in ("train_acc", "val_acc", "val_map3", "val_lwlrap", "val_map") if c in frame.columns]
    fig, axes = subplots(1, 2 if scores else 1, figsize=(10 if scores else 5, 3.6), squeeze=False)
    for column in ("loss", "val_loss"):
        if column in frame.columns:
            axes[0, 0].plot(frame["epoch"], frame[column], marker=".", label=column.replace("_", " "))
    axes[0, 0].set_xlabel("epoch")
    axes[0, 0].set_title(heading("loss"))
    axes[0, 0].legend()
    if scores:
        for column in scores:
            axes[0, 1].plot(frame["epoch"], frame[column], marker=".", label=column.replace("_", " "))
        axes[0, 1].set_xlabel("epoch")
        axes[0, 1].set_ylim(0, 1)
        axes[0, 1].set_title(heading("lwlrap and mAP" if "val_lwlrap" in scores else "accuracy and MAP@3"))
        axes[0, 1].legend()
    for ax in axes[0]:  # whole epochs; a single epoch (a short self-training round) still shows, as points
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(frame) == 1:
            ax.set_xlim(frame["epoch"].iloc[0] - 1, frame["epoch"].iloc[0] + 1)
    save_figure(fig, path)


def plot_confusion(matrix: np.ndarray, labels: list[str], path: str | Path, title: str = "confusion") -> None:
    """Row-normalised confusion matrix with counts in the cells."""
    size = max(4.0, 0.38 * len(labels) + 2)
    fig, ax = subplots(figsize=(size, size))
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


def plot_reconstructions(originals: list[np.ndarray], reconstructions: list[np.ndarray], titles: list[str],
                         path: str | Path) -> None:
    """Originals on the top row over their autoencoder reconstructions on the bottom row."""
    n = len(originals)
    fig, axes = subplots(2, n, figsize=(2.6 * n, 4.4), squeeze=False)
    for i, (original, recon, title) in enumerate(zip(originals, reconstructions, titles)):
        low, high = float(original.min()), float(original.max())
        for row, image in ((0, original), (1, recon)):
            axes[row, i].imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high)
            axes[row, i].set_xticks([])
            axes[row, i].set_yticks([])
        axes[0, i].set_title(title, fontsize=8)
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("reconstruction")
    save_figure(fig, path)


def plot_tsne_panels(coords: np.ndarray, labels: np.ndarray, path: str | Path, title: str,
                     per_panel: int = 11) -> None:
    """t-SNE points coloured by label, split into panels of at most ``per_panel`` classes each
    (points of other panels' classes drawn faintly grey for context).
    """
    classes = sorted(set(labels.tolist()))
    panels = [classes[i : i + per_panel] for i in range(0, len(classes), per_panel)] or [[]]
    fig, axes = subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    colours = matplotlib.colormaps["tab20"].colors
    for ax, panel in zip(axes[0], panels):
        ax.scatter(coords[:, 0], coords[:, 1], s=4, color="0.85")
        for k, label in enumerate(panel):
            mask = labels == label
            ax.scatter(coords[mask, 0], coords[mask, 1], s=9, color=colours[k % len(colours)], label=label)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=6, markerscale=1.5, loc="best")
    fig.suptitle(title)
    save_figure(fig, path)


def plot_filters(weights: np.ndarray, path: str | Path, title: str = "first-layer filters") -> None:
    """A grid of first-layer convolution kernels (out_channels, in_channels, ...), first input channel."""
    kernels = weights[:, 0]
    n = len(kernels)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, kernel in zip(axes.flat, kernels):
        if kernel.ndim == 1:
            ax.plot(kernel, linewidth=0.8)
        else:
            ax.imshow(kernel, cmap="coolwarm", origin="lower")
    fig.suptitle(title)
    save_figure(fig, path)


def plot_activations(features: np.ndarray, maps: np.ndarray, path: str | Path, title: str, most: int = 15) -> None:
    """The input spectrogram and up to ``most`` first-layer activation maps of it."""
    maps = maps[:most]
    cols = 4
    rows = int(np.ceil((len(maps) + 1) / cols))
    fig, axes = subplots(rows, cols, figsize=(3.0 * cols, 2.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(features, origin="lower", aspect="auto", cmap="magma")
    axes.flat[0].set_title("input", fontsize=8)
    for k, (ax, image) in enumerate(zip(list(axes.flat)[1:], maps)):
        ax.imshow(image, origin="lower", aspect="auto", cmap="viridis")
        ax.set_title(f"channel {k}", fontsize=8)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_rounds(table: pd.DataFrame, path: str | Path) -> None:
    """Self-training: clips used and validation scores per round."""
    fig, left = subplots(figsize=(6, 3.4))
    left.bar(table["round"], table["clips_used"], color="0.8", label="clips used")
    left.set_xlabel("round")
    left.set_ylabel("clips used")
    right = left.twinx()
    for column in ("train_acc", "val_acc", "val_map3"):
        right.plot(table["round"], table[column], marker="o", label=column.replace("_", " "))
    right.set_ylim(0, 1)
    right.legend(loc="lower right", fontsize=8)
    left.set_title("self-training rounds")
    save_figure(fig, path)
