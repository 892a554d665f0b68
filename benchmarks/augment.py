"""Cost of the recording-chain augmentations (issue 15, part 3): a cached bank of variants, or on the fly?

Decodes the first ``--clips`` train clips of fsd-mini (sorted names) at 32 kHz, then times on one
thread, best of ``--repeats`` passes over all of them, each transform of ``soundtag.audio.augment`` in
milliseconds per second of audio; the whole chain with every ingredient on; decoding and the log-mel
of ``configs/fsd-mini.yaml`` (the rest of what a variant costs); reading one clip's cached features
(what a cached variant costs an epoch); and, once, the bank's room responses. From these it projects
one epoch over fsd-mini's train clips (their total duration) with the chain on the fly, against
reading cached variants, and the bank's one-off cost.

Timings are only worth recording on a quiet machine: the script waits up to ``--quiet-wait`` seconds
for the 1-minute load average to fall below ``QUIET_LOAD``; if it does not, it prints the figures,
says the machine was busy, and does not append them.

    python -m benchmarks.augment [--clips 40] [--repeats 3] [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import BENCH_DIR, publish, section_header

ROOT = Path(__file__).resolve().parents[1]
FSD_MINI = ROOT.parent / "shared" / "datasets" / "fsd-mini"
CONFIG = ROOT / "configs" / "fsd-mini.yaml"
QUIET_LOAD = 1.5
SR = 32000


def wait_for_quiet(max_wait: float) -> float:
    """Wait up to ``max_wait`` s for the 1-min load average to fall below QUIET_LOAD; the last load seen."""
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] >= QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(10)
    return os.getloadavg()[0]


def best_seconds(work: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``work`` (after one warm-up call)."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def transforms(rng_seed: int = 0) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Each transform with typical settings, as a function of a signal."""
    from soundtag.audio import augment as a

    rir = a.shoebox_rir(np.random.default_rng(rng_seed), SR, 0.5)
    noise = (0.05 * np.random.default_rng(rng_seed).standard_normal(5 * SR)).astype(np.float32)
    return {
        "reverberation (rt60 0.5 s)": lambda x: a.reverberate(x, rir),
        "random EQ": lambda x: a.random_eq(x, np.random.default_rng(rng_seed), SR, 6.0),
        "band limit": lambda x: a.band_limit(x, SR, 200.0, 6000.0),
        "saturation": lambda x: a.saturate(x, 6.0),
        "MP3 round trip": lambda x: a.codec_round_trip(x, SR, "mp3", 0.8),
        "Ogg Vorbis round trip": lambda x: a.codec_round_trip(x, SR, "ogg", 0.8),
        "background at 10 dB SNR": lambda x: a.mix_at_snr(x, noise, 10.0),
        "pitch shift (+1.5 semitones)": lambda x: a.pitch_shift(x, SR, 1.5),
        "time stretch (x1.1)": lambda x: a.time_stretch(x, 1.1),
    }


