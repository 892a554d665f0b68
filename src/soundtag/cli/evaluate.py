"""``soundtag evaluate`` and ``soundtag predict``: score a run, write a Kaggle submission."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from soundtag.cli.common import warn
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
    evaluate.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    evaluate.set_defaults(run=run_evaluate)

    predict = subparsers.add_parser(
        "predict", help="write a Kaggle submission for the test clips",
        description="Write fname,label with the top 3 labels for every clip of the corpus's test CSV.",
    )
    _add_run_arguments(predict)
    predict.add_argument("--submission", metavar="FILE", required=True,
                         help="CSV file to write (never one of the corpus's or the run's files)")
    predict.set_defaults(run=run_predict)


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train")
    parser.add_argument("--corpus", metavar="PATH", help="corpus folder or manifest CSV (default: the run's data.corpus)")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder")
    parser.add_argument("--checkpoint", default=BEST_CHECKPOINT,
                        help=f"checkpoint in RUN_DIR (default: {BEST_CHECKPOINT})")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


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
    from soundtag.outputs import check_output, json_text
    from soundtag.reports.scores import plot_run_scores

    corpus, cache_dir = _corpus(args)
    out = check_output(evaluation_dir(args.run_dir, corpus, args.split), folder=True)
    tagger = Tagger.from_run(args.run_dir, checkpoint=args.checkpoint)
    result, metrics = evaluate_split(tagger, corpus, args.split, cache_dir, progress=not args.quiet)
    plot_run_scores(result, tagger.run_dir, args.split, result.corpus_name)
    if result.unknown:
        warn(result.describe_unknown())
    for path, problem in result.failures:
        warn(f"skipped {path}: {problem}")
    if args.json:
        print(json_text(metrics))
    elif result.multi_label:
        print(f"{args.split}: {metrics['n_clips']} clips, lwlrap {metrics['lwlrap']:.4f}, mAP {metrics['map']:.4f}, "
              f"F1 macro {metrics['f1_macro']:.4f} micro {metrics['f1_micro']:.4f}; details in {out}")
    else:
        print(f"{args.split}: {metrics['n_clips']} clips, accuracy {metrics['accuracy']:.4f}, "
              f"MAP@3 {metrics['map3']:.4f}; details in {out}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Write the submission (never over a corpus or run file), warning about clips that could not be decoded."""
    from soundtag.data import empty_split_reason
    from soundtag.inference import Tagger, write_submission
    from soundtag.outputs import check_output, run_files

    corpus, cache_dir = _corpus(args)
    check_output(args.submission, inputs=[*corpus_files(corpus), *run_files(args.run_dir)], option="--submission")
    if not corpus.test:
        raise SoundtagError(f"{corpus.root}: {empty_split_reason(corpus, 'test')}")
    tagger = Tagger.from_run(args.run_dir, checkpoint=args.checkpoint)
    failures = write_submission(args.submission, tagger, corpus.test, corpus.train, cache_dir,
                                progress=not args.quiet)
    for path, problem in failures:
        warn(f"{path}: {problem}; given the most frequent training labels")
    print(f"wrote {len(corpus.test)} rows to {args.submission}")
    return 0


def corpus_files(corpus: Corpus) -> list[Path]:
    """The files a command reads from a corpus: its CSV files (those beside its root, and the manifest or
    FSD50K ground truth each split was read from) and every clip's audio."""
    listed = [Path(source) for source in corpus.sources.values() if Path(source).is_file()]
    return [*Path(corpus.root).glob("*.csv"), *listed, *(clip.path for clip in corpus.clips)]
