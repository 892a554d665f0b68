"""Few clips per class (issue 15, part 5): 5 and 10 training clips per class, fine-tuned from an fsd-mini
run, against the same model trained from scratch and against MFCC + logistic regression; test accuracy
and MAP@3 as the mean over several draws of the clips, with standard errors.

    python -m benchmarks.fewshot [--corpus fsd-mini|recording-sets] [--shots 5 10] [--draws 3]
                                 [--target-epochs 40] [--set KEY=VALUE ...] [--source-run DIR]
                                 [--out-dir DIR]
                                 [--append benchmarks/RESULTS.md]

Both target corpora hold fsd-mini's real-recording (non-instrument) classes, and the source run is
``configs/fsd-mini.yaml`` trained on the 18 instrument classes (``benchmarks.finetune``'s, reused from
its folder), so the source never saw a target class nor a target clip:

- ``fsd-mini``: FSDKaggle2018 layout; the train clips of the 9 classes are drawn from train.csv by their
  true label (train_truth.csv), every test.csv clip of the 9 classes is scored.
- ``recording-sets``: class folders (``train/<class>/``, ``test/<class>/``); each class's test clips are
  one recording set (provenance.csv ``repo``) held out whole, its second largest, and its train clips
  are drawn from its other sets (fsd-mini's train and test clips alike): few clips from some
  microphones and rooms, scored on another. Drawer_open_or_close has one set only and is left out.

A class with fewer clips than asked gives all it has. The fine-tuned arm is ``--init-from`` the source
with ``train.freeze_blocks=2 train.lr=0.0003`` (best in RESULTS.md, "Fine-tuning on fsd-mini"); both
CNN arms run the real CLI (``train``, ``evaluate --json``) with ``configs/fsd-mini.yaml`` and hold out
the trainer's validation share of the drawn clips to pick their best epoch. MFCC + logistic regression
(``benchmarks.classifiers``' reference) is fitted on every drawn clip. Target (issue 15): fine-tuned at
5 clips per class at least 0.15 accuracy above MFCC + logistic regression.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.classifiers import logreg_probabilities
from benchmarks.common import BENCH_DIR, publish, section_header
from benchmarks.finetune import (CONFIG, FSD_MINI, OTHER, few_shot_rows, read_rows, soundtag, train_and_score,
                                 write_corpus)

TUNED = ("train.freeze_blocks=2", "train.lr=0.0003")
ARMS = ("scratch", "finetuned", "mfcc_logreg")
ARM_NAMES = {"scratch": "CNN from scratch", "finetuned": "CNN fine-tuned from the instrument run",
             "mfcc_logreg": "MFCC mean/std + logistic regression"}
TARGET_MARGIN = 0.15


def true_train_rows() -> list[dict[str, str]]:
    """fsd-mini's train clips under their true label, all verified: a user's few clips are labelled by hand."""
    truth = {r["fname"]: r["true_label"] for r in read_rows(FSD_MINI / "train_truth.csv")}
    return [{"fname": r["fname"], "label": truth[r["fname"]], "manually_verified": "1"}
            for r in read_rows(FSD_MINI / "train.csv")]


def recording_set_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Pool and test rows of the recording-sets corpus: each class's second largest recording set
    (ties by name) is its test split; classes recorded in one set only are left out."""
    rows = [r for r in read_rows(FSD_MINI / "provenance.csv") if r["label"] in OTHER]
    pool, test = [], []
    for label in OTHER:
        sets = Counter(r["repo"] for r in rows if r["label"] == label)
        if len(sets) < 2:
            continue
        held_out = sorted(sets, key=lambda s: (-sets[s], s))[1]
        for r in (r for r in rows if r["label"] == label):
            row = {"fname": r["fname"], "label": label, "manually_verified": "1", "folder": f"audio_{r['split']}"}
            (test if r["repo"] == held_out else pool).append(row)
    return pool, test


def write_class_folders(root: Path, train: list[dict[str, str]], test: list[dict[str, str]]) -> Path:
    """A class-folder corpus (``train/<class>/``, ``test/<class>/``) of links to fsd-mini's clips."""
    for split, rows in (("train", train), ("test", test)):
        for row in rows:
            link = root / split / row["label"] / row["fname"]
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(FSD_MINI / row["folder"] / row["fname"])
    return root


def target_corpora(kind: str, out: Path, shots: int, draws: int) -> list[Path]:
    """One corpus per draw of ``shots`` clips per class (seed = draw)."""
    if kind == "fsd-mini":
        train, test = true_train_rows(), [r for r in read_rows(FSD_MINI / "test.csv") if r["label"] in OTHER]
        return [write_corpus(out / f"corpus-{shots}-{d}", few_shot_rows(train, d, shots), test) for d in range(draws)]
    pool, test = recording_set_rows()
    return [write_class_folders(out / f"corpus-{shots}-{d}", few_shot_rows(pool, d, shots), test)
            for d in range(draws)]