def measure(args: argparse.Namespace) -> dict:
    """Every timing, per second of audio (ms) or per clip (ms), and the bank's one-off seconds."""
    import torch

    from soundtag.audio import load_audio
    from soundtag.config import ChainAugmentConfig, load_config
    from soundtag.data import FeatureCache, read_corpus
    from soundtag.data.variants import augment_chain, room_responses
    from soundtag.features import build_transform, extract_batch

    torch.set_num_threads(1)
    config = load_config(CONFIG)
    corpus = read_corpus(FSD_MINI)
    clips = sorted(corpus.train, key=lambda c: c.fname)[: args.clips]
    signals = [load_audio(c.path, SR) for c in clips]
    seconds = sum(len(s) for s in signals) / SR

    def per_second(work: Callable[[np.ndarray], object]) -> float:
        return 1000 * best_seconds(lambda: [work(s) for s in signals], args.repeats) / seconds

    row = {name: per_second(fn) for name, fn in transforms().items()}
    chain = ChainAugmentConfig(**{name: 1.0 for name in ChainAugmentConfig.INGREDIENTS})
    start = time.perf_counter()
    rirs = room_responses(chain, SR)
    bank_seconds = time.perf_counter() - start
    noise = np.concatenate(signals)[: 10 * SR] * 0.1
    rng = np.random.default_rng(0)
    row["whole chain, every ingredient on"] = per_second(
        lambda x: augment_chain(x, rng, chain, SR, rirs, noise, pitched=True))
    transform = build_transform(config.features, SR)
    row["decoding (soundfile + soxr)"] = 1000 * best_seconds(
        lambda: [load_audio(c.path, SR) for c in clips], args.repeats) / seconds
    row["log-mel (fsd-mini.yaml)"] = 1000 * best_seconds(
        lambda: [extract_batch(transform, signals[i : i + 16]) for i in range(0, len(signals), 16)],
        args.repeats) / seconds
    cache = FeatureCache(BENCH_DIR / "augment-cache", config.audio, config.features)
    for clip, feats in zip(clips, extract_batch(transform, signals)):
        cache.save(clip.path, feats)
    read_ms = 1000 * best_seconds(lambda: [cache.load(c.path) for c in clips], args.repeats) / len(clips)
    return {"rows": row, "read_ms": read_ms, "rirs": (len(rirs), bank_seconds), "clips": len(clips),
            "seconds": seconds, "train_seconds": train_audio_seconds(corpus), "train_clips": len(corpus.train)}


def train_audio_seconds(corpus) -> float:
    """Total duration of fsd-mini's train clips (from their headers)."""
    from soundtag.audio import audio_info

    return sum(audio_info(c.path).duration for c in corpus.train)


def report(args: argparse.Namespace, m: dict, load: float) -> str:
    """The results section: the per-transform table and the projection."""
    rows = m["rows"]
    lines = [section_header("Recording-chain augmentation cost (benchmarks/augment.py)"),
             f"- {m['clips']} fsd-mini train clips ({m['seconds']:.0f} s of audio) at 32 kHz, one thread, best of "
             f"{args.repeats} passes after a warm-up; 1-min load average before measuring {load:.2f}",
             "", "| step | ms per second of audio |", "|---|---:|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in rows.items()]
    chain, fixed = rows["whole chain, every ingredient on"], rows["decoding (soundfile + soxr)"] + rows[
        "log-mel (fsd-mini.yaml)"]
    audio, clips = m["train_seconds"], m["train_clips"]
    n_rirs, rir_seconds = m["rirs"]
    fly = audio * (fixed + 0.5 * chain) / 1000  # half the clips of an epoch augmented (clean_share 0.5)
    cached = clips * m["read_ms"] / 1000
    lines += ["", f"- reading one clip's cached features: {m['read_ms']:.2f} ms",
              f"- the bank's {n_rirs} room responses (pyroomacoustics, rt60 0.2-0.8 s): {rir_seconds:.1f} s once",
              f"- one epoch of fsd-mini's {clips} train clips ({audio:.0f} s of audio), half of them augmented with "
              f"every ingredient on: {fly:.1f} s of one core on the fly (decode + chain + log-mel) against "
              f"{cached:.2f} s reading cached variants; the bank of 4 variants costs "
              f"{4 * audio * (chain + rows['log-mel (fsd-mini.yaml)']) / 1000:.0f} s of one core once"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quiet-wait", type=float, default=600.0, help="seconds to wait for a quiet machine")
    parser.add_argument("--append", type=Path, metavar="RESULTS_MD")
    args = parser.parse_args(argv)
    load = wait_for_quiet(args.quiet_wait)
    measured = measure(args)
    load = max(load, os.getloadavg()[0])
    text = report(args, measured, load)
    if load >= QUIET_LOAD:
        print(text)
        print(f"the machine was busy (1-min load average {load:.2f} >= {QUIET_LOAD}): timings not recorded")
        return 1
    publish(text, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
