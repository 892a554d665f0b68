"""Confident-learning cleaners on fsd-mini: every cleanlab ``filter_by`` choice against the hand-written
rule soundtag used before (a clip is flagged when a class beats its label's mean out-of-fold
probability), all on the same out-of-fold probabilities (logistic regression over per-clip MFCC
statistics, PCA 20), scored with fsd-mini's ``train_truth.csv``.

    python -m benchmarks.cleaners [--seeds 2018 2019 2020] [--cache-dir DIR] [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import BENCH_DIR, publish, section_header
from soundtag.config import CleanConfig, choices, load_config
from soundtag.labels.cleaning import spreading_embeddings
from soundtag.labels.confident import label_issues, out_of_fold_probabilities
from soundtag.labels.spreading import group_table, prepare_embeddings

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "recipe-best.yaml"
COLUMNS = ["promoted % of unverified", "precision", "wrong labels caught % (recall)"]


def previous_rule(probs: np.ndarray, given: np.ndarray) -> np.ndarray:
    """soundtag's rule before cleanlab: flagged when some class's probability reaches that class's mean
    probability over the clips labelled with it, and the best such class is not the given one."""
    thresholds = np.array([probs[given == j, j].mean() if (given == j).any() else 1.0 for j in range(probs.shape[1])])
    above = probs >= thresholds
    cleaned = np.where(above.any(axis=1), np.where(above, probs, -1.0).argmax(axis=1), given)
    return cleaned != given


def measure(seeds: list[int], cache_dir: str) -> tuple[pd.DataFrame, str]:
    """One row per seed and cleaner, and a line describing the corpus."""
    config = load_config(CONFIG, [f"data.cache_dir={cache_dir}", "clean.method=confident",
                                  "clean.embedding=mfcc_stats"])
    embeddings = spreading_embeddings(config, None, progress=False)
    labels, verified, truth = embeddings.labels.astype(str), embeddings.verified.astype(bool), embeddings.truth
    classes = sorted(set(labels.tolist()))
    given = np.array([classes.index(label) for label in labels])
    rows = []
    for seed in seeds:
        probs = out_of_fold_probabilities(prepare_embeddings(embeddings.vectors, config.clean, seed), given, 5, seed)
        flags = {"previous hand-written rule": previous_rule(probs, given)}
        flags.update({f"cleanlab {name}": label_issues(probs, given, name) for name in choices(CleanConfig, "filter_by")})
        for name, flagged in flags.items():
            total = group_table(np.array(["all"] * len(labels)), labels, verified, ~verified & ~flagged, truth).iloc[-1]
            rows.append({"seed": seed, "cleaner": name, "promoted": int(total["promoted"]),
                         COLUMNS[0]: total["promoted_pct"], COLUMNS[1]: total["promoted_precision"],
                         COLUMNS[2]: total["wrong_caught_pct"]})
    corpus = (f"{len(labels)} train clips, {int((~verified).sum())} unverified, "
              f"{int((~verified & (labels != truth)).sum())} of them wrongly labelled")
    return pd.DataFrame(rows), corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2018, 2019, 2020])
    parser.add_argument("--cache-dir", default=str(BENCH_DIR / "cache"))
    parser.add_argument("--append", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(argv)
    frame, corpus = measure(args.seeds, args.cache_dir)
    mean = frame.groupby("cleaner", sort=False)[COLUMNS].mean().round(4).reset_index()
    text = (section_header("Label cleaners on fsd-mini: cleanlab filter_by choices against the previous rule "
                           "(benchmarks/cleaners.py)")
            + f"\n{corpus}; means over seeds {', '.join(map(str, args.seeds))} (out-of-fold folds and PCA):\n\n"
            + mean.to_markdown(index=False) + "\n")
    publish(text, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
