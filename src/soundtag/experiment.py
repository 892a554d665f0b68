"""The DCASE 2018 recipe as one reproducible experiment: features -> autoencoder -> label spreading
-> classifiers on (a) all labels, (b) verified only, (c) verified + promoted -> (d) self-training from
(c) -> (e) an ensemble -> report.html; and, with a ``recipe`` section, a second recipe (cleaner + an
ensemble of members) reported beside it.

This module only chains the stages of the library; finished stages are reused, as each stage
resumes its own folder. Only ``soundtag experiment`` (and the benchmarks of the experiment) use it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd

from soundtag.config import RecipeConfig, RunConfig, recipe_member_config
from soundtag.ensemble import RunScores, ensemble_runs, write_ensemble
from soundtag.inference import score_run
from soundtag.labels import compare_schemes, run_selftraining, spread, spreading_embeddings, train_autoencoder
from soundtag.reports import (
    ExperimentSummary,
    RecipeSummary,
    StageScores,
    cleaner_summary,
    filter_pictures,
    plot_autoencoder,
    plot_ensemble_confusion,
    plot_rounds,
    plot_run_confusion,
    plot_spreading,
    plot_run_curves,
    spreading_summary,
    write_experiment_report,
)
from soundtag.runs import RunFolder, open_run
from soundtag.training import start_run


@contextmanager
def stage_timer(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall-clock seconds of the block as ``timings[name]`` (when it finishes)."""
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 1)


def run_experiment(config: RunConfig, out_dir: str | Path, progress: bool = True, origin: str | None = None
                   ) -> ExperimentSummary:
    """Run every stage (resuming finished ones), then write ``summary.json`` and ``report.html``;
    ``origin`` (the config file and its ``--set`` overrides, in words) heads the report."""
    with open_run(out_dir, config, may_change=("recipe",)) as (folder, config, _):
        return _run_stages(config, folder.path, progress, origin)


def _run_stages(config: RunConfig, out_dir: Path, progress: bool, origin: str | None = None) -> ExperimentSummary:
    timings: dict[str, float] = {}
    recipe = config.recipe
    config = replace(config, recipe=RecipeConfig())  # the DCASE 2018 recipe's stages do not depend on the second recipe
    latent = config.clean.embedding == "latent"

    ae_dir = out_dir / "autoencoder"
    if latent:
        with stage_timer(timings, "autoencoder"):
            plot_autoencoder(train_autoencoder(config, ae_dir, progress), ae_dir)
    with stage_timer(timings, "embeddings"):
        embeddings = spreading_embeddings(config, ae_dir, progress)
    with stage_timer(timings, "spreading"):
        compare = compare_schemes(config, embeddings, out_dir)
    reference = None
    if latent:
        mfcc_config = replace(config, clean=replace(config.clean, embedding="mfcc_stats"))
        reference = compare_schemes(mfcc_config, spreading_embeddings(mfcc_config, None, progress),
                                    out_dir / "reference-mfcc")
    scheme_dir = out_dir / f"spread-{config.clean.groups}"
    spreading = spread(config, embeddings, config.clean.groups, scheme_dir)
    plot_spreading(embeddings, spreading.promoted, config.clean.groups, scheme_dir, config.seed)
    promoted_csv = scheme_dir / "promoted.csv"

    variants = {
        "all_labels": replace(config, train=replace(config.train, labels="all", extra_labels=None)),
        "verified": replace(config, train=replace(config.train, labels="verified", extra_labels=None)),
        "promoted": replace(config, train=replace(config.train, labels="verified", extra_labels=str(promoted_csv))),
    }
    run_dirs = {}
    for name, variant in variants.items():
        run_dirs[name] = out_dir / "runs" / name
        with stage_timer(timings, name):
            start_run(variant, run_dirs[name], progress)
        plot_run_curves(run_dirs[name], name)
    selftrain_config = replace(variants["promoted"], selftrain=replace(
        config.selftrain, init_weights=str(RunFolder(run_dirs["promoted"]).best_path)))
    with stage_timer(timings, "selftrain"):
        rounds = run_selftraining(selftrain_config, out_dir / "runs" / "selftrain", progress)
    plot_rounds(rounds.table, out_dir / "runs" / "selftrain" / "rounds.png")
    run_dirs["selftrain"] = rounds.final_dir
    plot_run_curves(rounds.final_dir, "selftrain")

    scores = _score_runs(run_dirs, progress)
    stages = {name: StageScores.of_run(s) for name, s in scores.items()}
    with stage_timer(timings, "ensemble"):
        stages["ensemble"] = _ensemble(scores, config, config.ensemble.weights or None, out_dir / "ensemble",
                                       "ensemble")
    filter_pictures(run_dirs["promoted"], out_dir / "filters")
    dcase2018_dirs = ([ae_dir] if latent else []) + [run_dirs[n] for n in variants]
    dcase2018_dirs += sorted((out_dir / "runs" / "selftrain").glob("round-*"))
    recipes = {"dcase2018": RecipeSummary.of(stages["ensemble"], dcase2018_dirs)}
    cleaners = None
    if recipe.members:
        with stage_timer(timings, "recipe"):
            member_dirs, cleaner = train_recipe(replace(config, recipe=recipe), out_dir, promoted_csv, ae_dir,
                                                progress)
        member_scores = _score_runs(member_dirs, progress)
        stages.update({name: StageScores.of_run(s) for name, s in member_scores.items()})
        stages["recipe_ensemble"] = _ensemble(member_scores, config, None, out_dir / "recipe" / "ensemble",
                                              "recipe_ensemble")
        recipes["recipe"] = RecipeSummary.of(stages["recipe_ensemble"], list(member_dirs.values()), recipe)
        if cleaner is not None:
            cleaners = cleaner_summary(compare, cleaner, config.clean.groups)
        run_dirs.update(member_dirs)
    summary = ExperimentSummary(stages, timings, config.clean.groups, config.clean.embedding,
                                spreading_summary(compare, reference), recipes, cleaners)
    summary.write(out_dir / "summary.json")
    write_experiment_report(out_dir, summary, compare, rounds.table, run_dirs, reference, config.data.corpus, origin,
                            config.data.reviewed)
    return summary


