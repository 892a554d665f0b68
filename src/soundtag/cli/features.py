"""``soundtag features``: extract and cache features of a corpus or a folder of audio."""

from __future__ import annotations

import argparse

from soundtag.cli.common import (
    InputsFailed,
    add_json_option,
    add_recipe_arguments,
    add_strict_option,
    exit_status,
    print_json,
    recipe_config,
    use_threads,
    warn,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``features`` subcommand."""
    parser = subparsers.add_parser(
        "features",
        help="extract and cache features of a corpus or folder",
        description="Decode, featurise and cache every clip of the corpus (--corpus, else CONFIG's data.corpus): "
                    "any layout soundtag corpus reads, or a plain folder of audio (searched recursively). The "
                    "summary goes to stdout; files that could not be read, one warning line each, to stderr.",
    )
    add_recipe_arguments(parser, config_help="YAML config whose audio, features and data settings are used "
                                             "(default: the built-in defaults)")
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes (default: data.num_workers)")
    add_strict_option(parser, "a file cannot be read or a CSV row cannot be used")
    add_json_option(parser, "the counts, timings, cache folder, failed files and rows left out")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Extract, then print the summary (stdout) and any rows left out or files skipped (stderr)."""
    from soundtag.audio import display_name
    from soundtag.data import FeatureCache, cache_features, clips_of
    from soundtag.outputs import check_output

    use_threads(args.threads)
    config = recipe_config(args, required=False)
    corpus, cache_dir = config.data.corpus, config.data.cache_dir
    cache = FeatureCache(cache_dir, config.audio, config.features)
    check_output(cache_dir or cache.root, inputs=[corpus], folder=True, option="--cache-dir")
    clips, rejected = clips_of(corpus)
    for csv_path, problem in rejected:
        warn(f"left out a row of {csv_path}: {problem}")
    if rejected and args.strict:
        raise InputsFailed(f"{len(rejected)} CSV row(s) could not be used (--strict); first: "
                           f"{rejected[0][0]}: {rejected[0][1]}")
    workers = config.data.num_workers if args.workers is None else args.workers
    report = cache_features([clip.path for clip in clips], config.audio, config.features, cache,
                            num_workers=workers, progress=not args.quiet)
    failed = [(display_name(path), problem) for path, problem in report.failures]
    for name, problem in failed:
        warn(f"could not read {name}: {problem}")
    if failed and args.strict:
        raise InputsFailed(f"{len(failed)} file(s) could not be read (--strict); the others are cached")
    if args.json:
        print_json({
            "clips": report.n_clips, "already_cached": report.n_cached, "extracted": report.n_extracted,
            "failed": [{"file": name, "error": problem} for name, problem in failed],
            "left_out": [{"csv": str(csv_path), "problem": problem} for csv_path, problem in rejected],
            "audio_seconds": report.seconds, "elapsed_seconds": report.elapsed,
            "clips_per_second": report.clips_per_second, "realtime_factor": report.realtime_factor,
            "cache": str(cache.root),
        })
    else:
        print(f"{report.n_clips} clips ({report.n_cached} already cached, {report.n_extracted} extracted, "
              f"{len(failed)} failed); {report.seconds:.1f} s of audio in {report.elapsed:.2f} s: "
              f"{report.clips_per_second:.1f} clips/s, {report.realtime_factor:.0f}x real time")
        print(f"cache: {cache.root}")
    return exit_status(len(failed) + len(rejected), report.n_clips - len(failed))
