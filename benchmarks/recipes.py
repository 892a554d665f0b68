"""Recipe benchmark on fsd-mini: the DCASE 2018 recipe against ``configs/recipe-best.yaml``'s second
recipe, trained in one ``soundtag experiment`` run on the same machine, and the two label cleaners.

    python -m benchmarks.recipes [--config configs/recipe-best.yaml] [--out-dir DIR] [--cache-dir DIR]
                                 [--append benchmarks/RESULTS.md]
    python -m benchmarks.recipes --ablation [--append benchmarks/RESULTS.md]

``--ablation`` instead trains single models of ``configs/fsd-mini.yaml`` (the recipe's member) with
one ingredient taken out or swapped at a time, to show what helps.

Target (issue 7): the second recipe beats the DCASE 2018 recipe's ensemble on test MAP@3 while training in no
more time. Training minutes add up the wall-clock seconds of every epoch of every model a recipe trains
(the DCASE 2018 recipe's autoencoder included), as recorded in each run's metrics.csv.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import BENCH_DIR, append_section, experiment_parser, section_header
from soundtag.config import load_config
from soundtag.experiment import run_experiment
from soundtag.reports import ExperimentSummary, training_minutes


def recipe_table(summary: ExperimentSummary) -> pd.DataFrame:
    """Both recipes' final test scores and training minutes."""
    rows = []
    for name, recipe in summary.recipes.items():
        what = ("DCASE 2018: autoencoder, spreading, all/verified/promoted, self-training, ensemble" if name == "dcase2018" else
                f"{recipe.cleaner} cleaner + {recipe.members}-member ensemble")
        rows.append({"recipe": what, "models trained": len(recipe.runs), "test MAP@3": round(recipe.map3, 4),
                     "test accuracy": round(recipe.accuracy, 4), "training minutes": recipe.train_minutes})
    return pd.DataFrame(rows)


def stage_table(summary: ExperimentSummary) -> pd.DataFrame:
    """Test MAP@3 and accuracy of every model and ensemble."""
    return pd.DataFrame([{"stage": name, "test MAP@3": round(s.map3, 4), "test accuracy": round(s.accuracy, 4)}
                         for name, s in summary.stages.items()])


def minutes_table(summary: ExperimentSummary) -> pd.DataFrame:
    """Training minutes of every model each recipe trains."""
    return pd.DataFrame([{"recipe": name, "model": Path(run).relative_to(Path(run).parents[1]).as_posix()
                          if "selftrain" in run else Path(run).name, "training minutes": round(training_minutes(Path(run)), 2)}
                         for name, recipe in summary.recipes.items() for run in recipe.runs])


def cleaner_table(summary: ExperimentSummary, out: Path, scheme: str) -> pd.DataFrame:
    """Precision of the clips each cleaner promotes and recall of wrong labels caught (train_truth.csv)."""
    rows = [dict(row) for row in summary.cleaners or []]
    reference = out / "reference-mfcc" / "spread-compare.csv"
    if reference.is_file():
        ref = pd.read_csv(reference).set_index("scheme").loc[scheme]
        rows.insert(1, {"cleaner": f"label spreading ({scheme}), MFCC-statistics embedding",
                        **{c: ref[c] for c in ("promoted", "promoted_pct", "promoted_precision", "wrong_caught_pct")}})
    frame = pd.DataFrame(rows)
    return frame.rename(columns={"promoted_pct": "promoted % of unverified", "promoted_precision": "precision",
                                 "wrong_caught_pct": "wrong labels caught % (recall)"})


def verdict(summary: ExperimentSummary) -> str:
    dcase2018, recipe = summary.recipes["dcase2018"], summary.recipes["recipe"]
    better = recipe.map3 > dcase2018.map3
    faster = recipe.train_minutes <= dcase2018.train_minutes
    return (f"- {'met' if better and faster else 'MISSED'}: recipe-best beats the DCASE 2018 ensemble on test MAP@3 "
            f"({recipe.map3:.4f} vs {dcase2018.map3:.4f}) in no more training time "
            f"({recipe.train_minutes:.1f} vs {dcase2018.train_minutes:.1f} min)")


