"""soundtag.audio.ahead: items produced in a worker thread, in order, errors in place, bounded ahead."""

from __future__ import annotations

import doctest
import threading
import time

import pytest

import soundtag.audio.ahead
from soundtag.audio.ahead import read_ahead


def test_doctests():
    assert doctest.testmod(soundtag.audio.ahead).failed == 0


def test_items_come_in_order_from_another_thread():
    threads = set()

    def items():
        for i in range(50):
            threads.add(threading.get_ident())
            yield i

    assert list(read_ahead(items(), depth=3)) == list(range(50))
    assert threads and threading.get_ident() not in threads


def test_an_exception_is_raised_after_the_items_before_it():
    def items():
        yield from (1, 2)
        raise ValueError("bad file")

    got = []
    with pytest.raises(ValueError, match="bad file"):
        for item in read_ahead(items(), depth=4):
            got.append(item)
    assert got == [1, 2]


def test_the_worker_stays_at_most_depth_items_ahead():
    produced = []

    def items():
        for i in range(40):
            produced.append(i)
            yield i

    depth, lead = 3, []
    for consumed, _ in enumerate(read_ahead(items(), depth), 1):
        time.sleep(0.002)  # a slow consumer: the worker fills the queue and waits
        lead.append(len(produced) - consumed)
    assert max(lead) <= depth + 1  # the queue's items plus the one the worker holds while it waits
    assert max(lead) >= depth - 1  # it did read ahead


def test_stopping_early_stops_the_worker_and_closes_the_source():
    closed = threading.Event()

    def items():
        try:
            yield from range(1000)
        finally:
            closed.set()

    reader = read_ahead(items(), depth=2)
    assert next(reader) == 0
    reader.close()
    assert closed.wait(2)
    assert not any(t.name == "soundtag-read-ahead" and t.is_alive() for t in threading.enumerate())


def test_depth_must_be_positive():
    with pytest.raises(ValueError):
        list(read_ahead([1], depth=0))
