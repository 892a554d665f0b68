"""Multi-label benchmark on soundscapes made from fsd-mini: ``configs/soundscapes.yaml`` (sigmoid CNN,
thresholds chosen on validation clips) against a one-vs-rest logistic regression on per-clip MFCC
mean/std, on the same train/test soundscapes.

    python -m benchmarks.multilabel [--train 600 --test 150] [--out-dir DIR]
                                    [--set key=value ...] [--append benchmarks/RESULTS.md]

The soundscapes are generated on demand (``scripts/make_soundscapes.py``, seed 0) into ``OUT/corpus``
and reused when present; the CNN is trained, evaluated and run through the real CLI. Targets (issue 13):
lwlrap at least 0.15 above the reference; at least 90 % of event-free test soundscapes get no tag
while macro F1 stays at or above 0.6.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import BENCH_DIR, publish, section_header

ROOT = Path(__file__).resolve().parents[1]
FSD_MINI = ROOT.parent / "shared" / "datasets" / "fsd-mini"
CONFIG = ROOT / "configs" / "soundscapes.yaml"


def soundtag(*args: object) -> str:
    """Run the CLI; its stdout (a failure stops the benchmark with the CLI's own message)."""
    proc = subprocess.run([sys.executable, "-m", "soundtag", *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"soundtag {' '.join(map(str, args))} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def soundscapes(out: Path, train: int, test: int) -> Path:
    """The manifest of the benchmark's soundscapes, made once."""
    manifest = out / "corpus" / "manifest.csv"
    if not manifest.is_file():
        shutil.rmtree(out / "corpus", ignore_errors=True)  # a generation that was cut short: start it over
        script = ROOT / "scripts" / "make_soundscapes.py"
        made = subprocess.run([sys.executable, str(script), str(FSD_MINI), str(out / "corpus"), "--train", str(train),
                               "--test", str(test)])
        if made.returncode != 0:
            raise SystemExit("could not make the soundscapes")
    return manifest


def reference(manifest: Path, cache: Path) -> dict:
    """One-vs-rest logistic regression on MFCC mean/std; thresholds chosen like the CNN's, on a fifth of
    the training soundscapes held out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from soundtag.config import AudioConfig
    from soundtag.data import LabelMap, read_corpus
    from soundtag.labels.embeddings import mfcc_statistics
    from soundtag.training.metrics import choose_thresholds, f1_scores, lwlrap, mean_average_precision

    corpus = read_corpus(manifest)
    label_map = LabelMap(corpus.labels)

    def features(clips):
        usable, stats = mfcc_statistics(clips, AudioConfig(), str(cache), num_workers=2, progress=False)
        truth = np.zeros((len(usable), len(label_map)), dtype=bool)
        for row, clip in enumerate(usable):
            truth[row, [label_map.index(label) for label in clip.labels]] = True
        return stats, truth

    x, y = features(corpus.train + corpus.val)
    x_test, y_test = features(corpus.test)
    held = np.random.default_rng(0).permutation(len(x))[: len(x) // 5]
    fit = np.setdiff1d(np.arange(len(x)), held)

    def model():
        return make_pipeline(StandardScaler(), OneVsRestClassifier(LogisticRegression(max_iter=5000)))

    thresholds = choose_thresholds(model().fit(x[fit], y[fit]).predict_proba(x[held]), y[held])
    scores = model().fit(x, y).predict_proba(x_test)
    macro, micro = f1_scores(scores, y_test, thresholds)
    empty = ~y_test.any(axis=1)
    silent = ~(scores >= thresholds).any(axis=1)
    return {"lwlrap": lwlrap(scores, y_test), "map": mean_average_precision(scores, y_test), "f1_macro": macro,
            "f1_micro": micro, "empty_without_tags": float(silent[empty].mean()) if empty.any() else float("nan"),
            "n_clips": len(y_test)}


def train_run(manifest: Path, out: Path, cache: Path, overrides: list[str]) -> tuple[Path, float]:
    """The run ``OUT/run`` of ``configs/soundscapes.yaml`` with ``overrides`` (trained, or resumed when
    there), and the minutes the train command took."""
    run = out / "run"
    start = time.perf_counter()
    sets = [item for override in overrides for item in ("--set", override)]
    soundtag("train", CONFIG, "--corpus", manifest, "--cache-dir", cache, "--out-dir", run, "--quiet", *sets)
    return run, (time.perf_counter() - start) / 60


def cnn(manifest: Path, out: Path, cache: Path, overrides: list[str]) -> dict:
    """Train, evaluate and tag with ``configs/soundscapes.yaml``; metrics plus the share of event-free
    test soundscapes that got no tag."""
    from soundtag.data import read_corpus
    from soundtag.inference.shards import is_provenance

    run, minutes = train_run(manifest, out, cache, overrides)
    metrics = json.loads(soundtag("evaluate", run, "--json", "--quiet", "--cache-dir", cache))
    tags = out / "test-tags.jsonl"
    test = read_corpus(manifest).test
    soundtag("tag", run, *[c.path for c in test], "--format", "jsonl", "-o", tags, "--quiet")
    records = [json.loads(line) for line in tags.read_text().splitlines()]
    tagged = {Path(r["file"]).name: r.get("tags", []) for r in records if not is_provenance(r)}
    empty = [c for c in test if not c.labels]
    quiet = sum(1 for c in empty if not tagged.get(c.path.name))
    return {**metrics, "empty_without_tags": quiet / len(empty) if empty else float("nan"),
            "train_minutes": minutes}


def report(args: argparse.Namespace, ours: dict, ref: dict) -> str:
    rows = [("CNN (`configs/soundscapes.yaml`)", ours), ("reference: MFCC mean/std + one-vs-rest logistic regression", ref)]
    lines = [section_header("Multi-label soundscapes from fsd-mini (benchmarks/multilabel.py)"),
             f"\n{args.train} train and {args.test} test soundscapes of 10 s (`scripts/make_soundscapes.py`, seed 0; "
             "train soundscapes carry the given, noisy labels of fsd-mini's train clips). Test metrics; F1 at "
             "each model's per-class thresholds chosen on held-out training soundscapes.\n",
             "| model | lwlrap | macro mAP | macro F1 | micro F1 | event-free soundscapes with no tag |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {m['lwlrap']:.4f} | {m['map']:.4f} | {m['f1_macro']:.4f} | {m['f1_micro']:.4f} | "
              f"{m['empty_without_tags']:.1%} |" for name, m in rows]
    gain = ours["lwlrap"] - ref["lwlrap"]
    quiet_ok = ours["empty_without_tags"] >= 0.9 and ours["f1_macro"] >= 0.6
    lines += [f"\n- CNN training took {ours['train_minutes']:.1f} minutes (train command, features included), "
              f"{ours['n_clips']} test soundscapes scored.",
              f"- lwlrap at least 0.15 above the reference: {gain:+.4f}, **{'met' if gain >= 0.15 else 'NOT met'}**",
              f"- at least 90 % of event-free test soundscapes untagged with macro F1 >= 0.6: "
              f"{ours['empty_without_tags']:.1%} and {ours['f1_macro']:.3f}, **{'met' if quiet_ok else 'NOT met'}**\n"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--test", type=int, default=150)
    parser.add_argument("--out-dir", "--out", dest="out", type=Path, default=BENCH_DIR / "multilabel")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--append", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(argv)
    cache = args.out / "cache"
    manifest = soundscapes(args.out, args.train, args.test)
    text = report(args, cnn(manifest, args.out, cache, args.overrides), reference(manifest, cache))
    publish(text, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
