"""``soundtag features``: extract and cache features of a corpus or a folder of audio."""

from __future__ import annotations

import argparse

from soundtag.cli.common import add_config_arguments, config_from_args
from soundtag.errors import SoundtagError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``features`` subcommand."""
    parser = subparsers.add_parser(
        "features",
        help="extract and cache features of a corpus or folder",
        description="Decode, featurise and cache every clip of CORPUS (FSDKaggle2018 layout or a folder).",
    )
    parser.add_argument("corpus", nargs="?", help="corpus or audio folder (default: the config's data.corpus)")
    add_config_arguments(parser)
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: ~/.cache/soundtag; "
                        "checked for writability before any work)")
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes (default: data.num_workers)")
    parser.add_argument("--strict", action="store_true", help="fail when any file cannot be read")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Extract, then print the summary and any files skipped."""
    from soundtag.audio import display_name
    from soundtag.data import FeatureCache, cache_features, clips_of
    from soundtag.outputs import check_output

    config = config_from_args(args)
    corpus = args.corpus or config.data.corpus
    cache_dir = args.cache_dir or config.data.cache_dir
    cache = FeatureCache(cache_dir, config.audio, config.features)
    check_output(cache_dir or cache.root, inputs=[corpus] if corpus else [], folder=True, option="--cache-dir")
    clips, rejected = clips_of(corpus)
    if rejected and args.strict:
        csv_path, problem = rejected[0]
        raise SoundtagError(f"{csv_path}: {problem} ({len(rejected)} CSV row(s) could not be used, --strict)")
    workers = config.data.num_workers if args.workers is None else args.workers
    report = cache_features(
        [clip.path for clip in clips], config.audio, config.features, cache,
        num_workers=workers, progress=not args.quiet,
    )
    print(
        f"{report.n_clips} clips ({report.n_cached} already cached, {report.n_extracted} extracted, "
        f"{len(report.failures)} failed); {report.seconds:.1f} s of audio in {report.elapsed:.2f} s: "
        f"{report.clips_per_second:.1f} clips/s, {report.realtime_factor:.0f}x real time"
    )
    print(f"cache: {cache.root}")
    if rejected:
        print(f"left out {len(rejected)} CSV row(s):")
        for csv_path, problem in rejected:
            print(f"  {csv_path}: {problem}")
    if report.failures:
        print(f"skipped {len(report.failures)} file(s) that could not be read:")
        for path, problem in report.failures:
            print(f"  {display_name(path)}: {problem}")
        if args.strict:
            raise SoundtagError(f"{len(report.failures)} file(s) could not be read (--strict)")
    return 0
