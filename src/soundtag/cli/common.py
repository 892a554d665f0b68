"""Arguments and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """``CONFIG`` plus ``--set``, ``--corpus`` and ``--cache-dir`` for commands that read a corpus."""
    parser.add_argument("config_file", nargs="?", metavar="CONFIG", help="YAML config (e.g. configs/demo.yaml)")
    add_config_arguments(parser, with_config_option=False)
    parser.add_argument("--corpus", metavar="PATH", help="corpus folder or manifest CSV (replaces data.corpus)")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (replaces data.cache_dir)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")


def recipe_config(args: argparse.Namespace) -> RunConfig:
    """The config of ``CONFIG`` with ``--set``, ``--corpus``, ``--cache-dir`` (and ``--init-from``) applied."""
    from soundtag.config import load_config
    from soundtag.errors import SoundtagError

    if not args.config_file:
        raise SoundtagError(f"{args.command} needs a CONFIG file (e.g. configs/demo.yaml)")
    overrides = list(args.overrides)
    overrides += [f"data.corpus={Path(args.corpus).resolve()}"] if args.corpus else []
    overrides += [f"data.cache_dir={Path(args.cache_dir).resolve()}"] if args.cache_dir else []
    overrides += [f"train.init_from={Path(args.init_from).resolve()}"] if getattr(args, "init_from", None) else []
    return load_config(args.config_file, overrides)


def check_recipe_outputs(args: argparse.Namespace, config: RunConfig, out: str | Path) -> None:
    """Before any work: the output folder ``out`` (``--out``) is neither the config file nor the corpus,
    and it and the feature cache folder can be written."""
    from soundtag.outputs import check_output

    inputs = [p for p in (args.config_file, config.data.corpus, config.train.init_from) if p]
    check_output(out, inputs=inputs, folder=True, option="--out")
    if config.data.cache_dir:
        check_output(config.data.cache_dir, inputs=inputs, folder=True, option="--cache-dir")
