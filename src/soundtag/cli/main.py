"""The ``soundtag`` program: subcommands, and one-line errors instead of tracebacks."""

from __future__ import annotations

import argparse
import sys

from soundtag import __version__
from soundtag.cli import corpus, embed, evaluate, features, labels, tag, train
from soundtag.errors import SoundtagError

SUBCOMMANDS = (corpus, features, train, evaluate, tag, embed, labels)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="soundtag",
        description="Train, evaluate and run general-purpose audio taggers from noisily labelled sound.",
    )
    parser.add_argument("--version", action="version", version=f"soundtag {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; user errors, and OSErrors that name a file (a folder made read-only while
    the command ran, say), print one line and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except SoundtagError as exc:
        print(f"soundtag: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:
            raise
        from soundtag.fileio import describe_os_error

        print(f"soundtag: error: {exc.filename}: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soundtag: interrupted", file=sys.stderr)
        return 130
