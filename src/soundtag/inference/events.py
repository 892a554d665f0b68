"""Sound events from frame-wise class probabilities: "Dog_bark from 3.20 s to 4.10 s, peak 0.91".

Each class is read on its own (as sed_eval scores it), in the order of the double-threshold
post-processing of the DCASE sound-event baselines (Kong et al.'s ``activity_detection``):

1. **hysteresis**: an event needs a frame at or above the class's threshold ``on``; it spans the
   run of frames around that frame at or above ``off = on * hysteresis`` (``hysteresis`` 1: one
   threshold);
2. **merge**: events of one class at most ``merge_gap`` seconds apart become one;
3. **shortest event**: what is shorter than ``min_duration`` seconds is dropped.

Frame ``i`` is centred at ``times[i]`` and spans ``hop`` seconds; event times are clipped to
``[0, end]``, and an event still on in the last frame runs to ``end`` (the file's last fraction of a
frame, which no whole frame covers).

>>> probs = np.array([[0.1], [0.6], [0.9], [0.4], [0.2], [0.7], [0.1]])
>>> times = 0.25 + 0.5 * np.arange(7)
>>> [e.to_dict() for e in detect_events(probs, ["dog"], times, 0.5, thresholds=0.8, hysteresis=0.5)]
[{'label': 'dog', 'onset': 0.5, 'offset': 2.0, 'probability': 0.9}]
>>> [(e.onset, e.offset) for e in detect_events(probs, ["dog"], times, 0.5, thresholds=0.5, merge_gap=1.0)]
[(0.5, 3.0)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Event:
    """One sound event: its class, onset and offset in seconds, and its peak frame probability."""

    label: str
    onset: float
    offset: float
    probability: float

    def to_dict(self) -> dict:
        """JSON-ready form: times to the millisecond, probability to 4 decimals."""
        return {"label": self.label, "onset": round(self.onset, 3), "offset": round(self.offset, 3),
                "probability": round(self.probability, 4)}


def frame_runs(active: np.ndarray) -> np.ndarray:
    """``(start, stop)`` frame indices (stop exclusive) of each run of True in a 1-D boolean array, as
    an ``(n, 2)`` integer array.

    >>> frame_runs(np.array([True, True, False, True])).tolist()
    [[0, 2], [3, 4]]
    """
    padded = np.concatenate([[False], np.asarray(active, dtype=bool), [False]])
    return np.flatnonzero(padded[1:] != padded[:-1]).reshape(-1, 2)


def hysteresis_runs(probs: np.ndarray, on: float, off: float) -> np.ndarray:
    """The runs of frames at or above ``off`` that reach ``on`` somewhere: an event starts only where
    the probability is high, and lasts, before and after, while it stays at the lower threshold."""
    runs = frame_runs(probs >= off)
    return runs[[probs[a:b].max() >= on for a, b in runs]] if len(runs) else runs


def merge_close_runs(runs: np.ndarray, times: np.ndarray, hop: float, gap: float) -> np.ndarray:
    """``runs`` (sorted, disjoint) with those whose frames, centred at ``times`` and ``hop`` long,
    leave at most ``gap`` seconds between them joined into one.

    >>> merge_close_runs(np.array([[0, 2], [3, 4], [8, 9]]), np.arange(9.0), 1.0, gap=1.0).tolist()
    [[0, 4], [8, 9]]
    """
    if len(runs) < 2:
        return runs
    gaps = times[runs[1:, 0]] - times[runs[:-1, 1] - 1] - hop
    first = np.flatnonzero(np.concatenate([[True], gaps > gap + 1e-9]))
    last = np.concatenate([first[1:] - 1, [len(runs) - 1]])
    return np.stack([runs[first, 0], runs[last, 1]], axis=1)


def class_thresholds(thresholds: float | Sequence[float] | np.ndarray, n_classes: int) -> np.ndarray:
    """One threshold per class, from one for all or one each, checked to lie in [0, 1]."""
    values = np.asarray(thresholds, dtype=np.float64)
    if values.ndim == 0:
        values = np.full(n_classes, float(values))
    if values.shape != (n_classes,):
        raise ValueError(f"{values.size} thresholds given for {n_classes} classes")
    if not ((values >= 0) & (values <= 1)).all():  # NaN fails too
        raise ValueError(f"thresholds must lie in [0, 1], got {values.tolist()}")
    return values


def detect_events(probs: np.ndarray, labels: Sequence[str], times: np.ndarray, hop: float,
                  thresholds: float | Sequence[float] | np.ndarray, hysteresis: float = 1.0,
                  min_duration: float = 0.0, merge_gap: float = 0.0, end: float | None = None) -> list[Event]:
    """The events of ``probs`` (frames, classes), frame ``i`` centred at ``times[i]`` seconds and ``hop``
    seconds long; ``thresholds`` one for all classes or one each, ``hysteresis`` in (0, 1] (the lower
    threshold's share of the higher), ``min_duration`` and ``merge_gap`` in seconds, times clipped to
    ``[0, end]``, an event on in the last frame running to ``end`` (None: the end of the last frame).
    Sorted by onset, then label.

    A ``ValueError`` says what is wrong with an argument: probabilities not finite (e.g. all NaN), or
    not (frames, len(labels)) with one time per frame, a threshold outside [0, 1], a setting out of
    its range.
    """
    probs = np.asarray(probs, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(labels) or times.shape != (len(probs),):
        raise ValueError(f"probabilities of shape {probs.shape} and {times.size} frame times are not "
                         f"(frames, {len(labels)} classes) and one time per frame")
    if not np.isfinite(probs).all():
        raise ValueError("frame probabilities are not finite (NaN or infinity): no events can be read off them")
    if not (hop > 0 and 0 < hysteresis <= 1 and min_duration >= 0 and merge_gap >= 0):
        raise ValueError(f"need hop > 0, hysteresis in (0, 1], min_duration >= 0 and merge_gap >= 0; got "
                         f"{hop}, {hysteresis}, {min_duration}, {merge_gap}")
    on = class_thresholds(thresholds, len(labels))
    stop = times[-1] + hop / 2 if end is None and len(times) else end
    events = []
    for index, label in enumerate(labels):
        column = probs[:, index]
        runs = merge_close_runs(hysteresis_runs(column, on[index], on[index] * hysteresis), times, hop, merge_gap)
        for a, b in runs:
            onset = max(times[a] - hop / 2, 0.0)
            offset = stop if b == len(probs) else min(times[b - 1] + hop / 2, stop)
            if offset > onset and offset - onset >= min_duration - 1e-9:
                events.append(Event(label, float(onset), float(offset), float(column[a:b].max())))
    return sorted(events, key=lambda e: (e.onset, e.label))


RAVEN_COLUMNS = ("Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)",
                 "Annotation", "Probability", "Begin Path", "File Offset (s)")
"""The columns of a Raven Pro selection table as :func:`raven_selections` writes them: Raven's own
(through ``Annotation``), then the event's peak probability and, as BirdNET-Analyzer writes them, the
audio file and the selection's offset in it."""


def audacity_labels(events: Sequence[Event]) -> str:
    """An Audacity label track (File > Import > Labels): one ``onset<TAB>offset<TAB>label`` line per
    event, times in seconds with 6 decimals as Audacity exports them.

    >>> audacity_labels([Event("Bark", 1.25, 2.0, 0.9)])
    '1.250000\\t2.000000\\tBark\\n'
    """
    return "".join(f"{e.onset:.6f}\t{e.offset:.6f}\t{_one_line(e.label)}\n" for e in events)


def raven_selections(events: Sequence[Event], audio_path: str, high_freq: float) -> str:
    """A Raven Pro selection table of one audio file: a header of :data:`RAVEN_COLUMNS`, then one
    selection per event, numbered from 1, on channel 1 of ``Spectrogram 1``, spanning 0 to
    ``high_freq`` Hz."""
    rows = ["\t".join(RAVEN_COLUMNS)]
    for number, e in enumerate(events, 1):
        rows.append(f"{number}\tSpectrogram 1\t1\t{e.onset:.3f}\t{e.offset:.3f}\t0\t{high_freq:g}\t"
                    f"{_one_line(e.label)}\t{e.probability:.4f}\t{_one_line(audio_path)}\t{e.onset:.3f}")
    return "\n".join(rows) + "\n"


def _one_line(text: str) -> str:
    """``text`` with tabs and line breaks as spaces, so it stays one cell of a tab-separated line."""
    return re.sub(r"[\t\r\n]+", " ", text)
