"""``soundtag evaluate`` and ``soundtag predict``: score a run, write a Kaggle submission."""

from __future__ import annotations

import argparse
import json

from soundtag.cli.common import warn
from soundtag.errors import SoundtagError
from soundtag.runs import BEST_CHECKPOINT


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` and ``predict`` subcommands."""
    evaluate = subparsers.add_parser(
        "evaluate", help="score a trained run on a corpus split",
        description="Accuracy, MAP@3, per-class AP and a confusion matrix of RUN_DIR's best model.",
    )
    _add_run_arguments(evaluate)
    evaluate.add_argument("--split", choices=("test", "train"), default="test", help="which clips (default: test)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    evaluate.set_defaults(run=run_evaluate)

    predict = subparsers.add_parser(
        "predict", help="write a Kaggle submission for the test clips",
        description="Write fname,label with the top 3 labels for every clip of the corpus's test CSV.",
    )
    _add_run_arguments(predict)
    predict.add_argument("--submission", metavar="FILE", required=True, help="CSV file to write")
    predict.set_defaults(run=run_predict)


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train")
    parser.add_argument("--corpus", metavar="DIR", help="corpus (default: the run's data.corpus)")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder")
    parser.add_argument("--checkpoint", default=BEST_CHECKPOINT,
                        help=f"checkpoint in RUN_DIR (default: {BEST_CHECKPOINT})")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _load(args: argparse.Namespace):
    from soundtag.data import read_corpus
    from soundtag.inference import Tagger

    tagger = Tagger.from_run(args.run_dir, checkpoint=args.checkpoint)
    corpus = read_corpus(args.corpus or tagger.config.data.corpus)
    for csv_path, problem in corpus.rejected:
        warn(f"{csv_path}: row left out: {problem}")
    return tagger, corpus, args.cache_dir or tagger.config.data.cache_dir


def run_evaluate(args: argparse.Namespace) -> int:
    """Score the split; write metrics JSON and the confusion PNG beside the run."""
    from soundtag.inference import evaluate_split
    from soundtag.runs import RunFolder
    from soundtag.reports import plot_run_confusion

    tagger, corpus, cache_dir = _load(args)
    result, metrics = evaluate_split(tagger, corpus, args.split, cache_dir, progress=not args.quiet)
    plot_run_confusion(result, tagger.run_dir, args.split)
    for path, problem in result.failures:
        warn(f"skipped {path}: {problem}")
    out = RunFolder(args.run_dir).evaluation_dir(args.split)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"{args.split}: {metrics['n_clips']} clips, accuracy {metrics['accuracy']:.4f}, "
              f"MAP@3 {metrics['map3']:.4f}; details in {out}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Write the submission, warning about clips that could not be decoded."""
    from soundtag.inference import write_submission

    tagger, corpus, cache_dir = _load(args)
    if not corpus.test:
        raise SoundtagError(f"{corpus.root}: no test CSV (test.csv or test_post_competition.csv)")
    failures = write_submission(args.submission, tagger, corpus.test, corpus.train, cache_dir,
                                progress=not args.quiet)
    for path, problem in failures:
        warn(f"{path}: {problem}; given the most frequent training labels")
    print(f"wrote {len(corpus.test)} rows to {args.submission}")
    return 0
