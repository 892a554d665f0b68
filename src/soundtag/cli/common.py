"""Arguments and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from soundtag.config import RunConfig


def add_config_arguments(parser: argparse.ArgumentParser, with_config_option: bool = True) -> None:
    """``--config FILE`` (unless the command takes it positionally) and repeatable ``--set key=value``."""
    if with_config_option:
        parser.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one config field, e.g. --set features.n_mels=128 (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The run config named by ``--config`` with ``--set`` overrides applied."""
    from soundtag.config import load_config

    return load_config(args.config, args.overrides)


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"soundtag: warning: {message}", file=sys.stderr)


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars unless ``--quiet``."""
    return not getattr(args, "quiet", False)
