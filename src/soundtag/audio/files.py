"""What a path is before it is opened as audio, and its name as text that any output can hold."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from soundtag.errors import AudioError

# what a path that exists but is not a regular file is, in the user's words
_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def display_name(path: str | bytes | os.PathLike) -> str:
    """``path`` as text that a UTF-8 output can hold: the bytes of a name that are not UTF-8 (which
    Python carries as lone surrogates, ``os.fsdecode``'s "surrogateescape") are written ``\\xNN``,
    as Python writes bytes; every other name is returned unchanged.

    >>> display_name(b"caf\\xe9.wav"), display_name("café.wav")
    ('caf\\\\xe9.wav', 'café.wav')
    """
    text = os.fsdecode(path)
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:  # a surrogate that no file name decodes to: say its code point
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def check_file(path: str | Path) -> os.stat_result:
    """The status of ``path`` when it is a non-empty regular file (symbolic links followed), else a
    one-line :class:`AudioError` saying what it is. Nothing is opened, so a named pipe never blocks.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise AudioError(path, f"broken symbolic link (to {display_name(os.readlink(path))})") from None
        raise AudioError(path, "file not found") from None
    except PermissionError:
        raise AudioError(path, "permission denied") from None
    except OSError as exc:  # a loop of links, a path through a file, a name too long
        raise AudioError(path, f"cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioError(path, "is a folder, not an audio file")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(info.st_mode)), "a special file")
        raise AudioError(path, f"not a regular file ({kind})")
    if info.st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK, effective_ids=os.access in os.supports_effective_ids):
        raise AudioError(path, "permission denied")
    return info
