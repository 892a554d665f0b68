"""Label spreading inside class groups: verified clips are the labelled points, and an unverified
clip whose spread label equals its given label is promoted to verified (the 2018 recipe's cleaner).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading

from soundtag.config import CleanConfig, read_yaml
from soundtag.errors import ConfigError
from soundtag.fileio import atomic_write_text

SCHEMES = ("all", "music2", "groups3", "groups5")


def load_group_schemes(path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """Schemes from a YAML file of ``scheme: {group: [class, ...]}`` as ``scheme -> {class: group}``
    (the shipped FSDKaggle2018 schemes when ``path`` is None).
    """
    if path is None:
        path = resources.files("soundtag.labels").joinpath("groups/fsdkaggle2018.yaml")
    data = read_yaml(Path(str(path)))
    schemes: dict[str, dict[str, str]] = {}
    for scheme, groups in data.items():
        if not isinstance(groups, dict):
            raise ConfigError(f"{path}: scheme {scheme!r} must map group names to class lists")
        mapping: dict[str, str] = {}
        for group, classes in groups.items():
            for label in classes or []:
                if label in mapping:
                    raise ConfigError(f"{path}: class {label!r} is in two groups of scheme {scheme!r}")
                mapping[str(label)] = str(group)
        schemes[str(scheme)] = mapping
    return schemes


def scheme_for(labels: list[str], scheme: str, path: str | Path | None = None) -> dict[str, str]:
    """The class -> group map of ``scheme`` restricted to ``labels``, which it must all cover."""
    schemes = load_group_schemes(path)
    if scheme not in schemes:
        raise ConfigError(f"unknown group scheme {scheme!r} (known: {', '.join(schemes)})")
    mapping = schemes[scheme]
    missing = sorted(set(labels) - set(mapping))
    if missing:
        raise ConfigError(f"group scheme {scheme!r} has no group for class {missing[0]!r}; "
                          "write a groups file (clean.groups_file) that covers every class")
    return {label: mapping[label] for label in labels}


def prepare_embeddings(vectors: np.ndarray, config: CleanConfig, seed: int = 0) -> np.ndarray:
    """Standardise, optionally PCA-reduce, then scale to unit mean squared norm, so that the rbf
    ``gamma`` means the same thing whatever the latent size.
    """
    x = StandardScaler().fit_transform(np.asarray(vectors, dtype=np.float64))
    if config.pca_components and config.pca_components < min(x.shape):
        x = PCA(n_components=config.pca_components, random_state=seed).fit_transform(x)
    rms = np.sqrt(np.mean(np.sum(x**2, axis=1)))
    return x / rms if rms > 0 else x


@dataclass
class SpreadResult:
    """Spread labels of every clip, the promoted mask, and the per-group table."""

    spread_labels: np.ndarray
    promoted: np.ndarray
    table: pd.DataFrame


def spread_in_group(x: np.ndarray, labels: np.ndarray, verified: np.ndarray, config: CleanConfig) -> np.ndarray:
    """LabelSpreading over one group: returns the spread label of every clip (given labels where
    nothing can be spread).
    """
    classes = sorted(set(labels[verified]))
    if not classes or verified.all():
        return labels.copy()
    index = {label: i for i, label in enumerate(classes)}
    targets = np.array([index[label] if known else -1 for label, known in zip(labels, verified)])
    model = LabelSpreading(kernel=config.kernel, gamma=config.gamma, n_neighbors=config.n_neighbors,
                           alpha=config.alpha, max_iter=config.max_iter, tol=config.tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        model.fit(x, targets)
    distributions = np.nan_to_num(model.label_distributions_, nan=0.0)
    spread = np.array(classes)[distributions.argmax(axis=1)]
    undecided = distributions.max(axis=1) <= 0
    return np.where(undecided, "", spread)


def spread_labels(vectors: np.ndarray, labels: np.ndarray, verified: np.ndarray, groups: dict[str, str],
                  config: CleanConfig, truth: np.ndarray | None = None, seed: int = 0) -> SpreadResult:
    """Spread verified labels to unverified clips within each group and promote agreements.

    ``truth`` (true labels, for scoring only) adds precision and wrong-label columns to the table.
    """
    labels = np.asarray(labels).astype(str)
    verified = np.asarray(verified, dtype=bool)
    x = prepare_embeddings(vectors, config, seed)
    group_of = np.array([groups[label] for label in labels])
    spread = labels.copy()
    for group in sorted(set(group_of)):
        members = group_of == group
        spread[members] = spread_in_group(x[members], labels[members], verified[members], config)
    promoted = ~verified & (spread == labels)
    table = group_table(group_of, labels, verified, promoted, truth)
    return SpreadResult(spread, promoted, table)


def group_table(group_of: np.ndarray, labels: np.ndarray, verified: np.ndarray, promoted: np.ndarray,
                truth: np.ndarray | None) -> pd.DataFrame:
    """The 2018 recipe's per-group table (plus a total row): clips, verified, promoted, verified after;
    with ``truth``, promoted-label precision and the share of wrong labels caught (not promoted).

    ``labels`` are one label a clip, or label sets (tuples) of a multi-label corpus, whose table has
    counts only (``truth`` None: a true label a clip cannot score a label set).
    """
    rows = []
    for group in sorted(set(group_of)) + ["total"]:
        m = np.ones_like(verified) if group == "total" else group_of == group
        n, n_ver, n_pro = int(m.sum()), int((verified & m).sum()), int((promoted & m).sum())
        n_unv = n - n_ver
        row = {"group": group, "classes": len(_classes_named(labels[m])), "clips": n, "verified": n_ver,
               "verified_pct": _pct(n_ver, n), "promoted": n_pro, "promoted_pct": _pct(n_pro, n_unv),
               "verified_after": n_ver + n_pro, "verified_after_pct": _pct(n_ver + n_pro, n)}
        if truth is not None:
            wrong = m & ~verified & (labels != truth)
            correct_promoted = int((promoted & m & (labels == truth)).sum())
            row["promoted_precision"] = round(correct_promoted / n_pro, 4) if n_pro else float("nan")
            row["wrong_labels"] = int(wrong.sum())
            row["wrong_caught_pct"] = _pct(int((wrong & ~promoted).sum()), int(wrong.sum()))
        rows.append(row)
    return pd.DataFrame(rows)


def _classes_named(labels: np.ndarray) -> set[str]:
    """The classes among one label a clip, or among label sets (tuples)."""
    return {label for item in labels.tolist() for label in (item if isinstance(item, tuple) else (item,))}


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else float("nan")


def write_spread_outputs(out_dir: str | Path, fnames: np.ndarray, labels: np.ndarray, result: SpreadResult,
                         multi_label: bool = False) -> None:
    """``promoted.csv`` and the group table as CSV and markdown, atomically. ``promoted.csv`` is
    ``fname,label``, or with ``multi_label`` (``labels`` are label sets) ``fname,labels`` with each set
    comma-separated in one quoted field, empty for none, as in a manifest.
    """
    out_dir = Path(out_dir)
    fnames, labels = np.asarray(fnames)[result.promoted], np.asarray(labels)[result.promoted]
    if multi_label:
        promoted = pd.DataFrame({"fname": fnames, "labels": [",".join(clip) for clip in labels]}, dtype=str)
    else:
        promoted = pd.DataFrame({"fname": fnames, "label": labels})
    atomic_write_text(out_dir / "promoted.csv", promoted.to_csv(index=False))
    atomic_write_text(out_dir / "groups.csv", result.table.to_csv(index=False))
    atomic_write_text(out_dir / "groups.md", result.table.to_markdown(index=False) + "\n")
