"""Read ahead: the items of an iterator produced in a worker thread while the caller works on the
previous ones, at most ``depth`` waiting, so decoding (soundfile and soxr leave the GIL while they
work) runs on one core while the model runs on another, in bounded memory.

>>> list(read_ahead(iter(range(5)), depth=2))
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.05
"""How often a worker waiting for room checks whether the caller has stopped reading."""


def read_ahead(items: Iterable[T], depth: int) -> Iterator[T]:
    """The items of ``items`` in order, produced by a worker thread up to ``depth`` ahead of the
    caller. An exception raised by ``items`` is raised here, after the items before it; a caller
    that stops early (``close``, an exception) stops the worker and closes ``items``."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    worker = threading.Thread(target=_produce, args=(iter(items), slots, stop), name="soundtag-read-ahead",
                              daemon=True)
    worker.start()
    try:
        while True:
            is_item, value = slots.get()
            if is_item:
                yield value  # type: ignore[misc]
            elif value is None:
                return
            else:
                raise value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _produce(items: Iterator[T], slots: queue.Queue, stop: threading.Event) -> None:
    """Put each item (``(True, item)``), then ``(False, None)`` at the end or ``(False, exception)``."""
    try:
        for item in items:
            if not _put(slots, (True, item), stop):
                return
        _put(slots, (False, None), stop)
    except BaseException as exc:  # handed to the caller, which raises it in its own thread
        _put(slots, (False, exc), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _put(slots: queue.Queue, entry: tuple[bool, object], stop: threading.Event) -> bool:
    """Put ``entry`` once there is room; False when the caller stopped reading first."""
    while not stop.is_set():
        try:
            slots.put(entry, timeout=POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False
