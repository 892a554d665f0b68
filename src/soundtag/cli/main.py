"""The ``soundtag`` program: subcommands, log records on stderr, one-line errors instead of tracebacks, and
the exit statuses of :mod:`soundtag.cli.common`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

from soundtag import __version__
from soundtag.cli import corpus, embed, evaluate, features, labels, review, tag, train
from soundtag.cli.common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, add_verbose_option
from soundtag.errors import SoundtagError

SUBCOMMANDS = (corpus, features, train, evaluate, tag, embed, labels, review)
LOG_LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)
"""The level of the records shown on stderr, by the number of ``-v``."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered; ``-v`` is taken before or after the subcommand."""
    parser = argparse.ArgumentParser(
        prog="soundtag",
        description="Train, evaluate and run general-purpose audio taggers from noisily labelled sound.",
    )
    parser.add_argument("--version", action="version", version=f"soundtag {__version__}")
    add_verbose_option(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", help="one of the commands below")
    for module in SUBCOMMANDS:
        module.register(subparsers)
    for subparser in subparsers.choices.values():
        add_verbose_option(subparser, default=argparse.SUPPRESS)  # absent: the top-level count stands
    return parser


class CommandLineFormatter(logging.Formatter):
    """Warnings as ``soundtag: warning: ...`` lines; progress and debugging records as their message."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return f"soundtag: warning: {message}" if record.levelno >= logging.WARNING else message


@contextlib.contextmanager
def log_to_stderr(verbosity: int) -> Iterator[None]:
    """While a command runs, the ``soundtag`` logger's records go to stderr: warnings, plus INFO with one
    ``-v`` and DEBUG with two. Errors are left out (they end the command as one error line). Nothing is
    left behind, so a program that calls :func:`main` keeps its own logging."""
    logger = logging.getLogger("soundtag")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(LOG_LEVELS[min(verbosity, len(LOG_LEVELS) - 1)])
    handler.setFormatter(CommandLineFormatter())
    handler.addFilter(lambda record: record.levelno < logging.ERROR)
    level = logger.level
    logger.setLevel(handler.level)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit status; user errors, and OSErrors that name a file (a folder
    made read-only while the command ran, say), print one line and exit 2 (1 for inputs failed under
    ``--strict``); Ctrl-C exits 130."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_OK
    try:
        with log_to_stderr(args.verbose):
            return int(args.run(args) or EXIT_OK)
    except SoundtagError as exc:
        print(f"soundtag: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_status", EXIT_USAGE)
    except OSError as exc:
        if exc.filename is None:
            raise
        from soundtag.fileio import describe_os_error

        print(f"soundtag: error: {exc.filename}: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("soundtag: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
