"""``soundtag train``: train a classifier from a config, or resume a killed run."""

from __future__ import annotations

import argparse
from pathlib import Path

from soundtag.cli.common import add_recipe_arguments, check_recipe_outputs, recipe_config
from soundtag.errors import SoundtagError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train a classifier",
        description="Train the classifier described by CONFIG; RUN_DIR/config.yaml reproduces a run.",
    )
    add_recipe_arguments(parser)
    parser.add_argument("--out", metavar="RUN_DIR", help="run folder (default: runs/<config name>); checked for "
                        "writability, like the cache folder, before any work")
    parser.add_argument("--init-from", metavar="RUN_DIR", help="fine-tune: start from RUN_DIR's best.pt (same "
                        "features and architecture; output rows kept for the classes both runs have); replaces "
                        "train.init_from")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last epoch; "
                        "with --set train.epochs=N (or train.patience=N) a finished run trains on")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train (or resume), then draw the training curves and print where the run is."""
    from soundtag.reports.plots import plot_run_curves
    from soundtag.training import resume_run, start_run

    from soundtag.outputs import check_output

    progress = not args.quiet
    if args.resume:
        if args.config_file or args.corpus or args.cache_dir or args.out or args.init_from:
            raise SoundtagError("--resume takes the run folder and --set only: its config.yaml holds the settings")
        run_dir = check_output(args.resume, folder=True, option="--resume")
        result, _ = resume_run(run_dir, progress, extend=args.overrides)
    else:
        config = recipe_config(args)
        run_dir = Path(args.out or Path("runs") / Path(args.config_file).stem)
        check_recipe_outputs(args, config, run_dir)
        result, _ = start_run(config, run_dir, progress)
    from soundtag.training.distributed import is_main_process

    if not is_main_process():
        return 0
    plot_run_curves(run_dir)
    print(f"best {result.score_name} {result.score_value:.4f} at epoch {result.best_epoch} of {result.epochs_run}; "
          f"run: {run_dir}")
    return 0
