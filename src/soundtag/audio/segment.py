"""Cut a file of any length into fixed windows with a hop, reading it as a stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soundtag.audio.decode import AudioStream


@dataclass(frozen=True)
class Segment:
    """A window of a file: its start and end time in seconds and its mono samples."""

    start: float
    end: float
    samples: np.ndarray


def stream_segments(
    path: str | Path,
    sample_rate: int,
    window: float,
    hop: float,
    *,
    quality: str = "HQ",
    block_seconds: float = 10.0,
) -> Iterator[Segment]:
    """Yield windows of ``window`` seconds every ``hop`` seconds, holding only a few blocks in memory
    (blocks of at most ``block_seconds`` of the file, see :class:`~soundtag.audio.AudioStream`).

    The last window may be shorter than ``window``; a file shorter than one window gives one segment.
    """
    if window <= 0 or hop <= 0:
        raise ValueError("window and hop must be positive")
    win = max(1, int(round(window * sample_rate)))
    step = max(1, int(round(hop * sample_rate)))
    buffer = np.zeros(0, dtype=np.float32)
    consumed = 0  # samples (at sample_rate) dropped from the front of the buffer
    skip = 0  # samples still to drop when the hop is longer than the window
    covered = 0  # end sample of the last yielded segment
    for chunk in AudioStream(path, sample_rate, quality=quality, block_seconds=block_seconds):
        cut = min(skip, chunk.size)
        skip -= cut
        buffer = np.concatenate([buffer, chunk[cut:]])
        while buffer.size >= win and skip == 0:
            yield Segment(consumed / sample_rate, (consumed + win) / sample_rate, buffer[:win].copy())
            covered = consumed + win
            drop = min(step, buffer.size)
            buffer, skip, consumed = buffer[drop:], step - drop, consumed + step
    end = consumed + buffer.size
    if buffer.size and end > covered:
        yield Segment(consumed / sample_rate, end / sample_rate, buffer.copy())
