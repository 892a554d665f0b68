"""The seed's whole recipe as one reproducible experiment, and the stage functions it is made of:
features -> autoencoder -> label spreading -> classifiers on (a) all labels, (b) verified only,
(c) verified + promoted -> (d) self-training from (c) -> (e) an ensemble -> report.html; and,
with a ``recipe`` section, a second recipe (cleaner + an ensemble of members) reported beside it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from soundtag.config import RecipeConfig, RunConfig, recipe_member_config, save_config
from soundtag.data import Corpus, read_corpus
from soundtag.ensemble import combine_probabilities, select_runs
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.inference import EvaluationResult, Tagger, evaluate_clips
from soundtag.labels import (
    SCHEMES,
    Latents,
    mfcc_statistics,
    run_selftraining,
    scheme_for,
    spread_labels,
    train_autoencoder,
    tsne_map,
    write_spread_outputs,
)
from soundtag.labels.autoencoder import LATENTS_FILE
from soundtag.labels.confident import clean_confident
from soundtag.reports import (
    Section,
    first_layer_activations,
    first_layer_filters,
    plot_activations,
    plot_confusion,
    plot_filters,
    plot_reconstructions,
    plot_rounds,
    plot_training_curves,
    plot_tsne_panels,
    write_report,
)
from soundtag.training import confusion, load_checkpoint, map_at_k, accuracy, start_run

STAGES = ("all_labels", "verified", "promoted", "selftrain", "ensemble")


# --- autoencoder ---------------------------------------------------------------------------------

def autoencode(config: RunConfig, out_dir: str | Path, progress: bool = True) -> Path:
    """Train the autoencoder and draw its loss curve and original-vs-reconstruction picture."""
    out_dir = Path(out_dir)
    run = train_autoencoder(config, out_dir, progress)
    plot_training_curves(out_dir / "metrics.csv", out_dir / "loss.png")
    picks = _one_clip_per_class(run.latents.labels, run.latents.verified, most=6)
    model = run.model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        originals = [run.dataset[i] for i in picks]
        recons = [model(x[None].to(device))[0].cpu() * model.input_std + model.input_mean for x in originals]
    plot_reconstructions([o.numpy() for o in originals], [r.numpy() for r in recons],
                         [str(run.latents.labels[i]) for i in picks], out_dir / "reconstructions.png")
    return out_dir


def _one_clip_per_class(labels: np.ndarray, verified: np.ndarray, most: int) -> list[int]:
    """Indices of one (preferably verified) clip of each of the first ``most`` classes."""
    picks = []
    for label in sorted(set(labels.tolist()))[:most]:
        candidates = np.flatnonzero((labels == label) & verified)
        candidates = candidates if len(candidates) else np.flatnonzero(labels == label)
        picks.append(int(candidates[0]))
    return picks


# --- label spreading -----------------------------------------------------------------------------

@dataclass
class Embeddings:
    """Clip embeddings used for spreading, with what the corpus says of each clip."""

    fnames: np.ndarray
    labels: np.ndarray
    verified: np.ndarray
    vectors: np.ndarray
    truth: np.ndarray | None


def spreading_embeddings(config: RunConfig, autoencoder_dir: str | Path | None, progress: bool = True) -> Embeddings:
    """Autoencoder latents (``spread.embedding: latent``) or per-clip MFCC statistics."""
    corpus = read_corpus(config.data.corpus)
    if config.spread.embedding == "latent":
        if autoencoder_dir is None or not (Path(autoencoder_dir) / LATENTS_FILE).is_file():
            raise SoundtagError(f"{autoencoder_dir}: no {LATENTS_FILE}; run `soundtag autoencode` first")
        latents = Latents.load(Path(autoencoder_dir) / LATENTS_FILE)
        fnames, labels, verified, vectors = latents.fnames, latents.labels, latents.verified, latents.vectors
    else:
        clips, vectors = mfcc_statistics(corpus.train, config.audio, config.data.cache_dir,
                                         config.data.num_workers, progress)
        fnames = np.array([c.fname for c in clips])
        labels = np.array([str(c.label) for c in clips])
        verified = np.array([bool(c.verified) for c in clips])
    truth = np.array([corpus.truth.get(f, "") for f in fnames]) if corpus.truth else None
    return Embeddings(fnames, labels, verified, vectors, truth)


def spread(config: RunConfig, embeddings: Embeddings, scheme: str, out_dir: str | Path, pictures: bool = True
           ) -> pd.DataFrame:
    """Clean labels (spreading within the groups of ``scheme``, or confident learning over all clips,
    per ``spread.method``); write promoted.csv, the tables and t-SNE maps.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if config.spread.method == "confident":
        result = clean_confident(embeddings.vectors, embeddings.labels, embeddings.verified, config.spread,
                                 embeddings.truth, config.seed)
    else:
        groups = scheme_for(sorted(set(embeddings.labels.tolist())), scheme, config.spread.groups_file)
        result = spread_labels(embeddings.vectors, embeddings.labels, embeddings.verified, groups, config.spread,
                               embeddings.truth, config.seed)
    write_spread_outputs(out_dir, embeddings.fnames, embeddings.labels, result)
    save_config(replace(config, spread=replace(config.spread, groups=scheme)), out_dir / "config.yaml")
    if pictures:
        coords = tsne_map(embeddings.vectors, seed=config.seed)
        before, after = embeddings.verified, embeddings.verified | result.promoted
        plot_tsne_panels(coords[before], embeddings.labels[before], out_dir / "tsne-before.png",
                         f"verified clips before spreading ({before.sum()})")
        plot_tsne_panels(coords[after], embeddings.labels[after], out_dir / "tsne-after.png",
                         f"verified + promoted after spreading ({after.sum()}, scheme {scheme})")
    return result.table


