"""Generalisation benchmark on fsd-mini: train on some sources, test on others (issue 15).

    python -m benchmarks.generalisation [--variant NAME KEY=VALUE ...] [--epochs N] [--own-test NAME]
                                        [--out-dir DIR] [--append benchmarks/RESULTS.md]

fsd-mini's ``provenance.csv`` names where every clip comes from: the SoundFont an instrument was
rendered with (FluidR3_GM, MuseScore_General, Red_Zeppelin_4_LV2) or the recording set of a real
sound (a repository). Each DIRECTION holds out some sources whole and trains ``configs/fsd-mini.yaml``
on the rest of fsd-mini's training clips, with their GIVEN (noisy) labels and verified flags, as the
shipped config trains; ``train_truth.csv`` is never trained on. Two directions, each pairing a sound
bank with a recording set, so that one model per direction and variant scores both:

- ``a``: holds out MuseScore_General and maxschuman/nmf_auditory_scenes; in-source = FluidR3_GM and
  Sharwin24/Machine-Learning-and-Sensing;
- ``b``: the other way round.

In-source clips are fsd-mini's TEST clips of the in-source sources (test.csv labels): clips of sources
the model trained on, not themselves trained on. Cross-source clips are ALL clips of the held-out sources,
from both fsd-mini splits, scored with their TRUE labels (test.csv for test clips, train_truth.csv for
training clips, used here as test clips only), and only of classes with at least ``MIN_TRAIN_CLIPS``
truly labelled training clips in the sources trained on (the model cannot know the others). Every score
is MAP@3 with its standard error (std of the clips' AP@3 / sqrt(clips)); a variant's cross-source change
over the baseline has the paired standard error (std of the clips' AP@3 differences / sqrt(clips)).

A variant is a name and ``--set`` overrides of ``configs/fsd-mini.yaml`` (the baseline, today's config,
always runs); ``{direction}`` in an override becomes the direction's name (e.g. a per-direction teacher file). Overrides of ``tag.*`` change scoring, not training: variants that differ only there
share their trained model. Runs are kept under ``--out-dir`` in folders named by their training overrides,
so a second invocation reuses (or resumes) every run it has already trained. ``--own-test NAME`` also
trains that variant on fsd-mini as it is and scores its test split. Without ``--variant`` the silence-aware
variants of issue 15 run (``DEFAULT_VARIANTS``).

The corpora are manifest CSVs beside links to fsd-mini's audio folders (nothing is written there).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import BENCH_DIR, publish, section_header

ROOT = Path(__file__).resolve().parents[1]
FSD_MINI = ROOT.parent / "shared" / "datasets" / "fsd-mini"
CONFIG = ROOT / "configs" / "fsd-mini.yaml"
MIN_TRAIN_CLIPS = 5
FLUID, MUSESCORE = "FluidR3_GM", "MuseScore_General"
SHARWIN, NMF = "Sharwin24/Machine-Learning-and-Sensing", "maxschuman/nmf_auditory_scenes"
PAIRS = {"instruments": (FLUID, MUSESCORE), "real": (SHARWIN, NMF)}
"""Each group of clips compared: its source in direction ``a`` and its source in direction ``b``."""
DEFAULT_VARIANTS = {
    "silence-aware crops": ["train.crop_activity_floor_db=40", "train.random_crop_share=0.25"],
    "silence-aware scoring": ["tag.window_floor_db=20"],
    "both": ["train.crop_activity_floor_db=40", "train.random_crop_share=0.25", "tag.window_floor_db=20"],
}
"""The variants measured in RESULTS.md ("Generalisation across sources", with ``--epochs 60``)."""


@dataclass(frozen=True)
class Direction:
    """Which sources a model trains on (all but ``held_out``) and which it is scored on."""

    name: str
    held_in: tuple[str, ...]
    held_out: tuple[str, ...]


DIRECTIONS = (Direction("a", (FLUID, SHARWIN), (MUSESCORE, NMF)), Direction("b", (MUSESCORE, NMF), (FLUID, SHARWIN)))


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: tuple[str, ...]

    @property
    def training(self) -> tuple[str, ...]:
        """The overrides that change the model (all but ``tag.*``)."""
        return tuple(o for o in self.overrides if not o.startswith("tag."))

    @property
    def scoring(self) -> tuple[str, ...]:
        return tuple(o for o in self.overrides if o.startswith("tag."))


@dataclass(frozen=True)
class Item:
    """One fsd-mini clip: its folder-relative name, split, given and true label, verified flag, source."""

    fname: str
    split: str
    given: str
    truth: str
    verified: str
    source: str


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def source_of(repo: str) -> str:
    """A clip's source: the SoundFont's name for a rendered clip, else the repository of its recording set."""
    if repo.startswith("Debian package soundfont "):
        return repo.rsplit(" ", 1)[1].split(".")[0]
    return repo


def read_items() -> list[Item]:
    """Every clip of fsd-mini with its given label, true label and source."""
    sources = {row["fname"]: source_of(row["repo"]) for row in read_rows(FSD_MINI / "provenance.csv")}
    truth = {row["fname"]: row["true_label"] for row in read_rows(FSD_MINI / "train_truth.csv")}
    items = [Item(f"audio_train/{r['fname']}", "train", r["label"], truth[r["fname"]], r["manually_verified"],
                  sources[r["fname"]]) for r in read_rows(FSD_MINI / "train.csv")]
    items += [Item(f"audio_test/{r['fname']}", "test", r["label"], r["label"], "1", sources[r["fname"]])
              for r in read_rows(FSD_MINI / "test.csv")]
    return items


def corpus_folder(out: Path) -> Path:
    """A folder with links to fsd-mini's audio folders, which the manifests name their clips through
    (one folder for all directions, so the feature cache is shared)."""
    folder = out / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("audio_train", "audio_test"):
        if not (folder / name).exists():
            (folder / name).symlink_to(FSD_MINI / name, target_is_directory=True)
    return folder


@dataclass
class Split:
    """A direction's manifest and the test clips of each group: in-source and cross-source names."""

    manifest: Path
    in_source: dict[str, list[str]]
    cross: dict[str, list[str]]


