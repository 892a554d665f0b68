#!/usr/bin/env python3
"""Build multi-label soundscapes from a single-label corpus (FSDKaggle2018 layout, e.g. fsd-mini).

Each soundscape is ``--seconds`` long: a background of coloured noise (white to brown, random level)
with 0 to ``--max-events`` events, each a whole clip of the corpus (cut to the soundscape's length)
placed at a random onset and scaled to a random event-to-background ratio in ``--snr`` dB
(RMS over the event's own duration against the background's). About ``--empty-share`` of the
soundscapes hold no event. Training soundscapes are made of train clips carrying their *given*
(possibly wrong) labels; test soundscapes of test clips with their labels, so the split of the
source corpus is kept. This is the meaning of Scaper's ``add_background``/``add_event`` with
``snr``, written with numpy so it needs no ``sox`` program.

Writes into OUT:

- ``audio/{train,test}/sc-NNNNN.flac`` (mono, 16-bit, ``--sample-rate``);
- ``manifest.csv`` (``fname,labels,verified,split``): the clip-level (weak) labels, comma-separated,
  empty for no event; ``verified`` is 1 when every event's source clip was verified;
- ``events.csv`` (``fname,onset,offset,label``): the strong labels, in seconds;
- ``README.md``: the command and settings that made it.

Usage (from the repository root)::

    python scripts/make_soundscapes.py ../shared/datasets/fsd-mini runs/soundscapes-corpus --train 600 --test 150

The same arguments always give the same soundscapes (every draw comes from ``--seed``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from soundtag.audio import load_audio
from soundtag.data import Clip, read_corpus
from soundtag.errors import SoundtagError


@dataclass(frozen=True)
class Event:
    """One clip placed in a soundscape."""

    label: str
    onset: float
    offset: float


def coloured_noise(samples: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    freqs = np.fft.rfftfreq(samples)
    freqs[0] = freqs[1]
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=samples)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(signal, dtype=np.float64)))) if len(signal) else 0.0


def make_soundscape(clips: list[Clip], audio: dict[str, np.ndarray], args: argparse.Namespace,
                    rng: np.random.Generator) -> tuple[np.ndarray, list[Event], bool]:
    """One soundscape: the mixture, its events, and whether every event's clip was verified."""
    length = int(round(args.seconds * args.sample_rate))
    background_db = rng.uniform(-50.0, -30.0)
    mixture = coloured_noise(length, rng.uniform(0.0, 2.0), rng) * 10 ** (background_db / 20)
    count = 0 if rng.random() < args.empty_share else int(rng.integers(1, args.max_events + 1))
    events, verified = [], True
    for clip in (clips[i] for i in rng.choice(len(clips), size=count, replace=False)):
        signal = audio[clip.fname][:length]
        start = int(rng.integers(0, length - len(signal) + 1))
        level = rms(signal)
        if level == 0.0:
            continue
        snr = rng.uniform(*args.snr)
        gain = 10 ** ((background_db + snr) / 20) / level
        mixture[start : start + len(signal)] += gain * signal
        events.append(Event(str(clip.label), start / args.sample_rate, (start + len(signal)) / args.sample_rate))
        verified = verified and bool(clip.verified if clip.verified is not None else True)
    peak = float(np.max(np.abs(mixture)))
    if peak > 0.99:
        mixture *= 0.99 / peak
    return mixture.astype(np.float32), events, verified


def build_split(name: str, clips: list[Clip], count: int, out: Path, args: argparse.Namespace,
                rng: np.random.Generator) -> tuple[list[list[str]], list[list[str]]]:
    """Write ``count`` soundscapes of one split; their manifest and event rows."""
    audio = {c.fname: load_audio(c.path, args.sample_rate) for c in clips}
    folder = out / "audio" / name
    folder.mkdir(parents=True, exist_ok=True)
    manifest, events = [], []
    for index in range(count):
        mixture, placed, verified = make_soundscape(clips, audio, args, rng)
        fname = f"audio/{name}/sc-{index + 1:05d}.flac"
        sf.write(out / fname, mixture, args.sample_rate, subtype="PCM_16")
        labels = sorted({e.label for e in placed})
        manifest.append([fname, ",".join(labels), str(int(verified)), name])
        events += [[fname, f"{e.onset:.3f}", f"{e.offset:.3f}", e.label] for e in placed]
    return manifest, events


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="single-label corpus in FSDKaggle2018 layout")
    parser.add_argument("out", type=Path, help="folder to write (must not exist or be empty)")
    parser.add_argument("--train", type=int, default=600, help="training soundscapes")
    parser.add_argument("--test", type=int, default=150, help="test soundscapes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sample-rate", type=int, default=32000)
    parser.add_argument("--max-events", type=int, default=3)
    parser.add_argument("--empty-share", type=float, default=0.15, help="share of soundscapes with no event")
    parser.add_argument("--snr", type=float, nargs=2, default=(0.0, 20.0), metavar=("LOW", "HIGH"),
                        help="event-to-background ratio range in dB")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.max_events < 1 or not 0.0 <= args.empty_share <= 1.0 or args.seconds <= 0 or args.snr[0] > args.snr[1]:
        parser.error("need --max-events >= 1, 0 <= --empty-share <= 1, --seconds > 0 and LOW <= HIGH")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print(f"make_soundscapes: {args.out} is not empty; choose a new folder", file=sys.stderr)
        return 2
    try:
        corpus = read_corpus(args.corpus)
    except SoundtagError as exc:
        print(f"make_soundscapes: {exc}", file=sys.stderr)
        return 2
    test_clips = [c for c in corpus.test if c.label]
    if not corpus.train or not test_clips:
        print(f"make_soundscapes: {args.corpus} needs labelled train and test clips", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest, events = build_split("train", corpus.train, args.train, args.out, args, rng)
    rows, more = build_split("test", test_clips, args.test, args.out, args, rng)
    write_csv(args.out / "manifest.csv", ["fname", "labels", "verified", "split"], manifest + rows)
    write_csv(args.out / "events.csv", ["fname", "onset", "offset", "label"], events + more)
    command = " ".join(["python scripts/make_soundscapes.py", *map(str, sys.argv[1:] if argv is None else argv)])
    (args.out / "README.md").write_text(
        f"# Soundscapes from {args.corpus.name}\n\nMade by `{command}`: {args.train} train and {args.test} test "
        f"soundscapes of {args.seconds:g} s at {args.sample_rate} Hz, 0-{args.max_events} events over coloured "
        f"noise at {args.snr[0]:g}-{args.snr[1]:g} dB, about {args.empty_share:.0%} without events, seed {args.seed}.\n",
        encoding="utf-8")
    empty = sum(1 for row in manifest + rows if not row[1])
    print(f"wrote {len(manifest) + len(rows)} soundscapes ({empty} without events) and {len(events) + len(more)} "
          f"events to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