def compare_schemes(config: RunConfig, embeddings: Embeddings, out_dir: str | Path) -> pd.DataFrame:
    """Every shipped scheme's total row side by side (each scheme's own folder has its tables)."""
    rows = []
    for scheme in SCHEMES:
        table = spread(config, embeddings, scheme, Path(out_dir) / f"spread-{scheme}", pictures=False)
        rows.append({"scheme": scheme, "groups": len(table) - 1, **table.iloc[-1].drop(["group", "classes"]).to_dict()})
    frame = pd.DataFrame(rows)
    atomic_write_text(Path(out_dir) / "spread-compare.md", frame.to_markdown(index=False) + "\n")
    atomic_write_text(Path(out_dir) / "spread-compare.csv", frame.to_csv(index=False))
    return frame


# --- evaluation and ensembles --------------------------------------------------------------------

@dataclass
class RunScores:
    """Test-split probabilities of one run, keyed by clip name, with its validation score."""

    run_dir: Path
    val_score: float
    fnames: list[str]
    probabilities: np.ndarray
    targets: np.ndarray
    labels: list[str]


def evaluate_split(tagger: Tagger, corpus: Corpus, split: str, cache_dir: str | None, progress: bool = True
                   ) -> tuple[EvaluationResult, dict]:
    """Score a run on one split; write ``eval-<split>/metrics.json`` and ``confusion.png`` beside it."""
    clips = corpus.test if split == "test" else corpus.train
    if not clips:
        raise SoundtagError(f"{corpus.root}: no {split} clips to evaluate")
    result = evaluate_clips(tagger, clips, cache_dir or tagger.config.data.cache_dir, progress)
    if not result.fnames:
        raise SoundtagError(f"{corpus.root}: none of the {split} clips could be evaluated")
    metrics = {"split": split, "corpus": str(corpus.root), **result.metrics()}
    out = tagger.run_dir / f"eval-{split}"
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    plot_confusion(confusion(result.probabilities, result.targets), result.labels, out / "confusion.png",
                   title=f"{split}: accuracy {metrics['accuracy']:.3f}, MAP@3 {metrics['map3']:.3f}")
    return result, metrics


def score_run(run_dir: str | Path, corpus_dir: str | None = None, cache_dir: str | None = None,
              progress: bool = True) -> RunScores:
    """Test-split probabilities of a run's best model (``eval-test/`` is written beside it)."""
    tagger = Tagger(run_dir)
    corpus = read_corpus(corpus_dir or tagger.config.data.corpus)
    result, _ = evaluate_split(tagger, corpus, "test", cache_dir, progress)
    score = float(load_checkpoint(Path(run_dir) / "best.pt")["score"])
    return RunScores(Path(run_dir), score, result.fnames, result.probabilities, result.targets, result.labels)


