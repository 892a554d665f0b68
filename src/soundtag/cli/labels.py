"""``soundtag autoencode``, ``spread``, ``selftrain``, ``ensemble``, ``filters`` and ``experiment``."""

from __future__ import annotations

import argparse
from pathlib import Path

from soundtag.cli.common import (
    TRAINING_THREADS,
    add_json_option,
    add_out_dir,
    add_quiet_option,
    add_recipe_arguments,
    check_recipe_outputs,
    print_json,
    recipe_config,
    use_threads,
)
from soundtag.config import CleanConfig, EnsembleConfig, choices
from soundtag.errors import SoundtagError
from soundtag.outputs import check_output


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the noisy-label subcommands."""
    p = subparsers.add_parser("autoencode", help="train the autoencoder and write train-clip latents",
                              description="Train a convolutional autoencoder on the corpus's train clips; "
                                          "writes latents.npz, loss.png and reconstructions.png.")
    add_recipe_arguments(p, threads=TRAINING_THREADS)
    add_out_dir(p, "output folder (resumed if it holds this run)", required=True, metavar="RUN_DIR")
    p.set_defaults(run=run_autoencode)

    p = subparsers.add_parser("spread", help="promote unverified labels by label spreading in class groups",
                              description="LabelSpreading over an autoencoder run's latents within class groups.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by soundtag autoencode")
    p.add_argument("--groups", metavar="SCHEME", help="group scheme: all, music2, groups3, groups5 or your own "
                   "(default: the run's clean.groups)")
    p.add_argument("--compare", action="store_true", help="run every shipped scheme and print them side by side")
    p.add_argument("--method", choices=choices(CleanConfig, "method"), help="label spreading in groups or confident "
                   "learning (cleanlab over out-of-fold probabilities, clean.filter_by) (default: the run's "
                   "clean.method, spreading in the shipped configs)")
    add_out_dir(p, "output folder (default: RUN_DIR/spread-SCHEME, or RUN_DIR/confident; RUN_DIR with --compare)")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                   help="override a field of RUN_DIR/config.yaml, e.g. --set clean.gamma=10 (repeatable; "
                        "default: none)")
    add_quiet_option(p)
    p.set_defaults(run=run_spread)

    p = subparsers.add_parser("selftrain", help="self-training rounds on confident unverified clips",
                              description="Rounds of training that add clips whose top probability lies "
                                          "between the scheduled lower bound and the upper bound.")
    add_recipe_arguments(p, threads=TRAINING_THREADS)
    add_out_dir(p, "output folder (resumed if it holds this run)", required=True)
    p.set_defaults(run=run_selftrain)

    p = subparsers.add_parser("ensemble", help="combine several runs' probabilities",
                              description="Arithmetic, geometric or weighted mean of class probabilities of "
                                          "the runs whose validation MAP@3 is at least --min-score.")
    p.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="run folders")
    p.add_argument("--method", choices=choices(EnsembleConfig, "method"), default="geometric",
                   help="how the runs' class probabilities are combined: their arithmetic or geometric mean, or a "
                        "mean weighted by --weights (default: geometric)")
    p.add_argument("--min-score", type=float, default=0.0, metavar="S",
                   help="leave out runs whose validation MAP@3 is below S (default: 0, every run)")
    p.add_argument("--weights", type=float, nargs="+", metavar="W",
                   help="one weight per run, for --method weighted (default: the runs' validation MAP@3)")
    p.add_argument("--corpus", metavar="PATH", help="corpus folder or manifest CSV (default: each run's data.corpus)")
    p.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: each run's data.cache_dir)")
    add_out_dir(p, "where metrics.json and submission.csv go", required=True)
    add_json_option(p, "the metrics")
    add_quiet_option(p)
    p.set_defaults(run=run_ensemble)

    p = subparsers.add_parser("filters", help="pictures of a CNN's first-layer filters and activations")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train")
    p.add_argument("--clip", metavar="FILE", help="audio for the activation maps (default: first test clip)")
    add_out_dir(p, "output folder (default: RUN_DIR/filters)")
    p.set_defaults(run=run_filters)

    p = subparsers.add_parser("experiment", help="the DCASE 2018 recipe with an HTML report",
                              description="features -> autoencoder -> spreading -> classifiers on all / "
                                          "verified / promoted labels -> self-training -> ensemble -> report.html")
    add_recipe_arguments(p, threads=TRAINING_THREADS)
    add_out_dir(p, "output folder (finished stages are reused)", required=True)
    add_json_option(p, "the summary (summary.json's content, with the output folder and the report's path)")
    p.set_defaults(run=run_experiment)


def run_autoencode(args: argparse.Namespace) -> int:
    from soundtag.labels import train_autoencoder
    from soundtag.reports import plot_autoencoder

    use_threads(args.threads)
    config = recipe_config(args)
    check_recipe_outputs(args, config, args.out_dir)
    plot_autoencoder(train_autoencoder(config, args.out_dir, progress=not args.quiet), args.out_dir)
    print(f"latents, loss.png and reconstructions.png in {Path(args.out_dir)}")
    return 0


def run_spread(args: argparse.Namespace) -> int:
    from soundtag.config import load_config
    from soundtag.labels import compare_schemes, spread, spreading_embeddings
    from soundtag.reports import plot_spreading
    from soundtag.runs import RunFolder

    folder = RunFolder(args.run_dir).require_run()
    run_dir = folder.path
    overrides = args.overrides + ([f"clean.method={args.method}"] if args.method else [])
    folder.read_config()  # an edited config.yaml is refused
    config = load_config(folder.config_path, overrides)
    scheme = args.groups or config.clean.groups
    name = "confident" if config.clean.method == "confident" else f"spread-{scheme}"
    # --compare writes its tables beside the autoencoder run by default; a scheme's outputs get a folder
    out = check_output(args.out_dir or (run_dir if args.compare else run_dir / name), folder=True,
                       option="--out-dir", inputs=[] if args.compare else [run_dir])
    embeddings = spreading_embeddings(config, run_dir, progress=not args.quiet)
    if args.compare:
        print(compare_schemes(config, embeddings, out).to_markdown(index=False))
        return 0
    result = spread(config, embeddings, scheme, out)
    plot_spreading(embeddings, result.promoted, scheme, out, config.seed)
    print(result.table.to_markdown(index=False))
    print(f"promoted.csv, groups.csv/.md and t-SNE pictures in {out}")
    return 0


def run_selftrain(args: argparse.Namespace) -> int:
    from soundtag.labels import run_selftraining
    from soundtag.reports import plot_rounds

    use_threads(args.threads)
    config = recipe_config(args)
    check_recipe_outputs(args, config, args.out_dir)
    result = run_selftraining(config, args.out_dir, progress=not args.quiet)
    plot_rounds(result.table, Path(args.out_dir) / "rounds.png")
    print(result.table.to_markdown(index=False))
    print(f"final model: {result.final_dir}")
    return 0


def run_ensemble(args: argparse.Namespace) -> int:
    from soundtag.ensemble import ensemble_runs, write_ensemble
    from soundtag.inference import score_run
    from soundtag.reports import plot_ensemble_confusion, plot_run_confusion

    if args.weights and len(args.weights) != len(args.run_dirs):
        raise SoundtagError(f"--weights needs one weight per run ({len(args.run_dirs)}), got {len(args.weights)}")
    inputs = [*args.run_dirs, *([args.corpus] if args.corpus else [])]
    check_output(args.out_dir, inputs=inputs, folder=True, option="--out-dir")
    if args.cache_dir:
        check_output(args.cache_dir, inputs=inputs, folder=True, option="--cache-dir")
    runs = {}
    for run_dir in args.run_dirs:
        runs[run_dir] = score_run(run_dir, args.corpus, args.cache_dir, progress=not args.quiet)
        plot_run_confusion(runs[run_dir], run_dir, "test")
    result = ensemble_runs(runs, args.method, args.min_score, args.weights)
    metrics = write_ensemble(result, args.out_dir)
    plot_ensemble_confusion(result, args.out_dir)
    if args.json:
        print_json(metrics)
    else:
        print(f"ensemble ({args.method}) of {len(metrics['runs'])} run(s): accuracy {metrics['accuracy']:.4f}, "
              f"MAP@3 {metrics['map3']:.4f} on {metrics['n_clips']} clips; submission in {args.out_dir}")
    return 0


def run_filters(args: argparse.Namespace) -> int:
    from soundtag.reports import filter_pictures

    inputs = [args.run_dir] + ([args.clip] if args.clip else [])
    out = check_output(args.out_dir or Path(args.run_dir) / "filters", inputs=inputs, folder=True,
                       option="--out-dir")
    written = filter_pictures(args.run_dir, out, args.clip)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def run_experiment(args: argparse.Namespace) -> int:
    from soundtag.experiment import run_experiment as experiment

    use_threads(args.threads)
    config = recipe_config(args)
    check_recipe_outputs(args, config, args.out_dir)
    origin = " ".join([str(args.config_file)] + [f"--set {o}" for o in args.overrides])
    summary = experiment(config, args.out_dir, progress=not args.quiet, origin=origin)
    report = Path(args.out_dir) / "report.html"
    if args.json:
        print_json({"out_dir": str(args.out_dir), "report": str(report), **summary.to_dict()})
        return 0
    for name, stage in summary.stages.items():
        print(f"{name:>10}: test MAP@3 {stage.map3:.4f}, accuracy {stage.accuracy:.4f}")
    if "recipe" in summary.recipes:
        for name, recipe in summary.recipes.items():
            print(f"recipe {name}: test MAP@3 {recipe.map3:.4f} in {recipe.train_minutes:.1f} training minutes")
    print(f"report: {report}")
    return 0
