"""Atomic file writes: an output is either the old file or the complete new one, never half; a write
that fails (disk full, no permission, a file where a folder should be) is one line naming the output.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from soundtag.errors import SoundtagError

if TYPE_CHECKING:
    import numpy as np

DISK_FULL = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system or the file-size limit",
}
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's tofile on a full disk, without errno


class WriteError(SoundtagError, OSError):
    """An output that could not be written, as one line naming it. Also an :class:`OSError` (with the
    errno of the failure), so code that handles failed writes as OSErrors still does."""

    def __init__(self, path: str | Path, problem: str, code: int | None = None) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = str(path), problem
        self.errno, self.strerror, self.filename = code, problem, str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"

    def __reduce__(self):  # worker processes send it back pickled
        return type(self), (self.path, self.problem, self.errno)


def is_disk_full(exc: OSError) -> bool:
    """True for ENOSPC, EDQUOT and EFBIG (a file-size limit reads the same), and numpy's short write."""
    return exc.errno in DISK_FULL or (exc.errno is None and bool(_SHORT_WRITE.search(str(exc))))


def describe_os_error(exc: OSError) -> str:
    """What an OSError means, in a few lower-case words ("the disk is full (no space left on device)")."""
    if is_disk_full(exc):
        return f"the disk is full ({DISK_FULL.get(exc.errno, str(exc))})"
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def blocking_file(folder: Path) -> Path | None:
    """The nearest existing ancestor of ``folder`` (or itself) when it is not a folder: the file that
    stops ``folder`` from being made. None when nothing blocks it."""
    for place in (folder, *folder.parents):
        if place.exists() or place.is_symlink():
            return None if place.is_dir() else place
    return None


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", durable: bool = True, **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing and rename it over ``path`` on success.

    ``durable`` also fsyncs before the rename, so a power cut cannot leave an empty file behind;
    caches, which can always be recomputed, skip it for speed. Any OSError of the write itself
    (disk full, no permission, ...) becomes a :class:`WriteError` naming ``path``, and the old file
    stays as it was.
    """
    path = Path(path)
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        blocker = blocking_file(path.parent)
        reason = f"{blocker} is a file, not a folder" if blocker else describe_os_error(exc)
        raise WriteError(path, f"cannot be written, {reason}", exc.errno) from exc
    try:
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if exc.filename not in (None, tmp_name, str(path)) or isinstance(exc, SoundtagError):
            raise  # an error of another file, met inside the with block
        kept = "the previous file is unchanged" if existed else "nothing was written"
        raise WriteError(path, f"not written, {describe_os_error(exc)}; {kept}", exc.errno) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _umask() -> int:
    """The process's file-creation mask."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def atomic_save_npy(path: str | Path, array: np.ndarray, durable: bool = True) -> None:
    """Save ``array`` as ``.npy`` at ``path`` atomically."""
    import numpy as np  # not at import: the CLI's parser needs this module before any array exists

    buffer = io.BytesIO()  # numpy writes real files with fwrite, whose short writes lose the errno
    np.save(buffer, array, allow_pickle=False)
    with atomic_write(path, "wb", durable=durable) as handle:
        handle.write(buffer.getbuffer())
