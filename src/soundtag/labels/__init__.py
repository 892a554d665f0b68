"""Labels stage: the autoencoder, label spreading in class groups, t-SNE maps and self-training."""

from soundtag.labels.autoencoder import ConvAutoencoder, Latents, train_autoencoder
from soundtag.labels.cleaning import Embeddings, compare_schemes, spread, spreading_embeddings
from soundtag.labels.embeddings import mfcc_statistics
from soundtag.labels.selftrain import lower_bound, run_selftraining, select_confident
from soundtag.labels.spreading import (
    SCHEMES,
    SpreadResult,
    load_group_schemes,
    prepare_embeddings,
    scheme_for,
    spread_labels,
    write_spread_outputs,
)
from soundtag.labels.reconstructions import Reconstructions, one_clip_per_class, reconstruct_examples
from soundtag.labels.tsne import tsne_map

__all__ = [
    "SCHEMES",
    "ConvAutoencoder",
    "Embeddings",
    "Latents",
    "Reconstructions",
    "SpreadResult",
    "compare_schemes",
    "load_group_schemes",
    "lower_bound",
    "mfcc_statistics",
    "one_clip_per_class",
    "prepare_embeddings",
    "reconstruct_examples",
    "run_selftraining",
    "scheme_for",
    "select_confident",
    "spread",
    "spread_labels",
    "spreading_embeddings",
    "train_autoencoder",
    "tsne_map",
    "write_spread_outputs",
]