def make_split(items: list[Item], direction: Direction, folder: Path) -> Split:
    """Write the manifest of ``direction``: training clips of the sources it trains on (given labels),
    test clips as described in the module docstring (true labels)."""
    train = [i for i in items if i.split == "train" and i.source not in direction.held_out]
    trained = {label for label in {i.truth for i in train}
               if sum(i.truth == label for i in train) >= MIN_TRAIN_CLIPS}
    in_source = {group: [i.fname for i in items if i.split == "test" and i.source == pair[direction.name == "b"]]
                 for group, pair in PAIRS.items()}
    cross = {group: [i.fname for i in items if i.source == pair[direction.name == "a"] and i.truth in trained]
             for group, pair in PAIRS.items()}
    tested = {name for names in (*in_source.values(), *cross.values()) for name in names}
    rows = [(i.fname, i.given, i.verified, "train") for i in train]
    rows += [(i.fname, i.truth, "1", "test") for i in items if i.fname in tested]
    manifest = folder / f"holdout-{direction.name}.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fname", "labels", "verified", "split"])
        writer.writerows(rows)
    return Split(manifest, in_source, cross)


def run_name(overrides: tuple[str, ...], epochs: int | None) -> str:
    """A run folder's name from what it trains with, so identical trainings share one folder."""
    key = "\n".join([*sorted(overrides), f"epochs={epochs}"])
    return "train-" + hashlib.sha1(key.encode()).hexdigest()[:10]


def train_run(corpus: Path | None, overrides: tuple[str, ...], out: Path, cache: Path, epochs: int | None) -> float:
    """Train (or resume, or find finished) one run of ``configs/fsd-mini.yaml``; its training minutes."""
    import soundtag
    from soundtag.config import load_config
    from soundtag.reports.summary import training_minutes

    extra = [f"data.cache_dir={cache}"] + ([f"data.corpus={corpus}"] if corpus else [])
    extra += [f"train.epochs={epochs}"] if epochs else []
    soundtag.train(load_config(CONFIG, [*extra, *overrides]), out)
    return training_minutes(out)


def scored_probabilities(run: Path, scoring: tuple[str, ...], clips: list, cache: Path):
    """The run's :class:`~soundtag.inference.EvaluationResult` of ``clips``, its config's ``tag.*``
    settings changed by ``scoring``."""
    from soundtag.config import load_config
    from soundtag.inference import Tagger, evaluate_clips

    tagger = Tagger.from_run(run)
    if scoring:
        config = load_config(run / "config.yaml", list(scoring))
        tagger = Tagger(tagger.model, tagger.transform, tagger.labels, config, run_dir=run)
    return evaluate_clips(tagger, clips, str(cache), progress=False)