def train_recipe(config: RunConfig, out_dir: Path, spread_csv: Path, autoencoder_dir: Path, progress: bool = True
                 ) -> tuple[dict[str, Path], pd.DataFrame | None]:
    """Clean the labels with ``recipe.cleaner``, then train the recipe's members on them: their run
    folders, and the confident cleaner's table (None for the other cleaners).
    """
    member = recipe_member_config(config)
    trusted, table = None, None
    if config.recipe.cleaner == "confident":
        clean_dir = out_dir / "recipe" / "clean-confident"
        cleaning = replace(member, clean=replace(member.clean, method="confident"))
        table = spread(cleaning, spreading_embeddings(cleaning, autoencoder_dir, progress), "all", clean_dir).table
        trusted = clean_dir / "promoted.csv"
    elif config.recipe.cleaner == "spreading":
        trusted = spread_csv
    run_dirs = {}
    for index in range(config.recipe.members):
        member = recipe_member_config(config, index)
        if trusted is not None:
            member = replace(member, train=replace(member.train, extra_labels=str(trusted)))
        run_dirs[f"recipe_{index + 1}"] = run_dir = out_dir / "runs" / f"recipe-{index + 1}"
        start_run(member, run_dir, progress)
        plot_run_curves(run_dir, f"recipe_{index + 1}")
    return run_dirs, table


def _score_runs(run_dirs: dict[str, Path], progress: bool) -> dict[str, RunScores]:
    """Each run's test scores, with ``eval-test/metrics.json`` and ``confusion.png`` beside it."""
    scores = {}
    for name, path in run_dirs.items():
        scores[name] = score_run(path, progress=progress)
        plot_run_confusion(scores[name], path, "test", stage=name)
    return scores


def _ensemble(scores: dict[str, RunScores], config: RunConfig, weights: list[float] | None, out_dir: Path,
              name: str) -> StageScores:
    """The ensemble ``name`` of ``config.ensemble`` over the scored runs (collapsed runs left out unless
    ``ensemble.keep_collapsed``), written with its picture to ``out_dir``."""
    result = ensemble_runs(scores, config.ensemble.method, config.ensemble.min_score, weights,
                           keep_collapsed=config.ensemble.keep_collapsed)
    write_ensemble(result, out_dir)
    plot_ensemble_confusion(result, out_dir, name)
    return StageScores.of_ensemble(result)
