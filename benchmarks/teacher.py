"""Soft targets for distillation on the generalisation benchmark's split (issue 15): for each direction,
the mean probabilities that the trained runs of the named variants give that direction's training clips.

    python -m benchmarks.teacher --out-dir DIR --epochs N --variant NAME KEY=VALUE ... [--variant ...] [--direction a]

writes ``DIR/teacher-a.csv`` and ``DIR/teacher-b.csv`` (:func:`soundtag.training.distill.write_teacher`)
from the runs ``benchmarks.generalisation`` trained under ``DIR`` with the same ``--epochs`` (the
baseline always among them). A student then trains on them with

    python -m benchmarks.generalisation --out-dir DIR --epochs N \\
        --variant distilled 'train.teacher=DIR/teacher-{direction}.csv' train.distill_alpha=0.5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.common import BENCH_DIR
from benchmarks.generalisation import DIRECTIONS, corpus_folder, make_split, parse_variants, read_items, run_name


def teacher_probabilities(runs: list[Path], clips: list, cache: Path) -> tuple[list[str], list[str], np.ndarray]:
    """The clips' names, the runs' labels and the mean of the runs' probabilities of ``clips``."""
    from soundtag.inference import Tagger, evaluate_clips

    results = [evaluate_clips(Tagger.from_run(run), clips, str(cache), progress=False) for run in runs]
    first = results[0]
    for result in results[1:]:
        if result.fnames != first.fnames or list(result.labels) != list(first.labels):
            raise SystemExit("the teacher runs scored different clips or classes")
    return first.fnames, list(first.labels), np.mean([r.probabilities for r in results], axis=0)


def main(argv: list[str] | None = None) -> int:
    from soundtag.data import read_corpus
    from soundtag.training.distill import write_teacher

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", nargs="+", action="append", metavar="NAME [KEY=VALUE ...]",
                        required=True, help="a variant whose runs join the baseline's in the teacher (repeatable)")
    parser.add_argument("--epochs", type=int, help="train.epochs the runs were trained with")
    parser.add_argument("--direction", choices=[d.name for d in DIRECTIONS], action="append",
                        help="only this direction (repeatable; default: all)")
    parser.add_argument("--out-dir", "--out", dest="out", default=str(BENCH_DIR / "generalisation"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    variants, items, folder = parse_variants(args.variant), read_items(), corpus_folder(out)
    for direction in (d for d in DIRECTIONS if not args.direction or d.name in args.direction):
        split = make_split(items, direction, folder)
        runs = [out / "runs" / direction.name / run_name(v.training, args.epochs) for v in variants]
        fnames, labels, probs = teacher_probabilities(runs, read_corpus(split.manifest).train, out / "cache")
        write_teacher(out / f"teacher-{direction.name}.csv", fnames, labels, probs)
        print(f"direction {direction.name}: teacher of {len(fnames)} training clips from {len(runs)} runs", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
