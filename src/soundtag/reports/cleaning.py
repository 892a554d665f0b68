"""Pictures of the label-cleaning stage: the autoencoder's loss and reconstructions, and t-SNE maps of
the verified clips before and after spreading."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from soundtag.labels import Embeddings, reconstruct_examples, tsne_map
from soundtag.labels.autoencoder import AutoencoderRun
from soundtag.reports.plots import plot_reconstructions, plot_training_curves, plot_tsne_panels
from soundtag.runs import RunFolder


def plot_autoencoder(run: AutoencoderRun, run_dir: str | Path) -> list[Path]:
    """``loss.png`` (per epoch) and ``reconstructions.png`` (one clip per class) in ``run_dir``."""
    folder = RunFolder(run_dir)
    written = [folder.path / "loss.png", folder.path / "reconstructions.png"]
    plot_training_curves(folder.metrics_path, written[0], "autoencoder")
    shown = reconstruct_examples(run, most=6)
    plot_reconstructions(shown.originals, shown.reconstructions, shown.labels, written[1])
    return written


def plot_spreading(embeddings: Embeddings, promoted: np.ndarray, scheme: str, out_dir: str | Path, seed: int = 0
                   ) -> list[Path]:
    """``tsne-before.png`` (verified clips) and ``tsne-after.png`` (verified + ``promoted``) in ``out_dir``."""
    out_dir = Path(out_dir)
    written = [out_dir / "tsne-before.png", out_dir / "tsne-after.png"]
    coords = tsne_map(embeddings.vectors, seed=seed)
    before, after = embeddings.verified, embeddings.verified | promoted
    colours = _colour_labels(embeddings)
    plot_tsne_panels(coords[before], colours[before], written[0],
                     f"verified clips before spreading ({before.sum()})")
    plot_tsne_panels(coords[after], colours[after], written[1],
                     f"verified + promoted after spreading ({after.sum()}, scheme {scheme})")
    return written


def _colour_labels(embeddings: Embeddings) -> np.ndarray:
    """What colours each clip: its label; of a multi-label corpus, its one label, "several" or "none"."""
    if not embeddings.multi_label:
        return embeddings.labels
    return np.array([clip[0] if len(clip) == 1 else "several" if clip else "none" for clip in embeddings.labels])
