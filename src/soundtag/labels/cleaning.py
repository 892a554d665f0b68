"""The label-cleaning stage on a corpus: the embeddings of its train clips, label spreading within the
groups of a scheme (or confident learning, the one cleaner of a multi-label corpus's label sets), every
scheme compared, and the files each writes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from soundtag.config import RunConfig, save_config
from soundtag.data import Corpus, read_corpus
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.labels.autoencoder import LATENTS_FILE, Latents
from soundtag.labels.confident import clean_confident, clean_confident_multilabel, label_set_array
from soundtag.labels.embeddings import mfcc_statistics
from soundtag.labels.spreading import SCHEMES, SpreadResult, scheme_for, spread_labels, write_spread_outputs
from soundtag.runs import CONFIG_FILE


@dataclass
class Embeddings:
    """Clip embeddings used for cleaning, with what the corpus says of each clip."""

    fnames: np.ndarray
    labels: np.ndarray
    """Each clip's one label; with ``multi_label``, each clip's label set (a tuple, empty: none)."""
    verified: np.ndarray
    vectors: np.ndarray
    truth: np.ndarray | None
    multi_label: bool = False


def spreading_embeddings(config: RunConfig, autoencoder_dir: str | Path | None, progress: bool = True) -> Embeddings:
    """Autoencoder latents (``clean.embedding: latent``) or per-clip MFCC statistics, with each clip's
    label (its label set for a multi-label corpus, which label spreading refuses in one line)."""
    corpus = read_corpus(config.data.corpus)
    if corpus.multi_label and config.clean.method == "spreading":
        raise _spreading_refused(config)
    if config.clean.embedding == "latent":
        path = Path(autoencoder_dir) / LATENTS_FILE if autoencoder_dir is not None else None
        if path is None or not path.is_file():
            raise SoundtagError(f"{autoencoder_dir}: no {LATENTS_FILE}; run `soundtag autoencode` first")
        latents = Latents.load(path)
        fnames, labels, verified, vectors = latents.fnames, latents.labels, latents.verified, latents.vectors
        if corpus.multi_label:
            labels = label_set_array(_label_sets_of(fnames, corpus, path))
    else:
        clips, vectors = mfcc_statistics(corpus.train, config.audio, config.data.cache_dir,
                                         config.data.num_workers, progress)
        fnames = np.array([c.fname for c in clips])
        labels = label_set_array([c.labels for c in clips]) if corpus.multi_label else \
            np.array([str(c.label) for c in clips])
        verified = np.array([bool(c.verified) for c in clips])
    # true labels are one a clip: they score a single-label corpus only
    truth = np.array([corpus.truth.get(f, "") for f in fnames]) if corpus.truth and not corpus.multi_label else None
    return Embeddings(fnames, labels, verified, vectors, truth, corpus.multi_label)


def spread(config: RunConfig, embeddings: Embeddings, scheme: str, out_dir: str | Path) -> SpreadResult:
    """Clean labels (spreading within the groups of ``scheme``, or confident learning over all clips,
    per ``clean.method``); write promoted.csv, the group tables and the config used in ``out_dir``.
    Label sets (a multi-label corpus) are cleaned by confident learning only.
    """
    out_dir = Path(out_dir)
    if embeddings.multi_label and config.clean.method != "confident":
        raise _spreading_refused(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    if embeddings.multi_label:
        result = clean_confident_multilabel(embeddings.vectors, embeddings.labels, embeddings.verified,
                                            config.clean, config.seed)
    elif config.clean.method == "confident":
        result = clean_confident(embeddings.vectors, embeddings.labels, embeddings.verified, config.clean,
                                 embeddings.truth, config.seed)
    else:
        groups = scheme_for(sorted(set(embeddings.labels.tolist())), scheme, config.clean.groups_file)
        result = spread_labels(embeddings.vectors, embeddings.labels, embeddings.verified, groups, config.clean,
                               embeddings.truth, config.seed)
    write_spread_outputs(out_dir, embeddings.fnames, embeddings.labels, result, embeddings.multi_label)
    save_config(replace(config, clean=replace(config.clean, groups=scheme)), out_dir / CONFIG_FILE)
    return result


def _spreading_refused(config: RunConfig) -> SoundtagError:
    return SoundtagError(f"{config.data.corpus}: label spreading is single-label; use clean.method: confident "
                         "(cleanlab) for a multi-label corpus")


def _label_sets_of(fnames: np.ndarray, corpus: Corpus, latents_path: Path) -> list[tuple[str, ...]]:
    """The corpus's label set of each latent's clip (a latents file keeps one label string a clip)."""
    sets = {clip.fname: clip.labels for clip in corpus.train}
    missing = [str(f) for f in fnames if str(f) not in sets]
    if missing:
        raise SoundtagError(f"{latents_path}: clip {missing[0]!r} is not a train clip of {corpus.root}; "
                            "run `soundtag autoencode` again for this corpus")
    return [sets[str(f)] for f in fnames]


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
