"""``soundtag train``: train a classifier from a config, or resume a killed run."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from soundtag.cli.common import (
    TRAINING_THREADS,
    add_json_option,
    add_out_dir,
    add_recipe_arguments,
    check_recipe_outputs,
    print_json,
    recipe_config,
    use_threads,
)
from soundtag.errors import SoundtagError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train a classifier",
        description="Train the classifier described by CONFIG; RUN_DIR/config.yaml reproduces a run. Prints the "
                    "best score (and why training stopped early, when it did) on stdout, and the next command "
                    "to run on stderr.",
    )
    add_recipe_arguments(parser, config_help="YAML config, e.g. configs/demo.yaml (required unless --resume)",
                         threads=TRAINING_THREADS)
    add_out_dir(parser, "run folder (default: runs/<config name>); checked for writability, like the cache "
                "folder, before any work", metavar="RUN_DIR")
    parser.add_argument("--init-from", metavar="RUN_DIR", help="fine-tune: start from RUN_DIR's best.pt (same "
                        "features and architecture; output rows kept for the classes both runs have); replaces "
                        "train.init_from (default: the config's)")
    parser.add_argument("--reviewed", metavar="FILE", help="train with the labels a person reviewed "
                        "(REVIEW_DIR/reviewed.csv of `soundtag review`): accepted and relabelled clips count as "
                        "verified, clips of none of the classes are left out; replaces data.reviewed (default: "
                        "the config's)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last epoch; "
                        "with --set train.epochs=N (or train.patience=N) a finished run trains on")
    add_json_option(parser, "the result (run, score, epochs, whether it stopped early, the next command)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train (or resume), then draw the training curves and print the result once, and what to run next."""
    from soundtag.outputs import check_output
    from soundtag.reports.plots import plot_run_curves
    from soundtag.training import resume_run, start_run
    from soundtag.training.distributed import is_main_process

    use_threads(args.threads)
    progress = not args.quiet
    if args.resume:
        if args.config_file or args.corpus or args.cache_dir or args.out_dir or args.init_from or args.reviewed:
            raise SoundtagError("--resume takes the run folder and --set only: its config.yaml holds the settings")
        run_dir = check_output(args.resume, folder=True, option="--resume")
        result, _ = resume_run(run_dir, progress, extend=args.overrides)
    else:
        config = recipe_config(args)
        run_dir = Path(args.out_dir or Path("runs") / Path(args.config_file).stem)
        check_recipe_outputs(args, config, run_dir)
        result, _ = start_run(config, run_dir, progress)
    if not is_main_process():
        return 0
    plot_run_curves(run_dir)
    next_command = f"soundtag evaluate {shlex.quote(str(run_dir))}"
    if args.json:
        print_json({"run": str(run_dir), **result.summary(), "next": next_command})
        return 0
    finished = "already finished: " if result.already_finished else ""
    print(f"{finished}{result.describe()}; run: {run_dir}")
    print(f"next: {next_command}", file=sys.stderr)
    return 0
