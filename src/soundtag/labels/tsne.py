"""Two-dimensional t-SNE maps of clip embeddings (PCA first, as in the 2018 recipe)."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.preprocessing import StandardScaler


def tsne_map(vectors: np.ndarray, pca_components: int = 50, seed: int = 0) -> np.ndarray:
    """(n, 2) t-SNE coordinates of standardised, PCA-reduced ``vectors``."""
    x = StandardScaler().fit_transform(np.asarray(vectors, dtype=np.float64))
    if pca_components < min(x.shape):
        x = PCA(n_components=pca_components, random_state=seed).fit_transform(x)
    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
