"""Fine-tuning benchmark on fsd-mini: a model trained on the 18 instrument classes, fine-tuned on the
9 other classes from 5 training clips per class, against the same model trained from scratch on the
same 5 clips per class; test MAP@3 on those 9 classes, over several draws of the 5 clips.

    python -m benchmarks.finetune [--draws 3] [--source-epochs 60] [--target-epochs 40]
                                  [--tune-set key=value ...] [--out-dir DIR]
                                  [--append benchmarks/RESULTS.md]

``--tune-set`` changes the fine-tuned arm only (e.g. ``train.freeze_blocks=2``, ``train.lr=0.0003``);
its runs go to folders of their own, so several variants share the source run and the scratch runs.

Everything goes through the real CLI (``soundtag train``, ``train --init-from``, ``evaluate --json``)
with ``configs/fsd-mini.yaml``. The two corpora are built as FSDKaggle2018 layouts of symbolic links
into fsd-mini (nothing is copied or written there). Target (issue 13): fine-tuned at least 0.10 test
MAP@3 above from-scratch.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import BENCH_DIR, publish, section_header

ROOT = Path(__file__).resolve().parents[1]
FSD_MINI = ROOT.parent / "shared" / "datasets" / "fsd-mini"
CONFIG = ROOT / "configs" / "fsd-mini.yaml"
OTHER = ("Applause", "Computer_keyboard", "Cough", "Drawer_open_or_close", "Gunshot_or_gunfire", "Knock",
         "Laughter", "Shatter", "Telephone")
SHOTS = 5


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_corpus(root: Path, train: list[dict[str, str]], test: list[dict[str, str]]) -> Path:
    """An FSDKaggle2018-layout corpus of links to fsd-mini's clips."""
    for folder, rows, columns in (("audio_train", train, ["fname", "label", "manually_verified"]),
                                  ("audio_test", test, ["fname", "label", "usage"])):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for row in rows:
            link = root / folder / row["fname"]
            if not link.exists():
                link.symlink_to(FSD_MINI / folder / row["fname"])
        name = "train.csv" if folder == "audio_train" else "test.csv"
        with open(root / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return root


def few_shot_rows(train: list[dict[str, str]], draw: int, shots: int = SHOTS) -> list[dict[str, str]]:
    """``shots`` verified clips of each of the other classes (all of them where fewer), drawn with seed
    ``draw``."""
    rng = np.random.default_rng(draw)
    chosen = []
    for label in OTHER:
        verified = sorted((r for r in train if r["label"] == label and r["manually_verified"] == "1"),
                          key=lambda r: r["fname"])
        picks = rng.choice(len(verified), size=min(shots, len(verified)), replace=False)
        chosen += [verified[i] for i in sorted(picks)]
    return chosen


def soundtag(*args: object) -> str:
    """Run the CLI; its stdout (a failure stops the benchmark with the CLI's own message)."""
    proc = subprocess.run([sys.executable, "-m", "soundtag", *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"soundtag {' '.join(map(str, args))} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def train_and_score(out: Path, corpus: Path, epochs: int, cache: Path, init_from: Path | None = None,
                    overrides: tuple[str, ...] = ()) -> dict:
    """Train (or fine-tune) one run and return its test metrics and training seconds."""
    start = time.perf_counter()
    extra = (["--init-from", init_from] if init_from else []) + [a for o in overrides for a in ("--set", o)]
    soundtag("train", CONFIG, "--corpus", corpus, "--cache-dir", cache, "--out-dir", out, "--quiet",
             "--set", f"train.epochs={epochs}", "--set", f"train.patience={epochs}", *extra)
    metrics = json.loads(soundtag("evaluate", out, "--json", "--quiet", "--cache-dir", cache))
    return {**metrics, "seconds": time.perf_counter() - start}


def run(args: argparse.Namespace) -> str:
    out, cache = Path(args.out), Path(args.out) / "cache"
    train, test = read_rows(FSD_MINI / "train.csv"), read_rows(FSD_MINI / "test.csv")
    source = write_corpus(out / "corpus-instruments", [r for r in train if r["label"] not in OTHER],
                          [r for r in test if r["label"] not in OTHER])
    source_run = out / "runs" / "instruments"
    source_metrics = train_and_score(source_run, source, args.source_epochs, cache)
    rows = []
    for draw in range(args.draws):
        target = write_corpus(out / f"corpus-other-{draw}", few_shot_rows(train, draw),
                              [r for r in test if r["label"] in OTHER])
        scratch = train_and_score(out / "runs" / f"scratch-{draw}", target, args.target_epochs, cache)
        variant = "-".join(o.replace("train.", "").replace("=", "") for o in args.tune_set)
        tuned = train_and_score(out / "runs" / f"finetuned-{draw}{'-' + variant if variant else ''}", target,
                                args.target_epochs, cache, source_run, tuple(args.tune_set))
        rows.append((draw, scratch, tuned))
    return report(args, source_metrics, rows)


def report(args: argparse.Namespace, source: dict, rows: list[tuple[int, dict, dict]]) -> str:
    scratch = np.array([s["map3"] for _, s, _ in rows])
    tuned = np.array([t["map3"] for _, _, t in rows])
    gain = tuned - scratch
    se = gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else float("nan")
    lines = [section_header("Fine-tuning on fsd-mini: 18 instrument classes -> 9 other classes from "
                            f"{SHOTS} clips each (benchmarks/finetune.py)"),
             f"\nSource run: `configs/fsd-mini.yaml` on the 18 instrument classes ({args.source_epochs} epochs "
             f"budget), test MAP@3 {source['map3']:.4f} on their {source['n_clips']} test clips. Each draw takes "
             f"{SHOTS} verified train clips of each of the 9 other classes (seed = draw) and trains "
             f"`configs/fsd-mini.yaml` for {args.target_epochs} epochs from scratch and with "
             "`--init-from` the source run"
             + (f" (fine-tuned arm also `{' '.join(args.tune_set)}`)" if args.tune_set else "")
             + "; both are scored on the 9 classes' test clips.\n",
             "| draw | test clips | from scratch MAP@3 | fine-tuned MAP@3 | gain | scratch s | fine-tuned s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {d} | {s['n_clips']} | {s['map3']:.4f} | {t['map3']:.4f} | {t['map3'] - s['map3']:+.4f} | "
              f"{s['seconds']:.0f} | {t['seconds']:.0f} |" for d, s, t in rows]
    met = gain.mean() >= 0.10
    lines.append(f"\n- mean gain {gain.mean():+.4f} (standard error over draws {se:.4f}); target >= +0.10: "
                 f"**{'met' if met else 'NOT met'}**\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--source-epochs", type=int, default=60)
    parser.add_argument("--target-epochs", type=int, default=40)
    parser.add_argument("--tune-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for the fine-tuned runs only")
    parser.add_argument("--out-dir", "--out", dest="out", default=str(BENCH_DIR / "finetune"))
    parser.add_argument("--append", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(argv)
    text = run(args)
    publish(text, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
