"""Cut a file of any length into fixed windows with a hop, reading it as a stream.

The windows of a file (:class:`Windower`): full windows of ``window`` seconds every ``hop`` seconds
(``hop`` at most ``window``, so no audio goes unseen), then the trailing piece that is left, if any.
A trailing piece shorter than half a window is not a window of its own: it joins the window before
it, whose end extends to the end of the file (a file shorter than one window is one segment).

>>> [(s.start, s.end) for s in split_signal(np.zeros(23), 10, 1.0, 1.0)]
[(0.0, 1.0), (1.0, 2.3)]
>>> [(s.start, s.end) for s in split_signal(np.zeros(27), 10, 1.0, 1.0)]
[(0.0, 1.0), (1.0, 2.0), (2.0, 2.7)]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soundtag.audio.decode import AudioStream, RateChoice

BLOCK_SECONDS = 10.0
"""The longest block of a file decoded at a time while cutting it into windows (see :class:`AudioStream`)."""


@dataclass(frozen=True)
class Segment:
    """A window of a file: its start and end time in seconds and its mono samples at ``sample_rate``."""

    start: float
    end: float
    samples: np.ndarray
    sample_rate: int


class Windower:
    """Cuts a stream of sample chunks (at ``sample_rate``) into the windows of the module's rule,
    holding one window back until it is known whether the trailing piece joins it."""

    def __init__(self, sample_rate: int, window: float, hop: float) -> None:
        if not (window > 0 and hop > 0):
            raise ValueError("window and hop must be positive")
        if hop > window * (1 + 1e-9):
            raise ValueError(f"a hop of {hop:g} s is longer than the window of {window:g} s: "
                             "the audio between windows would be skipped")
        self.sample_rate = sample_rate
        self.win = max(1, int(round(window * sample_rate)))
        self.step = min(self.win, max(1, int(round(hop * sample_rate))))
        self.buffer = np.zeros(0, dtype=np.float32)
        self.consumed = 0  # samples dropped from the front of the buffer
        self.held: Segment | None = None

    def push(self, chunk: np.ndarray) -> list[Segment]:
        """The windows that ``chunk`` completes (all but the newest full one, which is held back)."""
        self.buffer = np.concatenate([self.buffer, np.asarray(chunk, dtype=np.float32)])
        done = []
        while self.buffer.size >= self.win:
            window = Segment(self.consumed / self.sample_rate, (self.consumed + self.win) / self.sample_rate,
                             self.buffer[: self.win].copy(), self.sample_rate)
            if self.held is not None:
                done.append(self.held)
            self.held = window
            self.buffer, self.consumed = self.buffer[self.step :], self.consumed + self.step
        return done

    def finish(self) -> list[Segment]:
        """The windows left at the end of the stream: the held one (extended by a short trailing piece)
        and the trailing piece when it is a window of its own."""
        end = (self.consumed + self.buffer.size) / self.sample_rate
        held, self.held = self.held, None
        if held is None:
            return [Segment(0.0, end, self.buffer.copy(), self.sample_rate)] if self.buffer.size else []
        beyond = self.buffer[self.win - self.step :]  # samples after the held window's end
        if not beyond.size:
            return [held]
        if 2 * self.buffer.size < self.win:
            return [Segment(held.start, end, np.concatenate([held.samples, beyond]), self.sample_rate)]
        return [held, Segment(self.consumed / self.sample_rate, end, self.buffer.copy(), self.sample_rate)]


def stream_windows(
    path: str | Path,
    sample_rate: RateChoice,
    layouts: Sequence[tuple[float, float]],
    *,
    quality: str = "HQ",
    block_seconds: float = BLOCK_SECONDS,
) -> Iterator[tuple[int, Segment]]:
    """The windows of several ``(window, hop)`` layouts of one file decoded once: ``(layout index,
    segment)`` pairs, each layout's in time order."""
    yield from stream_layouts(AudioStream(path, sample_rate, quality=quality, block_seconds=block_seconds), layouts)


def stream_layouts(stream: AudioStream, layouts: Sequence[tuple[float, float]]) -> Iterator[tuple[int, Segment]]:
    """:func:`stream_windows` of an :class:`~soundtag.audio.AudioStream` made by the caller, who reads its
    :attr:`~soundtag.audio.AudioStream.decoded_seconds` afterwards. The windows are cut at the rate
    the stream decodes the file at (:attr:`~soundtag.audio.AudioStream.output_rate`)."""
    windowers: list[Windower] = []
    for chunk in stream:
        if not windowers:
            windowers = [Windower(stream.output_rate, window, hop) for window, hop in layouts]
        for index, windower in enumerate(windowers):
            for segment in windower.push(chunk):
                yield index, segment
    for index, windower in enumerate(windowers):
        for segment in windower.finish():
            yield index, segment


def stream_segments(
    path: str | Path,
    sample_rate: RateChoice,
    window: float,
    hop: float,
    *,
    quality: str = "HQ",
    block_seconds: float = BLOCK_SECONDS,
) -> Iterator[Segment]:
    """Yield windows of ``window`` seconds every ``hop`` seconds (see the module's rule), holding only a
    few blocks in memory (blocks of at most ``block_seconds`` of the file, see
    :class:`~soundtag.audio.AudioStream`)."""
    for _, segment in stream_windows(path, sample_rate, [(window, hop)], quality=quality,
                                     block_seconds=block_seconds):
        yield segment


def split_signal(samples: np.ndarray, sample_rate: int, window: float, hop: float) -> list[Segment]:
    """The windows of a waveform already in memory, by the same rule as :func:`stream_segments`."""
    windower = Windower(sample_rate, window, hop)
    return windower.push(np.asarray(samples, dtype=np.float32)) + windower.finish()
