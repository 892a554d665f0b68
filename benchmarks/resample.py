"""Log-mel at each file's own rate (``features.resample: false``) against resampling to
``audio.sample_rate`` first, on fsd-mini (clips at 16, 32, 44.1 and 48 kHz): how far the dB values
lie apart, what the feature step costs either way, and test MAP@3 of ``configs/fsd-mini.yaml``
trained with each.

    python -m benchmarks.resample [--parts tolerance training] [--seeds 2018 7] [--append benchmarks/RESULTS.md]

The dB differences are over the values within 60 dB of each clip's loudest (quieter ones sit on the
floor, where a dB difference says nothing of the sound), per source rate and per mel band; frames
are compared up to the shorter of the two (the counts may differ by one frame). Training runs each
seed with both settings; the SE of a MAP@3 difference is over the same test clips (paired).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.common import BENCH_DIR, clip_ap3, publish, section_header, soundtag

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "fsd-mini.yaml"
CORPUS = ROOT.parent / "shared" / "datasets" / "fsd-mini"
LOUD_DB = 60.0


def both_features(config_path: Path, files: list[Path]) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Per source rate, each clip's (resampled, own-rate) log-mel of the config's feature settings."""
    import soundfile as sf

    from soundtag.audio import load_audio
    from soundtag.config import load_config
    from soundtag.features import build_transform, extract_batch

    config = load_config(config_path)
    config.features.resample = False
    transform = build_transform(config.features, config.audio.sample_rate)
    pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for path in files:
        rate = sf.info(path).samplerate
        resampled = extract_batch(transform, [load_audio(path, config.audio.sample_rate)])[0]
        own = extract_batch(transform.at_rate(transform.decode_rate(rate)), [load_audio(path, transform.decode_rate)])[0]
        pairs[rate].append((resampled, own))
    return pairs


def differences(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, int]:
    """The dB differences (own - resampled) of the loud values, each band's mean absolute difference
    over them, and how many clips' frame counts differ."""
    loud, per_band, counts = [], [], 0
    for resampled, own in pairs:
        n = min(resampled.shape[1], own.shape[1])
        counts += resampled.shape[1] != own.shape[1]
        diff = own[:, :n] - resampled[:, :n]
        mask = resampled[:, :n] >= resampled.max() - LOUD_DB
        loud.append(diff[mask])
        per_band.append(np.where(mask, np.abs(diff), np.nan))
    bands = np.nanmean(np.concatenate(per_band, axis=1), axis=1)
    return np.concatenate(loud), bands, counts


def feature_seconds(config_path: Path, files: list[Path], resample: bool) -> float:
    """Best of 3 wall seconds to decode every file and compute its features, one thread, in process."""
    import torch

    from soundtag.audio import AudioStream
    from soundtag.config import load_config
    from soundtag.features import build_transform, extract_batch

    torch.set_num_threads(1)
    config = load_config(config_path)
    config.features.resample = resample
    transform = build_transform(config.features, config.audio.sample_rate)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for path in files:
            stream = AudioStream(path, transform.decode_rate, quality=config.audio.resample_quality)
            signal = np.concatenate(list(stream))
            extract_batch(transform.at_rate(stream.output_rate), [signal])
        best = min(best, time.perf_counter() - start)
    return best