def clip_scores(result, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP@3 of each named clip, and their probabilities and targets (clips a run could not score are left out)."""
    from soundtag.training import map_at_k

    where = {Path(f).name: n for n, f in enumerate(result.fnames)}
    rows = [where[Path(name).name] for name in names if Path(name).name in where]
    probs, targets = result.probabilities[rows], result.targets[rows]
    return np.array([map_at_k(p[None], t[None], 3) for p, t in zip(probs, targets)]), probs, targets


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the mean."""
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(se)


def evaluate_variants(args: argparse.Namespace, variants: list[Variant]) -> tuple[list[dict], list[dict]]:
    """Train what the variants need and score them: one row per (direction, group, variant), and the
    per-class cross-source AP rows."""
    from soundtag.data import read_corpus
    from soundtag.training import per_class_average_precision

    out = Path(args.out)
    cache = out / "cache"
    items, folder = read_items(), corpus_folder(out)
    rows, per_class = [], []
    for direction in DIRECTIONS:
        split = make_split(items, direction, folder)
        clips = read_corpus(split.manifest).test
        baseline: dict[str, np.ndarray] = {}
        for variant in variants:
            training = tuple(o.replace("{direction}", direction.name) for o in variant.training)
            run = out / "runs" / direction.name / run_name(training, args.epochs)
            start = time.perf_counter()
            minutes = train_run(split.manifest, training, run, cache, args.epochs)
            print(f"direction {direction.name}, {variant.name}: trained in {time.perf_counter() - start:.0f} s",
                  flush=True)
            result = scored_probabilities(run, variant.scoring, clips, cache)
            for group, (ins, outs) in PAIRS.items():
                inside, _, _ = clip_scores(result, split.in_source[group])
                cross, probs, targets = clip_scores(result, split.cross[group])
                baseline.setdefault(group, cross)
                delta = mean_se(cross - baseline[group])
                held_in, held_out = (ins, outs) if direction.name == "a" else (outs, ins)
                rows.append({"split": f"{group}: {short(held_in)} -> {short(held_out)}", "variant": variant.name,
                             "in": mean_se(inside), "n_in": len(inside), "cross": mean_se(cross),
                             "n_cross": len(cross), "delta": delta, "minutes": minutes})
                ap = per_class_average_precision(probs, targets)
                per_class.append({"split": rows[-1]["split"], "variant": variant.name,
                                  **{result.labels[c]: ap[c] for c in sorted(set(targets.tolist()))}})
    return rows, per_class


def own_test(args: argparse.Namespace, variant: Variant) -> dict:
    """The variant trained on fsd-mini as it is, scored on its test split: MAP@3 and standard error."""
    from soundtag.data import read_corpus

    out = Path(args.out)
    run = out / "runs" / "fsd-mini" / run_name(variant.training, args.epochs)
    minutes = train_run(None, variant.training, run, out / "cache", args.epochs)
    clips = read_corpus(FSD_MINI).test
    scores, _, _ = clip_scores(scored_probabilities(run, variant.scoring, clips, out / "cache"),
                               [c.fname for c in clips])
    return {"variant": variant.name, "map3": mean_se(scores), "n": len(scores), "minutes": minutes}


def short(source: str) -> str:
    return source.split("/")[-1]


def cell(pair: tuple[float, float], signed: bool = False) -> str:
    return f"{pair[0]:{'+' if signed else ''}.3f} ± {pair[1]:.3f}"


def report(args: argparse.Namespace, variants: list[Variant], rows: list[dict], per_class: list[dict],
           own: list[dict]) -> str:
    epochs = f"train.epochs={args.epochs} for every run" if args.epochs else "the config's epochs"
    lines = [section_header("Generalisation across sources on fsd-mini (benchmarks/generalisation.py)"),
             f"\n`configs/fsd-mini.yaml` ({epochs}) trained on all of fsd-mini's training clips but those of "
             "the held-out sources, with their given labels. In-source: fsd-mini test clips of the source "
             "named first. Cross-source: every clip of the held-out source (both splits; training clips "
             "scored with their true labels from train_truth.csv, as test clips only), of classes with at "
             f"least {MIN_TRAIN_CLIPS} truly labelled training clips. MAP@3 ± standard error (std of clip "
             "AP@3 / √clips); Δ cross: change over the baseline ± paired standard error.\n",
             "Variants: " + "; ".join(f"**{v.name}** `{' '.join(v.overrides) or 'configs/fsd-mini.yaml'}`"
                                      for v in variants) + "\n",
             "| split | variant | in-source MAP@3 | n | cross-source MAP@3 | n | Δ cross vs baseline | train min |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['split']} | {r['variant']} | {cell(r['in'])} | {r['n_in']} | {cell(r['cross'])} | "
              f"{r['n_cross']} | {cell(r['delta'], True)} | {r['minutes']:.1f} |" for r in rows]
    lines.append(pooled(rows))
    lines.append(class_table(per_class))
    if own:
        lines += ["\nfsd-mini's own test split (trained on all its training clips):\n",
                  "| variant | test MAP@3 | n | train min |", "|---|---|---|---|"]
        lines += [f"| {o['variant']} | {cell(o['map3'])} | {o['n']} | {o['minutes']:.1f} |" for o in own]
    return "\n".join(lines) + "\n"


def pooled(rows: list[dict]) -> str:
    """Each variant's cross-source MAP@3 over all four splits' clips (weighted by clips), for a one-line verdict."""
    names = list(dict.fromkeys(r["variant"] for r in rows))
    parts = []
    for name in names:
        chosen = [r for r in rows if r["variant"] == name]
        n = sum(r["n_cross"] for r in chosen)
        parts.append(f"{name} {sum(r['cross'][0] * r['n_cross'] for r in chosen) / n:.3f} "
                     f"(Δ {sum(r['delta'][0] * r['n_cross'] for r in chosen) / n:+.3f})")
    return "\nCross-source MAP@3 over all four splits' clips: " + ", ".join(parts) + ".\n"


def class_table(per_class: list[dict]) -> str:
    """Per-class cross-source AP of the instrument classes the baseline gets below 0.5 in some direction."""
    instruments = [r for r in per_class if r["split"].startswith("instruments")]
    base = [r for r in instruments if r["variant"] == instruments[0]["variant"]]
    weak = sorted({c for r in base for c, v in r.items() if c not in ("split", "variant") and v < 0.5})
    if not weak:
        return ""
    lines = ["\nCross-source average precision of the instrument classes the baseline scores below 0.5:\n",
             "| split | variant | " + " | ".join(weak) + " |", "|---|---|" + "---|" * len(weak)]
    for r in instruments:
        lines.append(f"| {r['split']} | {r['variant']} | "
                     + " | ".join(f"{r[c]:.2f}" if c in r else "–" for c in weak) + " |")
    return "\n".join(lines) + "\n"


def parse_variants(given: list[list[str]] | None) -> list[Variant]:
    """The baseline, then the variants given (``NAME KEY=VALUE ...``), or :data:`DEFAULT_VARIANTS`."""
    chosen = [(v[0], v[1:]) for v in given] if given else list(DEFAULT_VARIANTS.items())
    variants = [Variant("baseline", ())] + [Variant(name, tuple(overrides)) for name, overrides in chosen]
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise SystemExit(f"variant names must differ (and not be 'baseline'): {names}")
    return variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", nargs="+", action="append", metavar="NAME [KEY=VALUE ...]",
                        help="a named list of --set overrides of configs/fsd-mini.yaml (repeatable)")
    parser.add_argument("--epochs", type=int, help="train.epochs of every run (default: the config's)")
    parser.add_argument("--own-test", action="append", default=[], metavar="NAME",
                        help="also train variant NAME on fsd-mini as it is and score its test split")
    parser.add_argument("--out-dir", "--out", dest="out", default=str(BENCH_DIR / "generalisation"))
    parser.add_argument("--append", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(argv)
    variants = parse_variants(args.variant)
    unknown = set(args.own_test) - {v.name for v in variants}
    if unknown:
        raise SystemExit(f"--own-test names no variant: {', '.join(sorted(unknown))}")
    rows, per_class = evaluate_variants(args, variants)
    own = [own_test(args, v) for v in variants if v.name in args.own_test]
    publish(report(args, variants, rows, per_class, own), args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
