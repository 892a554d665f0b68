"""Recipe benchmark on fsd-mini: the seed's whole recipe against ``configs/recipe-best.yaml``'s second
recipe, trained in one ``soundtag experiment`` run on the same machine, and the two label cleaners.

    python -m benchmarks.recipes [--config configs/recipe-best.yaml] [--out DIR] [--cache-dir DIR]
                                 [--append benchmarks/RESULTS.md]

Target (issue 7): the second recipe beats the seed recipe's ensemble on test MAP@3 while training in no
more time. Training minutes add up the wall-clock seconds of every epoch of every model a recipe trains
(the seed's autoencoder included), as recorded in each run's metrics.csv.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import append_section, section_header
from benchmarks.noisy_labels import stage_table
from soundtag.config import load_config
from soundtag.experiment import run_experiment


def recipe_table(summary: dict) -> pd.DataFrame:
    """Both recipes' final test scores and training minutes."""
    rows = []
    for name, recipe in summary["recipes"].items():
        what = ("seed: autoencoder, spreading, all/verified/promoted, self-training, ensemble" if name == "seed" else
                f"{recipe['cleaner']} cleaner + {recipe['members']}-member ensemble")
        rows.append({"recipe": what, "models trained": len(recipe["runs"]), "test MAP@3": round(recipe["map3"], 4),
                     "test accuracy": round(recipe["accuracy"], 4), "training minutes": recipe["train_minutes"]})
    return pd.DataFrame(rows)


def cleaner_table(summary: dict, out: Path, scheme: str) -> pd.DataFrame:
    """Precision of the clips each cleaner promotes and recall of wrong labels caught (train_truth.csv)."""
    rows = [dict(row) for row in summary.get("cleaners", [])]
    reference = out / "reference-mfcc" / "spread-compare.csv"
    if reference.is_file():
        ref = pd.read_csv(reference).set_index("scheme").loc[scheme]
        rows.insert(1, {"cleaner": f"label spreading ({scheme}), MFCC-statistics embedding",
                        **{c: ref[c] for c in ("promoted", "promoted_pct", "promoted_precision", "wrong_caught_pct")}})
    frame = pd.DataFrame(rows)
    return frame.rename(columns={"promoted_pct": "promoted % of unverified", "promoted_precision": "precision",
                                 "wrong_caught_pct": "wrong labels caught % (recall)"})


def verdict(summary: dict) -> str:
    seed, recipe = summary["recipes"]["seed"], summary["recipes"]["recipe"]
    better = recipe["map3"] > seed["map3"]
    faster = recipe["train_minutes"] <= seed["train_minutes"]
    return (f"- {'met' if better and faster else 'MISSED'}: recipe-best beats the seed ensemble on test MAP@3 "
            f"({recipe['map3']:.4f} vs {seed['map3']:.4f}) in no more training time "
            f"({recipe['train_minutes']:.1f} vs {seed['train_minutes']:.1f} min)")


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(root / "configs" / "recipe-best.yaml"))
    parser.add_argument("--out", default="/tmp/soundtag-bench/recipes")
    parser.add_argument("--cache-dir", default="/tmp/soundtag-bench/cache")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--append", metavar="RESULTS_MD")
    args = parser.parse_args()
    config = load_config(args.config, [f"data.cache_dir={args.cache_dir}", *args.overrides])
    if not config.recipe.members:
        parser.error(f"{args.config} has no second recipe (recipe.members is 0)")
    start = time.perf_counter()
    summary = run_experiment(config, args.out, progress=False)
    minutes = (time.perf_counter() - start) / 60
    text = (section_header("Recipes: the seed's recipe against recipe-best on fsd-mini (benchmarks/recipes.py)")
            + f"- config: `{Path(args.config).name}` {' '.join(args.overrides)}; whole run {minutes:.1f} min "
              f"(both recipes, evaluation and report); report: `{Path(args.out) / 'report.html'}`\n"
            + f"- recipe-best's members: {', '.join(f'`{o}`' for o in config.recipe.overrides)}\n\n"
            + "### Recipes (test split)\n\n" + recipe_table(summary).to_markdown(index=False) + "\n\n"
            + "### Every model and ensemble (test split)\n\n" + stage_table(summary).to_markdown(index=False) + "\n\n"
            + "### Label cleaners (unverified train clips, scored against train_truth.csv)\n\n"
            + cleaner_table(summary, Path(args.out), config.spread.groups).to_markdown(index=False)
            + "\n\n### Target\n\n" + verdict(summary) + "\n")
    print(text)
    print(json.dumps(summary["recipes"]))
    if args.append:
        append_section(Path(args.append), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
