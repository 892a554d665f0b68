"""The review's decisions on disk: ``REVIEW_DIR/reviewed.csv``, appended one durable line at a time.

Each decision is one ``write`` of one whole line to the file opened with ``O_APPEND``, then ``fsync``:
a decision the page was told is saved survives a kill or a power cut. A write cut off half-way leaves
a last line without its newline, which readers ignore (:func:`soundtag.data.reviewed.read_decisions`)
and the next :class:`DecisionLog` cuts off before it appends, so a crash loses at most the decision
being written. Undo is a row of its own (``undo``), never a rewrite: the file is a complete history,
and replaying it gives the decisions still standing (:func:`soundtag.data.reviewed.standing_history`).
"""

from __future__ import annotations

import datetime
import errno
import os
import threading
from pathlib import Path

from soundtag.data.reviewed import (
    DECISIONS,
    UNDO,
    Decision,
    complete_text,
    header_line,
    read_decisions,
    standing_history,
)
from soundtag.errors import SoundtagError

REVIEWED_FILE = "reviewed.csv"


def utc_now() -> str:
    """The time of a decision: UTC, ISO 8601, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class DecisionLog:
    """The decisions of one review folder: read at start (a torn last line cut off), then appended to.
    Safe to call from several threads."""

    def __init__(self, review_dir: str | Path) -> None:
        self.path = Path(review_dir) / REVIEWED_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.torn = cut_torn_line(self.path)
        self.history = standing_history(read_decisions(self.path)) if self.path.stat().st_size else []
        self._lock = threading.Lock()

    @property
    def decided(self) -> dict[str, Decision]:
        """Each reviewed clip's standing decision."""
        return {decision.fname: decision for decision in self.history}

    def record(self, fname: str, decision: str, label: str = "") -> Decision:
        """Append one decision (``accept``, ``relabel``, ``none`` or ``skip``) durably and return it."""
        if decision not in DECISIONS:
            raise SoundtagError(f"unknown decision {decision!r} (known: {', '.join(DECISIONS)})")
        made = Decision(fname, decision, label, utc_now())
        with self._lock:
            append_line(self.path, made.csv_line())
            self.history.append(made)
        return made

    def undo(self) -> Decision | None:
        """Take back the latest standing decision (an ``undo`` row); the decision taken back, or None."""
        with self._lock:
            if not self.history:
                return None
            last = self.history[-1]
            append_line(self.path, Decision(last.fname, UNDO, "", utc_now()).csv_line())
            self.history.pop()
        return last


def cut_torn_line(path: Path) -> bool:
    """Create ``path`` with its header line when missing; cut off a last line left without its newline by
    a write that was interrupted. True when a line was cut off."""
    if not path.exists() or path.stat().st_size == 0:
        append_line(path, header_line())
        fsync_folder(path.parent)
        return False
    data = path.read_bytes()
    keep = len(complete_text(data).encode("utf-8"))
    if keep == len(data):
        return False
    with open(path, "r+b") as handle:
        handle.truncate(keep)
        os.fsync(handle.fileno())
    return True


def append_line(path: Path, line: str) -> None:
    """Write ``line`` at the end of ``path`` in one ``write`` and ``fsync`` it; a short write (a full disk)
    is cut off again and raised, so the next line never joins a torn one."""
    data = line.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        if os.write(fd, data) != len(data):
            os.ftruncate(fd, size)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make a new file's name in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
