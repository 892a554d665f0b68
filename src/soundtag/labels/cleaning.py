"""The label-cleaning stage on a corpus: the embeddings of its train clips, label spreading within the
groups of a scheme (or confident learning), every scheme compared, and the files each writes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from soundtag.config import RunConfig, save_config
from soundtag.data import read_corpus
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.labels.autoencoder import LATENTS_FILE, Latents
from soundtag.labels.confident import clean_confident
from soundtag.labels.embeddings import mfcc_statistics
from soundtag.labels.spreading import SCHEMES, SpreadResult, scheme_for, spread_labels, write_spread_outputs
from soundtag.runs import CONFIG_FILE


@dataclass
class Embeddings:
    """Clip embeddings used for spreading, with what the corpus says of each clip."""

    fnames: np.ndarray
    labels: np.ndarray
    verified: np.ndarray
    vectors: np.ndarray
    truth: np.ndarray | None


def spreading_embeddings(config: RunConfig, autoencoder_dir: str | Path | None, progress: bool = True) -> Embeddings:
    """Autoencoder latents (``clean.embedding: latent``) or per-clip MFCC statistics, with each clip's one
    label; a multi-label corpus is refused in one line."""
    corpus = read_corpus(config.data.corpus)
    if corpus.multi_label:
        if config.clean.method == "spreading":
            raise SoundtagError(f"{config.data.corpus}: label spreading is single-label; use clean.method: confident "
                                "(cleanlab) for a multi-label corpus")
        raise SoundtagError(f"{config.data.corpus}: this cleaning stage reads one label per clip; confident learning "
                            "of a multi-label corpus is soundtag.labels.confident.multilabel_label_issues")
    if config.clean.embedding == "latent":
        if autoencoder_dir is None or not (Path(autoencoder_dir) / LATENTS_FILE).is_file():
            raise SoundtagError(f"{autoencoder_dir}: no {LATENTS_FILE}; run `soundtag autoencode` first")
        latents = Latents.load(Path(autoencoder_dir) / LATENTS_FILE)
        fnames, labels, verified, vectors = latents.fnames, latents.labels, latents.verified, latents.vectors
    else:
        clips, vectors = mfcc_statistics(corpus.train, config.audio, config.data.cache_dir,
                                         config.data.num_workers, progress)
        fnames = np.array([c.fname for c in clips])
        labels = np.array([str(c.label) for c in clips])
        verified = np.array([bool(c.verified) for c in clips])
    truth = np.array([corpus.truth.get(f, "") for f in fnames]) if corpus.truth else None
    return Embeddings(fnames, labels, verified, vectors, truth)


def spread(config: RunConfig, embeddings: Embeddings, scheme: str, out_dir: str | Path) -> SpreadResult:
    """Clean labels (spreading within the groups of ``scheme``, or confident learning over all clips,
    per ``clean.method``); write promoted.csv, the group tables and the config used in ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.clean.method == "confident":
        result = clean_confident(embeddings.vectors, embeddings.labels, embeddings.verified, config.clean,
                                 embeddings.truth, config.seed)
    else:
        groups = scheme_for(sorted(set(embeddings.labels.tolist())), scheme, config.clean.groups_file)
        result = spread_labels(embeddings.vectors, embeddings.labels, embeddings.verified, groups, config.clean,
                               embeddings.truth, config.seed)
    write_spread_outputs(out_dir, embeddings.fnames, embeddings.labels, result)
    save_config(replace(config, clean=replace(config.clean, groups=scheme)), out_dir / CONFIG_FILE)
    return result


def compare_schemes(config: RunConfig, embeddings: Embeddings, out_dir: str | Path) -> pd.DataFrame:
    """Every shipped scheme's total row side by side (each scheme's own folder has its tables)."""
    rows = []
    for scheme in SCHEMES:
        table = spread(config, embeddings, scheme, Path(out_dir) / f"spread-{scheme}").table
        rows.append({"scheme": scheme, "groups": len(table) - 1, **table.iloc[-1].drop(["group", "classes"]).to_dict()})
    frame = pd.DataFrame(rows)
    atomic_write_text(Path(out_dir) / "spread-compare.md", frame.to_markdown(index=False) + "\n")
    atomic_write_text(Path(out_dir) / "spread-compare.csv", frame.to_csv(index=False))
    return frame