def ensemble(by_name: dict[str, RunScores], method: str, min_score: float, weights: list[float] | None,
             out_dir: str | Path) -> dict:
    """Combine the named runs whose validation MAP@3 is at least ``min_score`` on their common
    clips (``weights`` in the order of ``by_name``); write ``metrics.json`` and a Kaggle
    ``submission.csv`` in ``out_dir``.
    """
    chosen = select_runs({name: r.val_score for name, r in by_name.items()}, min_score)
    if not chosen:
        raise SoundtagError(f"no run reaches the minimum validation score {min_score}")
    if len({tuple(by_name[n].labels) for n in chosen}) > 1:
        raise SoundtagError("runs to ensemble must share one label set")
    common = sorted(set.intersection(*(set(by_name[n].fnames) for n in chosen)))
    aligned = [_align(by_name[n], common) for n in chosen]
    if method == "weighted" and not weights:
        weights = [by_name[n].val_score for n in chosen]
    elif weights:
        if len(weights) != len(by_name):
            raise SoundtagError(f"give one weight per run ({len(by_name)}), got {len(weights)}")
        names = list(by_name)
        weights = [weights[names.index(n)] for n in chosen]
    probs = combine_probabilities(aligned, method, weights)
    first = by_name[chosen[0]]
    targets = np.array([first.targets[first.fnames.index(f)] for f in common])
    metrics = {"method": method, "runs": chosen, "weights": weights, "map3": map_at_k(probs, targets, 3),
               "accuracy": accuracy(probs, targets), "n_clips": len(common)}
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    order = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    rows = [(f, " ".join(first.labels[i] for i in row)) for f, row in zip(common, order)]
    atomic_write_text(out_dir / "submission.csv", pd.DataFrame(rows, columns=["fname", "label"]).to_csv(index=False))
    plot_confusion(confusion(probs, targets), first.labels, out_dir / "confusion.png",
                   title=f"ensemble ({method}): accuracy {metrics['accuracy']:.3f}, MAP@3 {metrics['map3']:.3f}")
    return metrics


def _align(run: RunScores, fnames: list[str]) -> np.ndarray:
    position = {f: i for i, f in enumerate(run.fnames)}
    return run.probabilities[[position[f] for f in fnames]]


# --- filters -------------------------------------------------------------------------------------

def filter_pictures(run_dir: str | Path, out_dir: str | Path, clip_path: str | Path | None = None) -> list[Path]:
    """First-layer filters of a run's best model and their activation maps on one clip."""
    tagger = Tagger(run_dir)
    out_dir = Path(out_dir)
    written = [out_dir / "filters.png", out_dir / "activations.png"]
    plot_filters(first_layer_filters(tagger.model), written[0],
                 f"first-layer filters of {tagger.config.model.name}")
    if clip_path is None:
        clip_path = read_corpus(tagger.config.data.corpus).test[0].path
    from soundtag.audio import load_audio
    from soundtag.features import extract_batch

    signal = load_audio(clip_path, tagger.config.audio.sample_rate)
    features = extract_batch(tagger.transform, [signal])[0]
    maps = first_layer_activations(tagger.model, features)
    plot_activations(features, maps if maps.ndim == 3 else maps[:, None, :], written[1],
                     f"first-layer activations on {Path(clip_path).name}")
    return written


# --- the whole recipe ----------------------------------------------------------------------------

