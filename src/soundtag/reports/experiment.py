"""``report.html`` of ``soundtag experiment``: a header (corpus, config, date, test clips and the
standard error of MAP@3 at that size), every stage's scores in one table (collapsed models in red),
the label spreading, autoencoder and self-training tables, then one section per stage with its
training curves and test confusion matrix; with a second recipe, both recipes' results too. Columns
are named in words and defined under each table (:mod:`soundtag.reports.columns`).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd

from soundtag.data import read_corpus
from soundtag.data.reviewed import count_review
from soundtag.runs import RunFolder
from soundtag.reports.html import Section, Table, write_report
from soundtag.reports.summary import ExperimentSummary, StageScores

ENSEMBLES = ("ensemble", "recipe_ensemble")
REPEATED = ["clips", "verified", "verified_pct", "verified_after", "wrong_labels"]  # the same for every scheme


def write_experiment_report(out_dir: Path, summary: ExperimentSummary, compare: pd.DataFrame, rounds: pd.DataFrame,
                            run_dirs: dict[str, Path], reference: pd.DataFrame | None = None,
                            corpus: str | None = None, origin: str | None = None, reviewed: str | None = None
                            ) -> None:
    """Write ``out_dir/report.html`` from the summary, the schemes compared, the self-training rounds
    and the pictures the stages left in ``out_dir`` and in the ``run_dirs``; ``corpus``, ``origin``
    (the config file and ``--set`` overrides) and ``reviewed`` (``data.reviewed``) head the page."""
    scheme = summary.spread_scheme
    group_table = pd.read_csv(out_dir / f"spread-{scheme}" / "groups.csv")
    spreading_notes = [spreading_note(compare, scheme, summary.spread_embedding)]
    if reference is not None:
        spreading_notes.append(latent_verdict(compare, reference, scheme))
    sections = [stage_section(summary)] + recipe_sections(out_dir, summary) + [
        Section("Label spreading", spreading_notes,
                [Table(f"groups of scheme '{scheme}' (the one the classifiers trained on)",
                       group_table.drop(columns=["verified", "verified_after"], errors="ignore")),
                 Table("all schemes (totals)", compare.drop(columns=REPEATED, errors="ignore"))]
                + ([Table("MFCC-statistics reference (totals)", reference.drop(columns=REPEATED, errors="ignore"))]
                   if reference is not None else []),
                half=[("t-SNE before spreading", out_dir / f"spread-{scheme}" / "tsne-before.png"),
                      ("t-SNE after spreading", out_dir / f"spread-{scheme}" / "tsne-after.png")]),
        Section("Autoencoder", [], [], [("autoencoder: originals (top) and reconstructions (bottom)",
                                         out_dir / "autoencoder" / "reconstructions.png")],
                half=[("autoencoder: loss", out_dir / "autoencoder" / "loss.png")]),
        Section("Self-training", [], [Table("per round", rounds)],
                half=[("self-training rounds", out_dir / "runs" / "selftrain" / "rounds.png")]),
    ] + [run_section(name, summary.stages.get(name), path) for name, path in run_dirs.items()] + [
        ensemble_section(name, summary.stages[name], out_dir / ("recipe" if name == "recipe_ensemble" else "")
                         / "ensemble") for name in ENSEMBLES if name in summary.stages
    ] + [
        Section("First-layer filters", [], [], [("promoted: first-layer filters", out_dir / "filters" / "filters.png"),
                                                ("promoted: activations", out_dir / "filters" / "activations.png")]),
    ]
    facts = report_facts(summary, corpus, origin, reviewed=reviewed)
    write_report(out_dir / "report.html", "soundtag experiment", sections, facts)


def report_facts(summary: ExperimentSummary, corpus: str | None, origin: str | None,
                 date: datetime.datetime | None = None, reviewed: str | None = None) -> list[tuple[str, str]]:
    """The page's header: corpus, config, date, the test clips with the standard error of MAP@3, and with
    ``reviewed`` (a ``reviewed.csv`` the stages trained with) how many labels a person reviewed and changed."""
    date = date or datetime.datetime.now()
    n_clips = max((s.n_clips for s in summary.stages.values()), default=0)
    errors = [s.map3_se for s in summary.stages.values() if s.map3_se is not None]
    spread = (f"; the standard error of MAP@3 at this size is {min(errors):.3f} to {max(errors):.3f} "
              "(std of the clips' AP@3 / √clips): differences between stages smaller than about twice that "
              "are noise" if errors else "")
    return [("corpus", corpus or "–"), ("config", origin or "config.yaml in this folder"),
            ("date", date.strftime("%Y-%m-%d %H:%M")), ("test set", f"{n_clips} clips{spread}")] + (
        [("reviewed labels", f"{count_review(read_corpus(corpus), reviewed).describe()} ({reviewed})")]
        if reviewed and corpus else [])


def stage_table(summary: ExperimentSummary) -> Table:
    """One row per stage: test MAP@3 with its standard error, gain over all labels, accuracy, val
    MAP@3, best epoch, share of the most-predicted class and seconds; collapsed models flagged."""
    first = next(iter(summary.stages.values()), None)
    rows, flagged = [], {}
    for position, (name, s) in enumerate(summary.stages.items()):
        if s.collapsed:
            flagged[position] = s.collapsed
        rows.append({"stage": name, "map3": s.map3, "map3_se": s.map3_se,
                     "map3_gain": s.map3 - first.map3 if first is not None else None, "accuracy": s.accuracy,
                     "val_map3": s.val_map3,
                     "best_epoch": f"{s.best_epoch} of {s.epochs}" if s.best_epoch is not None else None,
                     "top_class_pct": None if s.top_class_share is None else 100 * s.top_class_share,
                     "seconds": summary.seconds.get(name), "verdict": stage_verdict(s)})
    return Table("test scores of every stage", pd.DataFrame(rows), flagged)


def stage_verdict(stage: StageScores) -> str:
    """A stage's last column in words: why it looks collapsed (briefly), or what an ensemble combined."""
    if stage.collapsed:
        return "collapsed: " + "; ".join(part.split(":")[0].strip() for part in stage.collapsed.split(";"))
    if stage.runs is not None:
        left = stage.left_out or {}
        collapsed = [name for name, why in left.items() if why.startswith("collapsed")]
        low = [name for name in left if name not in collapsed]
        return (f"{stage.method} mean of {', '.join(stage.runs)}"
                + (f"; left out as collapsed: {', '.join(collapsed)}" if collapsed else "")
                + (f"; left out below ensemble.min_score: {', '.join(low)}" if low else ""))
    return "ok"


