"""The rules for files a user names as a command's output, checked before any work starts.

An output is never one of the command's inputs (compared by resolved path and by file identity, so
``./a.flac``, ``../x/a.flac``, a symlink or a hard link to an input count as the input), never a new
file inside a folder the command searches for inputs, and its folder must be writable. What soundtag
writes there is valid for the reader it is meant for: JSON without NaN or Infinity, CSV cells that
a spreadsheet shows as text instead of running as formulas.

>>> spreadsheet_cell("=HYPERLINK(1)"), spreadsheet_cell("dog bark"), spreadsheet_cell(0.5)
("'=HYPERLINK(1)", 'dog bark', 0.5)
>>> has_non_finite({"tags": [{"probability": float("nan")}]})
True
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from soundtag.errors import SoundtagError
from soundtag.fileio import blocking_file, describe_os_error

NOT_FINITE = "model output is not finite"
"""The error of a tag record whose probabilities held NaN or infinity (no number is written)."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula (OWASP's CSV-injection list)."""


def check_output(path: str | Path, *, inputs: Iterable[str | Path] = (), searched: Iterable[str | Path] = (),
                 reads: Callable[[Path], bool] | None = None, folder: bool = False,
                 option: str | None = None) -> Path:
    """``path``, after checking that writing it can neither replace an input nor fail for want of a place.

    ``inputs`` are the files and folders the command reads; ``searched`` are folders it searches for
    input files, of which ``reads`` says which it would take (a new file there is read on the next run).
    ``folder`` says the output is a folder the command fills. ``option`` (e.g. ``"-o"``) starts the
    one-line error that names the output and the input it would overwrite.
    """
    path = Path(path)
    name = f"{option} {path}" if option else str(path)
    for source in inputs:
        if _same_file(path, Path(source)):
            same = "" if str(source) == str(path) else f"the same file as {source}, "
            raise SoundtagError(f"{name}: is {same}an input of this command; write the output elsewhere")
    if reads is not None and not folder and reads(path):
        for root in searched:
            if _inside(path, Path(root)):
                raise SoundtagError(f"{name}: lies in {root}, which this command searches for input files, and "
                                    "would be read as one; write the output elsewhere")
    _check_writable(path, name, folder)
    return path


def run_files(run_dir: str | Path) -> list[Path]:
    """Every file of a run folder (checkpoints, config, label map, metrics, evaluations): the inputs
    of a command that reads the run. Empty when ``run_dir`` is not a folder."""
    root = Path(run_dir)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell that spreadsheets show as written: text starting with ``= + - @``, tab or carriage
    return gets a leading ``'`` (OWASP's rule against CSV injection); numbers are left as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def has_non_finite(data: Any) -> bool:
    """True when a number anywhere in ``data`` (dicts, lists, tuples) is NaN or infinite."""
    if isinstance(data, float):
        return not math.isfinite(data)
    if isinstance(data, dict):
        return any(has_non_finite(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return any(has_non_finite(v) for v in data)
    return False


def json_text(data: Any, **dumps_kwargs: Any) -> str:
    """``data`` as JSON that strict readers accept: NaN and infinities become ``null``."""
    return json.dumps(_finite_or_none(data), allow_nan=False, **dumps_kwargs)


def _finite_or_none(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite_or_none(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite_or_none(v) for v in data]
    return data


def _same_file(output: Path, source: Path) -> bool:
    """Whether writing ``output`` writes ``source``: the same resolved path, or the same file (hard link)."""
    if os.path.realpath(output) == os.path.realpath(source):
        return True
    try:
        return os.path.samefile(output, source)
    except OSError:  # one of them does not exist (yet)
        return False


def _inside(path: Path, root: Path) -> bool:
    real, base = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    return base in real.parents


def _check_writable(path: Path, name: str, folder: bool) -> None:
    """Refuse an output whose place is a file or a folder of the wrong kind, or a folder this process
    cannot create files in (probed with an unnamed temporary file, so permissions, ACLs and read-only
    mounts all count as they will for the real write)."""
    if path.is_dir() and not folder:
        raise SoundtagError(f"{name}: is a folder; give a file name")
    if path.exists() and not path.is_dir() and folder:
        raise SoundtagError(f"{name}: is a file, not a folder")
    blocker = blocking_file(path if folder else path.parent)
    if blocker is not None:
        raise SoundtagError(f"{name}: cannot be written, {blocker} is a file, not a folder")
    place = path if folder else path.parent
    while not place.exists():
        place = place.parent
    try:
        with tempfile.TemporaryFile(dir=place):
            pass
    except OSError as exc:
        raise SoundtagError(f"{name}: cannot be written, no new file can be made in {place} "
                            f"({describe_os_error(exc)})") from None