def run_experiment(config: RunConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Run every stage (resuming finished ones), then write ``summary.json`` and ``report.html``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, out_dir / "config.yaml")
    timings: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - start, 1)
        return value

    recipe = config.recipe
    config = replace(config, recipe=RecipeConfig())  # the seed's stages do not depend on the second recipe
    ae_dir = out_dir / "autoencoder"
    if config.spread.embedding == "latent":
        timed("autoencoder", autoencode, config, ae_dir, progress)
    embeddings = timed("embeddings", spreading_embeddings, config, ae_dir, progress)
    compare = timed("spreading", compare_schemes, config, embeddings, out_dir)
    reference = None
    if config.spread.embedding == "latent":
        mfcc_config = replace(config, spread=replace(config.spread, embedding="mfcc_stats"))
        reference = compare_schemes(mfcc_config, spreading_embeddings(mfcc_config, None, progress),
                                    out_dir / "reference-mfcc")
    scheme_dir = out_dir / f"spread-{config.spread.groups}"
    spread(config, embeddings, config.spread.groups, scheme_dir)
    promoted_csv = scheme_dir / "promoted.csv"

    variants = {
        "all_labels": replace(config, train=replace(config.train, labels="all", extra_labels=None)),
        "verified": replace(config, train=replace(config.train, labels="verified", extra_labels=None)),
        "promoted": replace(config, train=replace(config.train, labels="verified", extra_labels=str(promoted_csv))),
    }
    run_dirs = {}
    for name, variant in variants.items():
        run_dirs[name] = out_dir / "runs" / name
        timed(name, start_run, variant, run_dirs[name], progress)
        plot_training_curves(run_dirs[name] / "metrics.csv", run_dirs[name] / "curves.png")
    selftrain_config = replace(variants["promoted"], selftrain=replace(
        config.selftrain, init_weights=str(run_dirs["promoted"] / "best.pt")))
    rounds = timed("selftrain", run_selftraining, selftrain_config, out_dir / "runs" / "selftrain", progress)
    plot_rounds(rounds.table, out_dir / "runs" / "selftrain" / "rounds.png")
    run_dirs["selftrain"] = rounds.final_dir
    plot_training_curves(rounds.final_dir / "metrics.csv", rounds.final_dir / "curves.png")

    scores = {name: score_run(path, progress=progress) for name, path in run_dirs.items()}
    stages = {name: _stage_summary(s) for name, s in scores.items()}
    ens = timed("ensemble", ensemble, scores, config.ensemble.method, config.ensemble.min_score,
                config.ensemble.weights or None, out_dir / "ensemble")
    stages["ensemble"] = _ensemble_summary(ens)
    filter_pictures(run_dirs["promoted"], out_dir / "filters")
    seed_dirs = ([ae_dir] if config.spread.embedding == "latent" else []) + [run_dirs[n] for n in variants]
    seed_dirs += sorted((out_dir / "runs" / "selftrain").glob("round-*"))
    summary = {"stages": stages, "seconds": timings, "spread_scheme": config.spread.groups,
               "spread_embedding": config.spread.embedding,
               "spreading": _spreading_summary(compare, reference),
               "recipes": {"seed": _recipe_summary(stages["ensemble"], seed_dirs)}}
    cleaner = None
    if recipe.members:
        member_dirs, cleaner = timed("recipe", train_recipe, replace(config, recipe=recipe), out_dir,
                                     promoted_csv, ae_dir, progress)
        member_scores = {name: score_run(path, progress=progress) for name, path in member_dirs.items()}
        stages.update({name: _stage_summary(s) for name, s in member_scores.items()})
        rens = ensemble(member_scores, config.ensemble.method, config.ensemble.min_score, None,
                        out_dir / "recipe" / "ensemble")
        stages["recipe_ensemble"] = _ensemble_summary(rens)
        summary["recipes"]["recipe"] = _recipe_summary(stages["recipe_ensemble"], list(member_dirs.values()))
        summary["recipes"]["recipe"].update({"members": recipe.members, "cleaner": recipe.cleaner,
                                             "overrides": recipe.overrides})
        if cleaner is not None:
            summary["cleaners"] = _cleaner_summary(compare, cleaner, config.spread.groups)
        run_dirs.update(member_dirs)
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=1, default=float) + "\n")
    write_experiment_report(out_dir, summary, compare, rounds.table, run_dirs, reference)
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
        cleaning = replace(member, spread=replace(member.spread, method="confident"))
        embeddings = spreading_embeddings(cleaning, autoencoder_dir, progress)
        table = spread(cleaning, embeddings, "all", clean_dir, pictures=False)
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
        plot_training_curves(run_dir / "metrics.csv", run_dir / "curves.png")
    return run_dirs, table


def training_minutes(run_dir: Path) -> float:
    """Minutes of training a run folder records (the sum of its epochs' wall-clock seconds)."""
    return float(pd.read_csv(run_dir / "metrics.csv")["seconds"].sum()) / 60


def _recipe_summary(final: dict, run_dirs: list[Path]) -> dict:
    return {"map3": final["map3"], "accuracy": final["accuracy"],
            "train_minutes": round(sum(training_minutes(d) for d in run_dirs), 2),
            "runs": [str(d) for d in run_dirs]}


def _cleaner_summary(compare: pd.DataFrame, confident: pd.DataFrame, scheme: str) -> list[dict]:
    """The spreading scheme's total row and the confident cleaner's, in the same columns."""
    columns = [c for c in ("promoted", "promoted_pct", "promoted_precision", "wrong_caught_pct") if c in confident]
    spreading_row = compare.set_index("scheme").loc[scheme]
    return [{"cleaner": f"label spreading ({scheme})", **{c: spreading_row[c] for c in columns}},
            {"cleaner": "confident learning", **{c: confident.iloc[-1][c] for c in columns}}]