def mfcc_logreg(corpus: Path, cache_dir: Path) -> dict:
    """Test accuracy and MAP@3 of MFCC mean/std + logistic regression fitted on every train clip."""
    from soundtag.config import load_config
    from soundtag.data import read_corpus
    from soundtag.labels.embeddings import mfcc_statistics
    from soundtag.training import accuracy, map_at_k

    audio, clips = load_config(CONFIG).audio, read_corpus(corpus)
    train, x = mfcc_statistics(clips.train, audio, str(cache_dir), num_workers=1, progress=False)
    labels = sorted({str(c.label) for c in train})
    test, x_test = mfcc_statistics([c for c in clips.test if str(c.label) in labels], audio, str(cache_dir),
                                   num_workers=1, progress=False)
    y = np.array([labels.index(str(c.label)) for c in train])
    y_test = np.array([labels.index(str(c.label)) for c in test])
    probs = logreg_probabilities(x, y, x_test, len(labels))
    return {"accuracy": accuracy(probs, y_test), "map3": map_at_k(probs, y_test, 3), "n_clips": len(test),
            "n_train": len(y)}


def run_draw(corpus: Path, runs: Path, args: argparse.Namespace) -> dict[str, dict]:
    """The three arms on one drawn corpus."""
    cache = Path(args.cache_dir)
    both = tuple(args.overrides)
    return {"scratch": train_and_score(runs / "scratch", corpus, args.target_epochs, cache, overrides=both),
            "finetuned": train_and_score(runs / "finetuned", corpus, args.target_epochs, cache,
                                         Path(args.source_run), TUNED + both),
            "mfcc_logreg": mfcc_logreg(corpus, cache)}


def run(args: argparse.Namespace) -> str:
    if not (Path(args.source_run) / "best.pt").is_file():
        raise SystemExit(f"no source run in {args.source_run}: run `python -m benchmarks.finetune` first")
    out = Path(args.out) / args.corpus
    source = json.loads(soundtag("evaluate", args.source_run, "--json", "--quiet", "--cache-dir", args.cache_dir))
    results: dict[int, list[dict[str, dict]]] = {}
    for shots in args.shots:
        results[shots] = [run_draw(corpus, out / "runs" / corpus.name, args)
                          for corpus in target_corpora(args.corpus, out, shots, args.draws)]
        (out / "results.json").write_text(json.dumps({"source": source, "results": results}, indent=1))
    return report(args, source, results)


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error over draws (nan with one draw)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1) / np.sqrt(len(arr))) if len(arr) > 1 else float("nan")


def report(args: argparse.Namespace, source: dict, results: dict[int, list[dict[str, dict]]]) -> str:
    first = next(iter(results.values()))[0]
    what = ("fsd-mini's 9 real-recording classes, train clips drawn by true label, fsd-mini's test clips"
            if args.corpus == "fsd-mini" else
            "8 real-recording classes as class folders, each tested on a held-out recording set")
    lines = [section_header(f"Few clips per class: {what} (benchmarks/fewshot.py)"),
             f"\nSource run: `configs/fsd-mini.yaml` on the 18 instrument classes (benchmarks/finetune.py's), test "
             f"MAP@3 {source['map3']:.4f} on their {source['n_clips']} test clips. Per draw (seed = draw) the "
             f"clips of each class are drawn ({first['mfcc_logreg']['n_train']} train clips at the first size: a "
             "class with fewer gives all it has); the CNNs train `configs/fsd-mini.yaml` for "
             f"{args.target_epochs} epochs from scratch or from the source with `{' '.join(TUNED)}`"
             + (f" (both also `{' '.join(args.overrides)}`)" if args.overrides else "") + "; all arms "
             f"are scored on the same {first['scratch']['n_clips']} test clips. Mean over {args.draws} draws "
             "± standard error over draws.\n",
             "| clips/class | method | accuracy | MAP@3 | accuracy per draw |", "|---|---|---|---|---|"]
    verdicts = []
    for shots, draws in results.items():
        for arm in ARMS:
            acc, map3 = [d[arm]["accuracy"] for d in draws], [d[arm]["map3"] for d in draws]
            (a, a_se), (m, m_se) = mean_se(acc), mean_se(map3)
            lines.append(f"| {shots} | {ARM_NAMES[arm]} | {a:.3f} ± {a_se:.3f} | {m:.3f} ± {m_se:.3f} | "
                         f"{', '.join(f'{v:.3f}' for v in acc)} |")
        gain, gain_se = mean_se([d["finetuned"]["accuracy"] - d["mfcc_logreg"]["accuracy"] for d in draws])
        scratch_gain, scratch_se = mean_se([d["finetuned"]["accuracy"] - d["scratch"]["accuracy"] for d in draws])
        met = "" if shots != 5 else f"; target >= +{TARGET_MARGIN:.2f}: **{'met' if gain >= TARGET_MARGIN else 'NOT met'}**"
        verdicts.append(f"- {shots} clips/class: fine-tuned accuracy {gain:+.3f} (± {gain_se:.3f}) over MFCC + "
                        f"logistic regression, {scratch_gain:+.3f} (± {scratch_se:.3f}) over from scratch{met}")
    return "\n".join(lines + [""] + verdicts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("fsd-mini", "recording-sets"), default="fsd-mini")
    parser.add_argument("--shots", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--target-epochs", type=int, default=40)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for both CNN arms (e.g. data.num_workers=0)")
    parser.add_argument("--source-run", default=str(BENCH_DIR / "finetune" / "runs" / "instruments"))
    parser.add_argument("--cache-dir", default=str(BENCH_DIR / "finetune" / "cache"))
    parser.add_argument("--out-dir", "--out", dest="out", default=str(BENCH_DIR / "fewshot"))
    parser.add_argument("--append", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(argv)
    publish(run(args), args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