ABLATION: dict[str, list[str]] = {
    "fsd-mini.yaml as it is": [],
    "no augmentation": ["train.augment.mixup_alpha=0", "train.augment.time_masks=0", "train.augment.freq_masks=0",
                        "train.augment.gain_db=0"],
    "no mixup": ["train.augment.mixup_alpha=0"],
    "unverified clips at full weight": ["train.unverified_weight=1.0"],
    "generalised cross-entropy (q 0.7)": ["train.loss=gce"],
}


def ablation(config: Path, corpus: Path, cache_dir: str, work: Path) -> pd.DataFrame:
    """Single models of ``config`` with one change each, trained and scored through the CLI."""
    from benchmarks.classifiers import run_json, soundtag_cmd, timed

    rows = []
    for name, sets in ABLATION.items():
        run_dir = work / name.replace(" ", "-").replace("(", "").replace(")", "")
        set_args = [a for s in sets for a in ("--set", s)]
        timed(soundtag_cmd("train", str(config), "--corpus", str(corpus), "--cache-dir", cache_dir,
                           "--out-dir", str(run_dir), "--quiet", *set_args))
        test = run_json(soundtag_cmd("evaluate", str(run_dir), "--cache-dir", cache_dir, "--json", "--quiet"))
        metrics = pd.read_csv(run_dir / "metrics.csv")
        rows.append({"variant": name, "overrides": " ".join(sets) or "-", "epochs": len(metrics),
                     "training minutes": round(metrics["seconds"].sum() / 60, 2),
                     "test MAP@3": round(test["map3"], 4), "test accuracy": round(test["accuracy"], 4)})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    parser = experiment_parser(__doc__.splitlines()[0], root / "configs" / "recipe-best.yaml", str(BENCH_DIR / "recipes"))
    parser.add_argument("--ablation", action="store_true", help="single-model ablation of configs/fsd-mini.yaml")
    args = parser.parse_args()
    if args.ablation:
        single = root / "configs" / "fsd-mini.yaml"
        table = ablation(single, Path(load_config(single).data.corpus), args.cache_dir, Path(args.out) / "ablation")
        text = (section_header("Recipes: single-model ablation of fsd-mini.yaml (benchmarks/recipes.py --ablation)")
                + "- each row: `soundtag train configs/fsd-mini.yaml` with the overrides, then `soundtag evaluate` "
                  "on fsd-mini's test.csv; training minutes = the epochs' wall-clock seconds\n\n"
                + table.to_markdown(index=False) + "\n")
        print(text)
        if args.append:
            append_section(Path(args.append), text)
        return 0
    config = load_config(args.config, [f"data.cache_dir={args.cache_dir}", *args.overrides])
    if not config.recipe.members:
        parser.error(f"{args.config} has no second recipe (recipe.members is 0)")
    start = time.perf_counter()
    summary = run_experiment(config, args.out, progress=False)
    minutes = (time.perf_counter() - start) / 60
    text = (section_header("Recipes: the DCASE 2018 recipe against recipe-best on fsd-mini (benchmarks/recipes.py)")
            + f"- config: `{Path(args.config).name}` {' '.join(args.overrides)}; this invocation {minutes:.1f} min "
              f"(stages finished by an earlier invocation in the same folder are reused, not retrained); "
              f"report: `{Path(args.out) / 'report.html'}`\n"
            + f"- recipe-best's members: {', '.join(f'`{o}`' for o in config.recipe.overrides)}\n\n"
            + "### Recipes (test split)\n\n" + recipe_table(summary).to_markdown(index=False) + "\n\n"
            + "### Every model and ensemble (test split)\n\n" + stage_table(summary).to_markdown(index=False) + "\n\n"
            + "### Training minutes per model\n\n" + minutes_table(summary).to_markdown(index=False) + "\n\n"
            + "### Label cleaners (unverified train clips, scored against train_truth.csv)\n\n"
            + cleaner_table(summary, Path(args.out), config.clean.groups).to_markdown(index=False)
            + "\n\n### Target\n\n" + verdict(summary) + "\n")
    print(text)
    print(json.dumps(summary.to_dict()["recipes"], default=float))
    if args.append:
        append_section(Path(args.append), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