def stage_section(summary: ExperimentSummary) -> Section:
    """The table of every stage's scores, with advice drawn from what ran."""
    collapsed = [name for name, s in summary.stages.items() if s.collapsed]
    warnings = ([f"Collapsed (red in the table; each stage's section says why): {', '.join(collapsed)}."]
                if collapsed else [])
    return Section("Results per stage", stage_advice(summary), [stage_table(summary)], warnings=warnings)


def stage_advice(summary: ExperimentSummary) -> list[str]:
    """Plain sentences on the stages that ran: the best model, and what the ensembles combined."""
    stages = summary.stages
    models = {name: s for name, s in stages.items() if s.runs is None and not s.collapsed}
    notes = [f"Test split of the corpus; label spreading over {summary.spread_embedding} embeddings, "
             f"scheme '{summary.spread_scheme}'. Seconds are the wall-clock time of each stage in this invocation "
             "(a finished stage that was reused takes almost none)."]
    if models:
        best = max(models, key=lambda n: models[n].map3)
        notes.append(f"Best single model that did not collapse: {best} (test MAP@3 {models[best].map3:.3f}).")
    for name in ENSEMBLES:
        if name not in stages:
            continue
        left = [run for run, why in (stages[name].left_out or {}).items() if why.startswith("collapsed")]
        if left:
            notes.append(f"The {name} leaves out the collapsed {', '.join(left)}; "
                         "set ensemble.keep_collapsed: true to keep them.")
        elif stages[name].runs and all(stages.get(run) and stages[run].collapsed for run in stages[name].runs):
            notes.append(f"Every run of the {name} collapsed, so it combines them all anyway.")
    return notes


