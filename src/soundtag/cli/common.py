"""Arguments and helpers shared by the subcommands, and the conventions every command keeps.

Outputs: ``-o/--output FILE`` names a file a command writes, ``--out-dir DIR`` a folder it fills.
Streams: data (tags, summaries, ``--json`` objects) on stdout, diagnostics (warnings, errors, progress
bars, log records) on stderr. Exit statuses: :data:`EXIT_OK`, :data:`EXIT_INPUTS_FAILED`,
:data:`EXIT_USAGE`, :data:`EXIT_INTERRUPTED`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soundtag.errors import SoundtagError

if TYPE_CHECKING:
    from soundtag.config import RunConfig

EXIT_OK = 0
"""Every input was done."""
EXIT_INPUTS_FAILED = 1
"""Some inputs failed (the others were done and written), or there was nothing to do."""
EXIT_USAGE = 2
"""A usage or config error (argparse's own status too): nothing was done."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl-C), as shells report SIGINT."""


class InputsFailed(SoundtagError):
    """An input failed under ``--strict``: one error line and exit status 1, not 2 (the settings were fine)."""

    exit_status = EXIT_INPUTS_FAILED


def exit_status(failed: int, done: int) -> int:
    """:data:`EXIT_OK` when ``done`` inputs were done and none ``failed``, else :data:`EXIT_INPUTS_FAILED`
    (some failed, or there was nothing to do)."""
    return EXIT_INPUTS_FAILED if failed or not done else EXIT_OK


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"soundtag: warning: {message}", file=sys.stderr)


# --- options every command spells the same way ---------------------------------------------------

class RenamedOption(argparse.Action):
    """Stores an option's value; given under a hidden old name (kept so that existing scripts still run),
    it also prints one warning naming the option's name now."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if option_string not in self.option_strings:
            warn(f"{option_string} is deprecated and will go; use {'/'.join(self.option_strings)}")
        setattr(namespace, self.dest, values)


def add_renamed_option(parser: argparse.ArgumentParser, names: tuple[str, ...], old: str,
                       **kwargs: Any) -> argparse.Action:
    """The option ``names`` that ``old`` still reaches: the parser keeps ``old``, no help or usage shows it."""
    action = parser.add_argument(*names, old, action=RenamedOption, **kwargs)
    action.option_strings = list(names)
    return action


def add_out_dir(parser: argparse.ArgumentParser, help_text: str, required: bool = False,
                metavar: str = "DIR") -> None:
    """``--out-dir DIR``: the folder the command fills (its old name ``--out`` still works, with a warning)."""
    add_renamed_option(parser, ("--out-dir",), "--out", dest="out_dir", metavar=metavar, required=required,
                       help=help_text)


def add_output_file(parser: argparse.ArgumentParser, help_text: str, required: bool = False,
                    old: str | None = None) -> None:
    """``-o/--output FILE``: the file the command writes (``old``, a former name, still works with a warning)."""
    kwargs = {"dest": "output", "metavar": "FILE", "required": required, "help": help_text}
    if old:
        add_renamed_option(parser, ("-o", "--output"), old, **kwargs)
    else:
        parser.add_argument("-o", "--output", **kwargs)


def add_json_option(parser: argparse.ArgumentParser, what: str = "the summary") -> None:
    """``--json``: one JSON object on stdout in place of the text summary."""
    parser.add_argument("--json", action="store_true",
                        help=f"print {what} as one JSON object on stdout, and no other text there")


def print_json(data: Any) -> None:
    """``data`` as one line of JSON on stdout (NaN and infinity as null, numpy numbers as numbers)."""
    from soundtag.outputs import json_text

    print(json_text(data, default=float))


def add_strict_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--strict``: the first input that fails ends the command (exit status 1)."""
    parser.add_argument("--strict", action="store_true",
                        help=f"fail (exit status 1) when {what}, instead of listing it and going on")


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars (they are off by themselves when stderr is not a terminal)."""
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars (off anyway when stderr is not a terminal)")


def add_verbose_option(parser: argparse.ArgumentParser, default: Any = 0) -> None:
    """``-v/--verbose``, repeatable: which log records reach stderr."""
    parser.add_argument("-v", "--verbose", action="count", default=default,
                        help="more messages on stderr: -v adds progress and settings (INFO), -vv debugging "
                             "(default: warnings and errors only)")


# --- CPU threads ---------------------------------------------------------------------------------

DEFAULT_THREADS = 1
"""CPU threads of a command's model (torch or onnxruntime) unless ``--threads`` says otherwise. One:
tagging decodes in a second thread meanwhile, and torch's own default (a thread per core) was several
times slower on a shared machine, where its threads spin-wait for each other (benchmarks/speed.py)."""

TRAINING_THREADS = "auto"
"""The training commands' default: the cores left idle when the command starts (:func:`idle_cores`).
Training has no decoding to overlap, so one thread leaves a quiet machine's other cores unused (1.3x
slower per epoch on 2 cores), while a thread per core on a busy machine ran 6x slower than one."""

#: Seconds :func:`busy_cores` watches the machine for.
BUSY_SAMPLE_SECONDS = 0.25


def busy_cores(seconds: float = BUSY_SAMPLE_SECONDS) -> float:
    """How many cores other work keeps busy now: from the kernel's CPU counters over ``seconds``
    (Linux), else the 1-minute load average (which lags: a job that just ended still counts)."""
    try:
        before = _cpu_counters()
        time.sleep(seconds)
        after = _cpu_counters()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    total, idle = after[0] - before[0], after[1] - before[1]
    return (total - idle) / total * after[2] if total > 0 else 0.0


def _cpu_counters() -> tuple[int, int, int]:
    """All CPU time, idle time (idle and iowait) and the CPU count, from ``/proc/stat``."""
    with open("/proc/stat", encoding="ascii") as handle:
        lines = handle.read().splitlines()
    ticks = [int(value) for value in lines[0].split()[1:]]
    return sum(ticks[:8]), ticks[3] + ticks[4], sum(1 for line in lines if line[:3] == "cpu" and line[3:4].isdigit())


def idle_cores() -> int:
    """The cores this process may use that other work leaves idle now (:func:`busy_cores`), at least 1."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, usable - round(busy_cores()))


