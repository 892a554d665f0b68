"""``soundtag evaluate`` and ``soundtag predict``: score a run, write a Kaggle submission."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from soundtag.cli.common import (
    InputsFailed,
    add_json_option,
    add_output_file,
    add_quiet_option,
    add_strict_option,
    add_threads_option,
    exit_status,
    print_json,
    use_threads,
    warn,
)
from soundtag.errors import SoundtagError
from soundtag.runs import BEST_CHECKPOINT

if TYPE_CHECKING:
    from soundtag.data import Corpus


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` and ``predict`` subcommands."""
    evaluate = subparsers.add_parser(
        "evaluate", help="score a trained run on a corpus split",
        description="Accuracy, MAP@3, per-class AP and a confusion matrix of RUN_DIR's best model; for a "
                    "multi-label run lwlrap, macro mAP, macro/micro F1 at its thresholds and per-class AP bars.",
    )
    _add_run_arguments(evaluate)
    evaluate.add_argument("--split", choices=("test", "train"), default="test", help="which clips (default: test)")
    add_json_option(evaluate, "the metrics (also written to the evaluation folder's metrics.json)")
    evaluate.set_defaults(run=run_evaluate)

    predict = subparsers.add_parser(
        "predict", help="write a Kaggle submission for the test clips",
        description="Write fname,label with the top 3 labels for every clip of the corpus's test CSV.",
    )
    _add_run_arguments(predict)
    add_output_file(predict, "CSV file to write (never one of the corpus's or the run's files)", required=True,
                    old="--submission")
    predict.set_defaults(run=run_predict)


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train")
    parser.add_argument("--corpus", metavar="PATH", help="corpus folder or manifest CSV (default: the run's data.corpus)")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: the run's data.cache_dir)")
    parser.add_argument("--checkpoint", default=BEST_CHECKPOINT,
                        help=f"checkpoint in RUN_DIR (default: {BEST_CHECKPOINT})")
    add_strict_option(parser, "a clip cannot be decoded (the outputs are written all the same)")
    add_threads_option(parser)
    add_quiet_option(parser)


def _corpus(args: argparse.Namespace) -> tuple[Corpus, str | None]:
    """The corpus (``--corpus`` or the run's) and the feature cache folder, which must be writable."""
    from soundtag.data import describe_rejected, read_corpus
    from soundtag.outputs import check_output
    from soundtag.runs import RunFolder

    config = RunFolder(args.run_dir).read_config()
    corpus = read_corpus(args.corpus or config.data.corpus)
    if args.cache_dir:
        check_output(args.cache_dir, inputs=[corpus.root, args.run_dir], folder=True, option="--cache-dir")
    if corpus.rejected:
        warn(describe_rejected(corpus.rejected))
    return corpus, args.cache_dir or config.data.cache_dir


def run_evaluate(args: argparse.Namespace) -> int:
    """Score the split; write metrics JSON and the confusion PNG (per-class AP for a multi-label run)
    beside the run (checked writable first)."""
    from soundtag.inference import Tagger, evaluate_split, evaluation_dir
    from soundtag.outputs import check_output
    from soundtag.reports.scores import plot_run_scores

    use_threads(args.threads)
    corpus, cache_dir = _corpus(args)
    out = check_output(evaluation_dir(args.run_dir, corpus, args.split), folder=True)
    tagger = Tagger.from_run(args.run_dir, checkpoint=args.checkpoint)
    result, metrics = evaluate_split(tagger, corpus, args.split, cache_dir, progress=not args.quiet)
    plot_run_scores(result, tagger.run_dir, args.split, result.corpus_name)
    if result.unknown:
        warn(result.describe_unknown())
    for path, problem in result.failures:
        warn(f"skipped {path}: {problem}")
    fail_if_strict(args, result.failures)
    if args.json:
        print_json(metrics)
    elif result.multi_label:
        print(f"{args.split}: {metrics['n_clips']} clips, lwlrap {metrics['lwlrap']:.4f}, mAP {metrics['map']:.4f}, "
              f"F1 macro {metrics['f1_macro']:.4f} micro {metrics['f1_micro']:.4f}; details in {out}")
    else:
        print(f"{args.split}: {metrics['n_clips']} clips, accuracy {metrics['accuracy']:.4f}, "
              f"MAP@3 {metrics['map3']:.4f}; details in {out}")
    return exit_status(len(result.failures), metrics["n_clips"])


def run_predict(args: argparse.Namespace) -> int:
    """Write the submission (never over a corpus or run file), warning about clips that could not be decoded."""
    from soundtag.data import empty_split_reason
    from soundtag.inference import Tagger, write_submission
    from soundtag.outputs import check_output, run_files

    use_threads(args.threads)
    corpus, cache_dir = _corpus(args)
    check_output(args.output, inputs=[*corpus_files(corpus), *run_files(args.run_dir)], option="-o")
    if not corpus.test:
        raise SoundtagError(f"{corpus.root}: {empty_split_reason(corpus, 'test')}")
    tagger = Tagger.from_run(args.run_dir, checkpoint=args.checkpoint)
    failures = write_submission(args.output, tagger, corpus.test, corpus.train, cache_dir, progress=not args.quiet)
    for path, problem in failures:
        warn(f"{path}: {problem}; given the most frequent training labels")
    fail_if_strict(args, failures)
    print(f"wrote {len(corpus.test)} rows to {args.output}", file=sys.stderr)
    return exit_status(len(failures), len(corpus.test) - len(failures))


def fail_if_strict(args: argparse.Namespace, failures: list[tuple[str, str]]) -> None:
    """Under ``--strict``, clips that could not be decoded end the command (exit status 1)."""
    if failures and args.strict:
        raise InputsFailed(f"{len(failures)} clip(s) could not be decoded (--strict); first: "
                           f"{failures[0][0]}: {failures[0][1]}")


def corpus_files(corpus: Corpus) -> list[Path]:
    """The files a command reads from a corpus: its CSV files (those beside its root, and the manifest or
    FSD50K ground truth each split was read from) and every clip's audio."""
    listed = [Path(source) for source in corpus.sources.values() if Path(source).is_file()]
    return [*Path(corpus.root).glob("*.csv"), *listed, *(clip.path for clip in corpus.clips)]