def run_section(name: str, stage: StageScores | None, run_dir: Path) -> Section:
    """A trained stage's section: its scores in words, training curves and test confusion matrix."""
    folder = RunFolder(run_dir)
    notes, warnings = [], []
    if stage is not None:
        epochs = f", best epoch {stage.best_epoch} of {stage.epochs}" if stage.best_epoch is not None else ""
        notes.append(f"Test MAP@3 {stage.map3:.3f} ± {stage.map3_se or 0:.3f}, "
                     f"accuracy {stage.accuracy:.3f}{epochs}.")
        if stage.collapsed:
            warnings.append(f"Collapsed: {stage.collapsed}; left out of the ensemble unless ensemble.keep_collapsed.")
    return Section(f"Stage: {name}", notes, [], [(f"{name}: training curves", folder.curves_path)],
                   warnings=warnings, half=[(f"{name} (test): confusion matrix",
                                             folder.evaluation_dir("test") / "confusion.png")])


def ensemble_section(name: str, stage: StageScores, out_dir: Path) -> Section:
    """An ensemble's section: what it combined and its test confusion matrix."""
    return Section(f"Stage: {name}", [f"Test MAP@3 {stage.map3:.3f} ± {stage.map3_se or 0:.3f}: "
                                      f"{stage_verdict(stage)}."], [],
                   half=[(f"{name} (test): confusion matrix", out_dir / "confusion.png")])


def recipe_sections(out_dir: Path, summary: ExperimentSummary) -> list[Section]:
    """With a second recipe: both recipes' final test scores and training minutes, and the two label
    cleaners' figures, side by side at the top of the report (nothing without one)."""
    if "recipe" not in summary.recipes:
        return []
    dcase2018, recipe = summary.recipes["dcase2018"], summary.recipes["recipe"]
    table = pd.DataFrame([
        {"recipe": "DCASE 2018: spreading, all/verified/promoted, self-training, ensemble", "map3": dcase2018.map3,
         "accuracy": dcase2018.accuracy, "train_minutes": dcase2018.train_minutes},
        {"recipe": f"recipe: {recipe.cleaner} cleaner, {recipe.members}-member ensemble",
         "map3": recipe.map3, "accuracy": recipe.accuracy, "train_minutes": recipe.train_minutes},
    ])
    notes = [f"The second recipe's members change the config by: {', '.join(recipe.overrides or []) or 'nothing'}. "
             "Training minutes add up the epochs' wall-clock seconds of every model each recipe trains "
             "(the DCASE 2018 recipe's autoencoder included)."]
    tables = [Table("recipes", table)]
    if summary.cleaners is not None:
        tables.append(Table("label cleaners (unverified clips; precision and recall need train_truth.csv)",
                            pd.DataFrame(summary.cleaners)))
    return [Section("Recipes side by side", notes, tables)]


def spreading_note(compare: pd.DataFrame, scheme: str, embedding: str) -> str:
    """What the spreading tables leave out as the same for every scheme: clips, verified, wrong labels."""
    total = compare.iloc[0]
    wrong = f", {int(total['wrong_labels'])} of the unverified labels are wrong" if "wrong_labels" in compare else ""
    return (f"{int(total['clips'])} training clips, {int(total['verified'])} verified ({total['verified_pct']:.1f} %)"
            f"{wrong}. Labels spread over {embedding} embeddings; the classifiers trained on scheme '{scheme}'; "
            "the other schemes were compared only.")


def latent_verdict(compare: pd.DataFrame, reference: pd.DataFrame, scheme: str | None = None) -> str:
    """One plain sentence: do the autoencoder latents match the MFCC-statistics reference on the
    scheme that ran (the first scheme when none is named)?"""
    if "promoted_precision" not in compare:
        return "No train_truth.csv: promoted-label precision cannot be measured on this corpus."
    ours, ref = compare.set_index("scheme"), reference.set_index("scheme")
    scheme = scheme if scheme in ours.index else ours.index[0]
    figures = (f"on scheme '{scheme}' (the one the classifiers trained on), latents promote "
               f"{ours.loc[scheme, 'promoted_pct']:.1f} % at precision {ours.loc[scheme, 'promoted_precision']:.3f}, "
               f"MFCC statistics {ref.loc[scheme, 'promoted_pct']:.1f} % at {ref.loc[scheme, 'promoted_precision']:.3f}")
    if (ours.loc[scheme, "promoted_precision"] >= ref.loc[scheme, "promoted_precision"]
            and ours.loc[scheme, "promoted_pct"] >= ref.loc[scheme, "promoted_pct"]):
        return f"Autoencoder latents match or beat the MFCC-statistics reference: {figures}."
    return (f"Autoencoder latents do NOT match the MFCC-statistics reference: {figures}; "
            "set clean.embedding: mfcc_stats to spread over per-clip MFCC statistics instead.")