def tolerance_section(config_path: Path, corpus: Path) -> str:
    """dB differences per source rate and band, and the feature step's time either way."""
    import os

    import soundfile as sf

    files = sorted((corpus / "audio_train").glob("*.flac")) + sorted((corpus / "audio_test").glob("*.flac"))
    pairs = both_features(config_path, files)
    rows = ["| source rate | clips | computed at | median abs dB | p95 abs dB | p99 abs dB | mean dB | frame counts differ |",
            "|---|---|---|---|---|---|---|---|"]
    every = []
    for rate in sorted(pairs):
        loud, _, counts = differences(pairs[rate])
        every.extend(pairs[rate])
        at = "own rate" if any(own.shape != res.shape or not np.array_equal(own, res) for res, own in pairs[rate]) else "32 kHz (same path)"
        rows.append(f"| {rate} Hz | {len(pairs[rate])} | {at} | {np.median(np.abs(loud)):.3f} | "
                    f"{np.percentile(np.abs(loud), 95):.3f} | {np.percentile(np.abs(loud), 99):.3f} | {loud.mean():+.3f} | {counts} |")
    changed = [pair for rate, items in pairs.items() for pair in items if rate != 32000]
    loud, bands, counts = differences(changed)
    rows.append(f"| all but 32 kHz | {len(changed)} | own rate | {np.median(np.abs(loud)):.3f} | "
                f"{np.percentile(np.abs(loud), 95):.3f} | {np.percentile(np.abs(loud), 99):.3f} | {loud.mean():+.3f} | {counts} |")
    band_line = ", ".join(f"{b:.2f}" for b in bands)
    load_before = os.getloadavg()[0]
    resampled_s = feature_seconds(config_path, files, True)
    own_s = feature_seconds(config_path, files, False)
    load_after = os.getloadavg()[0]
    audio = sum(sf.info(p).duration for p in files)
    return ("\n### dB of the log-mel at each file's own rate against resampling first\n\n"
            f"`{config_path.relative_to(ROOT)}` features on fsd-mini's {len(files)} clips; values within "
            f"{LOUD_DB:g} dB of each clip's loudest.\n\n" + "\n".join(rows) +
            f"\n\nMean absolute dB difference per mel band (low to high), clips not at 32 kHz: {band_line}.\n\n"
            f"Decoding + features, one thread in one process, best of 3 (load {load_before:.2f} / {load_after:.2f}): "
            f"resampling {resampled_s:.2f} s ({audio / resampled_s:.0f}x real time), own rate {own_s:.2f} s "
            f"({audio / own_s:.0f}x), ratio {resampled_s / own_s:.2f}x.\n")


def training_section(config_path: Path, cache_dir: Path, out: Path, seeds: list[int]) -> str:
    """Test MAP@3 of the config trained with each setting and seed, with paired SEs of the difference."""
    lines = ["| seed | resample: true (SE) | resample: false (SE) | difference (paired SE) | epochs true / false |",
             "|---|---|---|---|---|"]
    diffs = []
    for seed in seeds:
        scores, epochs = {}, {}
        for resample in (True, False):
            run_dir = out / f"seed{seed}-resample-{str(resample).lower()}"
            if not (run_dir / "best.pt").is_file():
                soundtag("train", config_path, "--cache-dir", cache_dir, "--out-dir", run_dir, "--quiet",
                         "--set", f"seed={seed}", "--set", f"features.resample={str(resample).lower()}")
            epochs[resample] = len((run_dir / "metrics.csv").read_text().splitlines()) - 1  # early stopping
            scores[resample] = clip_ap3(run_dir, cache_dir)
        diff = scores[False] - scores[True]
        diffs.append(diff)
        se = {k: v.std(ddof=1) / np.sqrt(len(v)) for k, v in scores.items()}
        lines.append(f"| {seed} | {scores[True].mean():.4f} ({se[True]:.4f}) | {scores[False].mean():.4f} "
                     f"({se[False]:.4f}) | {diff.mean():+.4f} ({diff.std(ddof=1) / np.sqrt(len(diff)):.4f}) | "
                     f"{epochs[True]} / {epochs[False]} |")
    pooled = np.mean(diffs, axis=0)
    return ("\n### Test MAP@3 of configs/fsd-mini.yaml with and without resampling\n\n" + "\n".join(lines) +
            f"\n\nMean over seeds: {pooled.mean():+.4f} (paired SE {pooled.std(ddof=1) / np.sqrt(len(pooled)):.4f}); "
            "on 127 test clips a difference under about 0.03 is noise.\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=("tolerance", "training"), default=["tolerance", "training"])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[2018])
    parser.add_argument("--out-dir", type=Path, default=BENCH_DIR / "resample")
    parser.add_argument("--cache-dir", type=Path, default=BENCH_DIR / "resample" / "cache")
    parser.add_argument("--append", type=Path)
    args = parser.parse_args(argv)
    text = ""
    if "tolerance" in args.parts:
        text += tolerance_section(args.config.resolve(), args.corpus)
    if "training" in args.parts:
        text += training_section(args.config.resolve(), args.cache_dir, args.out_dir, args.seeds)
    publish(section_header("Log-mel without resampling (issue 17, part 4)") + text, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
