"""``report.html`` of ``soundtag experiment``: the 2018 recipe's tables side by side and every picture,
embedded; with a second recipe, both recipes' results at the top.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from soundtag.runs import RunFolder
from soundtag.reports.html import Section, write_report
from soundtag.reports.summary import ExperimentSummary


def write_experiment_report(out_dir: Path, summary: ExperimentSummary, compare: pd.DataFrame, rounds: pd.DataFrame,
                            run_dirs: dict[str, Path], reference: pd.DataFrame | None = None) -> None:
    """Write ``out_dir/report.html`` from the summary, the schemes compared, the self-training rounds
    and the pictures the stages left in ``out_dir`` and in the ``run_dirs``."""
    stages = pd.DataFrame([{"stage": name, "test MAP@3": s.map3, "test accuracy": s.accuracy,
                            "val MAP@3": s.val_map3, "seconds": summary.seconds.get(name)}
                           for name, s in summary.stages.items()])
    advancement = stages[["stage", "test MAP@3"]].copy()
    advancement["gain vs all labels"] = advancement["test MAP@3"] - float(stages["test MAP@3"].iloc[0])
    scheme = summary.spread_scheme
    group_table = pd.read_csv(out_dir / f"spread-{scheme}" / "groups.csv")
    sections = recipe_sections(out_dir, summary) + [
        Section("Method comparison and performance advancement",
                [f"Test split of the corpus; label spreading over {summary.spread_embedding} embeddings, "
                 f"scheme '{scheme}'. Seconds are wall-clock time of each stage."],
                [("stages", stages), ("advancement", advancement)]),
        Section("Label spreading", ["Promoted: unverified clips whose spread label equals their given label."]
                + ([latent_verdict(compare, reference)] if reference is not None else []),
                [(f"groups of scheme '{scheme}'", group_table), ("all schemes (totals)", compare)]
                + ([("MFCC-statistics reference (totals)", reference)] if reference is not None else []),
                [("t-SNE before spreading", out_dir / f"spread-{scheme}" / "tsne-before.png"),
                 ("t-SNE after spreading", out_dir / f"spread-{scheme}" / "tsne-after.png")]),
        Section("Autoencoder", [], [], [("originals (top) and reconstructions (bottom)",
                                         out_dir / "autoencoder" / "reconstructions.png"),
                                        ("loss", out_dir / "autoencoder" / "loss.png")]),
        Section("Self-training", [], [("per round", rounds)],
                [("rounds", out_dir / "runs" / "selftrain" / "rounds.png")]),
        Section("Training curves", [], [], [(name, RunFolder(path).curves_path) for name, path in run_dirs.items()]),
        Section("Confusion matrices (test)", [], [],
                [(name, RunFolder(path).evaluation_dir("test") / "confusion.png") for name, path in run_dirs.items()]
                + [("ensemble", out_dir / "ensemble" / "confusion.png")]),
        Section("First-layer filters", [], [], [("filters", out_dir / "filters" / "filters.png"),
                                                ("activations", out_dir / "filters" / "activations.png")]),
    ]
    write_report(out_dir / "report.html", "soundtag experiment", sections)


def recipe_sections(out_dir: Path, summary: ExperimentSummary) -> list[Section]:
    """With a second recipe: both recipes' final test scores and training minutes, and the two label
    cleaners' figures, side by side at the top of the report (nothing without one)."""
    if "recipe" not in summary.recipes:
        return []
    dcase2018, recipe = summary.recipes["dcase2018"], summary.recipes["recipe"]
    table = pd.DataFrame([
        {"recipe": "DCASE 2018: spreading, all/verified/promoted, self-training, ensemble", "test MAP@3": dcase2018.map3,
         "test accuracy": dcase2018.accuracy, "training minutes": dcase2018.train_minutes},
        {"recipe": f"recipe: {recipe.cleaner} cleaner, {recipe.members}-member ensemble",
         "test MAP@3": recipe.map3, "test accuracy": recipe.accuracy, "training minutes": recipe.train_minutes},
    ])
    notes = [f"The second recipe's members change the config by: {', '.join(recipe.overrides or []) or 'nothing'}. "
             "Training minutes add up the epochs' wall-clock seconds of every model each recipe trains "
             "(the DCASE 2018 recipe's autoencoder included)."]
    tables = [("recipes", table)]
    if summary.cleaners is not None:
        cleaners = pd.DataFrame(summary.cleaners).rename(columns={
            "promoted_pct": "promoted % of unverified", "promoted_precision": "precision",
            "wrong_caught_pct": "wrong labels caught % (recall)"})
        tables.append(("label cleaners (unverified clips; precision and recall need train_truth.csv)", cleaners))
    return [Section("Recipes side by side", notes, tables,
                    [("recipe ensemble confusion (test)", out_dir / "recipe" / "ensemble" / "confusion.png")])]


def latent_verdict(compare: pd.DataFrame, reference: pd.DataFrame) -> str:
    """One plain sentence: do the autoencoder latents match the MFCC-statistics reference?"""
    if "promoted_precision" not in compare:
        return "No train_truth.csv: promoted-label precision cannot be measured on this corpus."
    ours, ref = compare.set_index("scheme"), reference.set_index("scheme")
    better = [s for s in ours.index if ours.loc[s, "promoted_precision"] >= ref.loc[s, "promoted_precision"]
              and ours.loc[s, "promoted_pct"] >= ref.loc[s, "promoted_pct"]]
    if len(better) == len(ours.index):
        return "Autoencoder latents match or beat the MFCC-statistics reference on every scheme."
    return ("Autoencoder latents do NOT match the MFCC-statistics reference on "
            f"{', '.join(s for s in ours.index if s not in better)} (precision or share promoted is lower); "
            "set clean.embedding: mfcc_stats to spread over per-clip MFCC statistics instead.")