def threads_value(text: str) -> int | str:
    """``--threads``: a whole number of at least 1, or ``auto`` (:func:`idle_cores` when the command starts)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least 1, or auto") from None


def positive_int(text: str) -> int:
    """An option's whole number of at least 1 (``--batch-size``, ``--threads``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least 1")
    return value


def add_threads_option(parser: argparse.ArgumentParser, default: int | str = DEFAULT_THREADS) -> None:
    """``--threads N|auto``: CPU threads of the command's model in this process (see :data:`DEFAULT_THREADS`
    and :data:`TRAINING_THREADS`)."""
    parser.add_argument("--threads", type=threads_value, default=default, metavar="N",
                        help=f"CPU threads for the model's arithmetic in this process, or auto: the cores other "
                             f"work leaves idle as the command starts (default: {default}; README: Threads)")


def resolved_threads(threads: int | str) -> int:
    """``--threads`` as a number: ``auto`` becomes :func:`idle_cores`."""
    return idle_cores() if threads == "auto" else int(threads)


def use_threads(threads: int | str) -> None:
    """torch computes on ``threads`` threads in this process (imports torch); ``auto``: :func:`idle_cores`."""
    import torch

    torch.set_num_threads(resolved_threads(threads))


# --- commands that read a config and a corpus ----------------------------------------------------

def add_recipe_arguments(parser: argparse.ArgumentParser,
                         config_help: str = "YAML config, e.g. configs/demo.yaml",
                         threads: int | str = DEFAULT_THREADS) -> None:
    """``CONFIG`` plus ``--set``, ``--corpus``, ``--cache-dir``, ``--threads`` (default ``threads``) and
    ``--quiet`` for commands that read a corpus."""
    parser.add_argument("config_file", nargs="?", metavar="CONFIG", help=config_help)
    parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                        help="override one config field, e.g. --set features.n_mels=128 (repeatable; "
                             "default: none)")
    parser.add_argument("--corpus", metavar="PATH",
                        help="corpus folder or manifest CSV (default: the config's data.corpus)")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: the config's "
                        "data.cache_dir, else $XDG_CACHE_HOME/soundtag or ~/.cache/soundtag)")
    add_threads_option(parser, threads)
    add_quiet_option(parser)


def recipe_config(args: argparse.Namespace, required: bool = True) -> RunConfig:
    """The config of ``CONFIG`` (the built-in defaults when absent and not ``required``) with ``--set``,
    ``--corpus``, ``--cache-dir`` (and ``--init-from``, ``--reviewed``) applied."""
    from soundtag.config import load_config

    if args.config_file:
        refuse_corpus_as_config(args.config_file)
    elif required:
        raise SoundtagError(f"{args.command} needs a CONFIG file (e.g. configs/demo.yaml)")
    overrides = list(args.overrides)
    overrides += [f"data.corpus={Path(args.corpus).resolve()}"] if args.corpus else []
    overrides += [f"data.cache_dir={Path(args.cache_dir).resolve()}"] if args.cache_dir else []
    overrides += [f"train.init_from={Path(args.init_from).resolve()}"] if getattr(args, "init_from", None) else []
    overrides += [f"data.reviewed={Path(args.reviewed).resolve()}"] if getattr(args, "reviewed", None) else []
    return load_config(args.config_file, overrides)


def refuse_corpus_as_config(path: str) -> None:
    """A folder, an audio file or a CSV given where CONFIG goes is refused, saying to give it as ``--corpus``."""
    from soundtag.audio import is_audio_file

    given = Path(path)
    if given.is_dir() or is_audio_file(given) or given.suffix.lower() == ".csv":
        kind = "a folder" if given.is_dir() else "a CSV file" if given.suffix.lower() == ".csv" else "audio"
        raise SoundtagError(f"{path}: is {kind}, not a config; give a corpus as --corpus {path} "
                            "(CONFIG is a YAML file, e.g. configs/demo.yaml)")


def check_recipe_outputs(args: argparse.Namespace, config: RunConfig, out: str | Path) -> None:
    """Before any work: the output folder ``out`` (``--out-dir``) is neither the config file nor the corpus,
    and it and the feature cache folder can be written."""
    from soundtag.outputs import check_output

    inputs = [p for p in (args.config_file, config.data.corpus, config.train.init_from, config.data.reviewed) if p]
    check_output(out, inputs=inputs, folder=True, option="--out-dir")
    if config.data.cache_dir:
        check_output(config.data.cache_dir, inputs=inputs, folder=True, option="--cache-dir")