def _spreading_summary(compare: pd.DataFrame, reference: pd.DataFrame | None) -> dict:
    """Per scheme, share promoted and precision for the embedding used (and the MFCC reference)."""
    def rows(frame: pd.DataFrame) -> dict:
        columns = [c for c in ("promoted", "promoted_pct", "promoted_precision", "wrong_caught_pct") if c in frame]
        return {row["scheme"]: {c: row[c] for c in columns} for _, row in frame.iterrows()}

    result = {"embedding": rows(compare)}
    if reference is not None:
        result["mfcc_reference"] = rows(reference)
    return json.loads(json.dumps(result, default=float))


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
            "set spread.embedding: mfcc_stats to spread over per-clip MFCC statistics instead.")


def _ensemble_summary(metrics: dict) -> dict:
    return {key: metrics[key] for key in ("map3", "accuracy", "n_clips", "runs", "method")}


def _stage_summary(scores: RunScores) -> dict:
    return {"map3": map_at_k(scores.probabilities, scores.targets, 3),
            "accuracy": accuracy(scores.probabilities, scores.targets), "n_clips": len(scores.fnames),
            "val_map3": scores.val_score}


def write_experiment_report(out_dir: Path, summary: dict, compare: pd.DataFrame, rounds: pd.DataFrame,
                            run_dirs: dict[str, Path], reference: pd.DataFrame | None = None) -> None:
    """``report.html``: the seed's tables side by side and every picture, embedded."""
    stages = pd.DataFrame([{"stage": name, "test MAP@3": s["map3"], "test accuracy": s["accuracy"],
                            "val MAP@3": s.get("val_map3"), "seconds": summary["seconds"].get(name)}
                           for name, s in summary["stages"].items()])
    advancement = stages[["stage", "test MAP@3"]].copy()
    advancement["gain vs all labels"] = advancement["test MAP@3"] - float(stages["test MAP@3"].iloc[0])
    scheme = summary["spread_scheme"]
    group_table = pd.read_csv(out_dir / f"spread-{scheme}" / "groups.csv")
    sections = _recipe_sections(out_dir, summary) + [
        Section("Method comparison and performance advancement",
                [f"Test split of the corpus; label spreading over {summary['spread_embedding']} embeddings, "
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
        Section("Training curves", [], [], [(name, path / "curves.png") for name, path in run_dirs.items()]),
        Section("Confusion matrices (test)", [], [],
                [(name, path / "eval-test" / "confusion.png") for name, path in run_dirs.items()]
                + [("ensemble", out_dir / "ensemble" / "confusion.png")]),
        Section("First-layer filters", [], [], [("filters", out_dir / "filters" / "filters.png"),
                                                ("activations", out_dir / "filters" / "activations.png")]),
    ]
    write_report(out_dir / "report.html", "soundtag experiment", sections)


def _recipe_sections(out_dir: Path, summary: dict) -> list[Section]:
    """With a second recipe: both recipes' final test scores and training minutes, and the two label
    cleaners' figures, side by side at the top of the report."""
    recipes = summary["recipes"]
    if "recipe" not in recipes:
        return []
    recipe = recipes["recipe"]
    table = pd.DataFrame([
        {"recipe": "seed: spreading, all/verified/promoted, self-training, ensemble", "test MAP@3": recipes["seed"]["map3"],
         "test accuracy": recipes["seed"]["accuracy"], "training minutes": recipes["seed"]["train_minutes"]},
        {"recipe": f"recipe: {recipe['cleaner']} cleaner, {recipe['members']}-member ensemble",
         "test MAP@3": recipe["map3"], "test accuracy": recipe["accuracy"], "training minutes": recipe["train_minutes"]},
    ])
    notes = [f"The second recipe's members change the config by: {', '.join(recipe['overrides']) or 'nothing'}. "
             "Training minutes add up the epochs' wall-clock seconds of every model each recipe trains "
             "(the seed's autoencoder included)."]
    tables = [("recipes", table)]
    if "cleaners" in summary:
        cleaners = pd.DataFrame(summary["cleaners"]).rename(columns={
            "promoted_pct": "promoted % of unverified", "promoted_precision": "precision",
            "wrong_caught_pct": "wrong labels caught % (recall)"})
        tables.append(("label cleaners (unverified clips; precision and recall need train_truth.csv)", cleaners))
    return [Section("Recipes side by side", notes, tables,
                    [("recipe ensemble confusion (test)", out_dir / "recipe" / "ensemble" / "confusion.png")])]
