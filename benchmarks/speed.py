"""Speed benchmark (issue 17): the ``soundtag`` CLI as a user runs it, start-up included, against the
code before the speed work (the last commit's ``src``, unpacked with ``git archive`` under BENCH_DIR) and
against the physical floor of each figure.

1. start-up: ``soundtag tag MODEL ONE_SHORT_FILE``, best of ``--startup-repeats``, for a run folder
   and an exported ``.onnx`` file;
2. tagging: ``soundtag tag MODEL DIR -o out.jsonl`` over 10 minutes of 44.1/48 kHz FLAC (fsd-mini clips
   concatenated, resampled with soxr), PyTorch and ONNX, at ``--threads`` 1 and 2 (the code before:
   torch's own default), best of ``--repeats``; floors: decoding and resampling alone, and the model's
   forward pass alone on the same windows (one thread);
3. features: ``soundtag features`` whole path against the soundfile + soxr + librosa 2-process script
   (benchmarks/features.py part B, reused); floor: decoding and resampling alone (2 processes);
4. training: seconds per epoch per 1000 clips (configs/fsd-mini.yaml on fsd-mini, warm feature cache,
   the median of epochs 2.. of a short run), at ``--threads`` 1 and 2 and before (torch's default);
5. memory: peak RSS of ``soundtag tag`` on one FLAC file of each of ``--hours`` (accuracy-like: measured
   under any load).

The run folder is a 1-epoch run of configs/fsd-mini.yaml's model on data/demo (its weights do not
matter for speed). Timings are refused ("busy") when the 1-minute load average exceeds ``--max-load``
after waiting up to ``--max-wait`` seconds; the load before and after each measurement is recorded.

    python -m benchmarks.speed [--parts startup tag features train memory] [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import BENCH_DIR, publish, section_header

ROOT = Path(__file__).resolve().parents[1]
WORK = BENCH_DIR / "speed"
FSD_MINI = ROOT / ".." / "shared" / "datasets" / "fsd-mini"
TAG_MINUTES = 10
FILE_SECONDS = 60.0
TARGET_RTF = 500.0
TARGET_FEATURES = 2.0
PARTS = ("startup", "tag", "features", "train", "memory")


class Busy(Exception):
    """The machine is too busy to time anything."""


# --------------------------------------------------------------------------------------- set-up


def soundtag(before: bool = False) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run the CLI of this checkout, or of the code before."""
    env = dict(os.environ)
    if before:
        env["PYTHONPATH"] = str(before_tree() / "src")
    return [sys.executable, "-m", "soundtag"], env


def before_tree() -> Path:
    """The last commit's ``src`` and ``configs`` (the code before this work), unpacked once under WORK."""
    tree = WORK / "before"
    if not (tree / "src" / "soundtag").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD", "src", "configs"], check=True,
                                 capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def out_option(before: bool) -> str:
    """The run-folder option of ``soundtag train``: ``--out`` before it was renamed ``--out-dir``."""
    return "--out" if before else "--out-dir"


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return done


def fsd_mini_config(before: bool = False) -> Path:
    """configs/fsd-mini.yaml of this checkout, or of the code before (whose config reader knows its keys only)."""
    return (before_tree() if before else ROOT) / "configs" / "fsd-mini.yaml"


def model_files(before: bool = False) -> tuple[Path, Path]:
    """The run folder (trained once, by the code before or this checkout's: each reads its own runs) and its
    ONNX export."""
    run_dir, onnx = WORK / f"run{'-before' if before else ''}", WORK / f"model{'-before' if before else ''}.onnx"
    cmd, env = soundtag(before)
    if not (run_dir / "best.pt").is_file():
        run([*cmd, "train", str(fsd_mini_config(before)), "--corpus", str(ROOT / "data" / "demo"),
             "--set", "train.epochs=1", out_option(before), str(run_dir), "--cache-dir", str(WORK / "demo-cache"),
             "--quiet"], env)
    if not onnx.is_file():
        run([*cmd, "export", str(run_dir), "-o", str(onnx)], env)
    return run_dir, onnx


def flac_corpus(source: Path, minutes: float, folder: Path) -> Path:
    """``minutes`` of FLAC in files of :data:`FILE_SECONDS`, at 44.1 and 48 kHz in turn: fsd-mini train
    clips joined (resampled with soxr from their own rate)."""
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    import numpy as np
    import soundfile as sf
    import soxr

    folder.mkdir(parents=True, exist_ok=True)
    clips = sorted((source / "audio_train").iterdir())
    n_files = round(minutes * 60 / FILE_SECONDS)
    at = 0
    for index in range(n_files):
        rate = (44100, 48000)[index % 2]
        pieces, length = [], 0
        while length < FILE_SECONDS * rate:
            data, native = sf.read(clips[at % len(clips)], dtype="float32", always_2d=True)
            at += 1
            mono = data.mean(axis=1)
            piece = mono if native == rate else soxr.resample(mono, native, rate).astype(np.float32)
            pieces.append(piece)
            length += len(piece)
        signal = np.concatenate(pieces)[: int(FILE_SECONDS * rate)]
        sf.write(folder / f"long{index:02d}-{rate}.flac", signal, rate, subtype="PCM_16")
    return folder


def long_flac(base: Path, hours: float, path: Path) -> Path:
    """One FLAC file of ``hours``, written block by block from the 10-minute corpus's first file."""
    if path.is_file():
        return path
    import soundfile as sf

    block, rate = sf.read(sorted(base.iterdir())[0], dtype="float32")
    total = int(hours * 3600 * rate)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as out:
        written = 0
        while written < total:
            piece = block[: total - written]
            out.write(piece)
            written += len(piece)
    return path


# --------------------------------------------------------------------------------------- timing


def quiet(max_load: float, max_wait: float) -> float:
    """The 1-minute load average once it is at most ``max_load`` (waiting up to ``max_wait`` s); Busy else."""
    waited = 0.0
    while os.getloadavg()[0] > max_load:
        if waited >= max_wait:
            raise Busy(f"busy: 1-min load average {os.getloadavg()[0]:.2f} > {max_load}")
        time.sleep(5)
        waited += 5
    return os.getloadavg()[0]


def best_wall(cmd: list[str], env: dict[str, str], repeats: int, args: argparse.Namespace) -> dict:
    """Best wall time of ``repeats`` runs of ``cmd``, with the load average before and after."""
    load_before = quiet(args.max_load, args.max_wait)
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(cmd, env)
        walls.append(time.perf_counter() - start)
    return {"best": min(walls), "median": statistics.median(walls), "load_before": load_before,
            "load_after": os.getloadavg()[0]}


def timed_floor(fn: Callable[[], None], repeats: int, args: argparse.Namespace) -> dict:
    """Best wall time of ``fn`` in this process (after a warm-up), with the load before and after."""
    fn()
    load_before = quiet(args.max_load, args.max_wait)
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
    return {"best": min(walls), "load_before": load_before, "load_after": os.getloadavg()[0]}


def loads(result: dict) -> str:
    return f"{result['load_before']:.2f} / {result['load_after']:.2f}"


def refused(lines: list[str], label: str, exc: Busy) -> None:
    print(f"{label}: {exc}", file=sys.stderr)
    lines.append(f"| {label} | busy: not recorded ({exc}) | | |")


# --------------------------------------------------------------------------------------- parts


def part_startup(args: argparse.Namespace, run_dir: Path, onnx: Path, found: dict) -> list[str]:
    short = sorted((ROOT / "data" / "demo" / "audio_test").iterdir())[0]
    lines = ["### Start-up: `soundtag tag MODEL one-short-file` (best of "
             f"{args.startup_repeats}, seconds)", "", "| model | before | after | load before / after |",
             "|---|---|---|---|"]
    old_models = model_files(before=True)
    for name, model, old_model in (("run folder (PyTorch)", run_dir, old_models[0]),
                                   ("exported .onnx", onnx, old_models[1])):
        try:
            old = best_wall([*soundtag(True)[0], "tag", str(old_model), str(short)], soundtag(True)[1],
                            args.startup_repeats, args)
            new = best_wall([*soundtag()[0], "tag", str(model), str(short)], soundtag()[1], args.startup_repeats, args)
        except Busy as exc:
            refused(lines, name, exc)
            continue
        found[("startup", name)] = new["best"]
        lines.append(f"| {name} | {old['best']:.2f} | {new['best']:.2f} | {loads(old)}; {loads(new)} |")
    return lines


def decode_floor(folder: Path, rate: int) -> Callable[[], None]:
    from soundtag.audio import AudioStream

    def decode() -> None:
        for path in sorted(folder.iterdir()):
            for _ in AudioStream(path, rate):
                pass

    return decode


def forward_floor(tagger, folder: Path) -> Callable[[], None]:
    """The model alone on the windows tagging gives it (decoded beforehand), batch by batch."""
    from soundtag.audio import stream_segments

    windows = [seg.samples for path in sorted(folder.iterdir())
               for seg in stream_segments(path, tagger.sample_rate, tagger.file_window(), tagger.file_window())]

    def forward() -> None:
        for first in range(0, len(windows), tagger.batch_size):
            tagger.segment_probabilities(windows[first : first + tagger.batch_size])

    return forward


def part_tag(args: argparse.Namespace, run_dir: Path, onnx: Path, found: dict) -> list[str]:
    import torch

    from soundtag.inference.graph import ExportedTagger
    from soundtag.inference.tagger import Tagger

    folder = flac_corpus(args.source, TAG_MINUTES, WORK / "flac-10min")
    audio = TAG_MINUTES * 60
    out = WORK / "tags.jsonl"
    lines = [f"### `soundtag tag` over {TAG_MINUTES} min of 44.1/48 kHz FLAC ({len(list(folder.iterdir()))} files; "
             f"best of {args.repeats}; x real time = audio seconds / wall seconds, start-up included; target "
             f">= {TARGET_RTF:g}x)", "", "| model | code | threads | wall s | x real time | load before / after |",
             "|---|---|---|---|---|---|"]
    old_run, old_onnx = model_files(before=True)
    settings = [("PyTorch", run_dir, False, 1), ("PyTorch", run_dir, False, 2), ("PyTorch", old_run, True, None),
                ("ONNX", onnx, False, 1), ("ONNX", onnx, False, 2), ("ONNX", old_onnx, True, None)]
    for name, model, before, threads in settings:
        cmd, env = soundtag(before)
        cmd = [*cmd, "tag", str(model), str(folder), "-o", str(out), "--quiet"]
        cmd += ["--threads", str(threads)] if threads else []
        label = f"| {name} | {'before' if before else 'after'} | {threads or 'the runtime default'} |"
        try:
            result = best_wall(cmd, env, args.repeats, args)
        except Busy as exc:
            refused(lines, label, exc)
            continue
        found[("tag", name, before, threads)] = audio / result["best"]
        lines.append(f"{label} {result['best']:.2f} | {audio / result['best']:.0f}x | {loads(result)} |")
    torch.set_num_threads(1)
    floors = [("decoding + resampling to 32 kHz alone", decode_floor(folder, 32000)),
              ("PyTorch forward alone (1 thread)", forward_floor(Tagger.from_run(run_dir, device="cpu"), folder)),
              ("ONNX forward alone (1 thread)", forward_floor(ExportedTagger(onnx, threads=1), folder))]
    lines += ["", "Floors, in this process on the same audio (best of 3):", "",
              "| step | wall s | x real time | load before / after |", "|---|---|---|---|"]
    for name, fn in floors:
        try:
            result = timed_floor(fn, 3, args)
        except Busy as exc:
            refused(lines, name, exc)
            continue
        found[("floor", name)] = audio / result["best"]
        lines.append(f"| {name} | {result['best']:.2f} | {audio / result['best']:.0f}x | {loads(result)} |")
    return lines


def part_features(args: argparse.Namespace, found: dict) -> list[str]:
    from benchmarks import features

    lines = [f"### `soundtag features` whole path against soundfile + soxr + librosa in 2 processes (fsd-mini "
             f"x{args.copies}, cold cache; benchmarks/features.py part B; target >= {TARGET_FEATURES:g}x)", ""]
    try:
        load_before = quiet(args.max_load, args.max_wait)
        part_b = features.run_part_b(argparse.Namespace(source=args.source.resolve(), work_dir=None,
                                                        copies=args.copies, rounds=1, quiet_wait=30.0, workers=2,
                                                        own_rate=True))
        load_after = os.getloadavg()[0]
        sources = features.audio_files(args.source / "audio_train") + features.audio_files(args.source / "audio_test")

        def decode_all() -> None:
            for path in sources:
                features.decode(path)

        floor = timed_floor(decode_all, 1, args)
    except Busy as exc:
        return lines + [f"busy: not recorded ({exc})"]
    r = part_b["rounds"][0]
    audio = part_b["audio_seconds"]
    decode_2 = floor["best"] * args.copies / 2
    found["features"] = r["base_wall"] / r["cli_wall"]
    lines += ["| path | wall s | x real time | load before / after |", "|---|---|---|---|",
              f"| soundtag features (2 workers, resampling) | {r['cli_wall']:.2f} | {audio / r['cli_wall']:.0f}x | "
              f"{load_before:.2f} / {load_after:.2f} |",
              f"| soundtag features without resampling (`features.resample: false`) | {r['own_rate_wall']:.2f} | "
              f"{audio / r['own_rate_wall']:.0f}x | {r['load_own_rate']:.2f} / |",
              f"| soundfile + soxr + librosa, 2 processes | {r['base_wall']:.2f} | {audio / r['base_wall']:.0f}x | |",
              f"| floor: soundfile + soxr decoding alone, 2 processes (1 process / 2) | {decode_2:.2f} | "
              f"{audio / decode_2:.0f}x | {loads(floor)} |",
              "", f"soundtag against the script: **{r['base_wall'] / r['cli_wall']:.2f}x** with resampling, "
              f"**{r['base_wall'] / r['own_rate_wall']:.2f}x** without ({part_b['n_files']} files, "
              f"{audio / 60:.1f} min of audio)."]
    return lines


def epoch_seconds(args: argparse.Namespace, before: bool, threads: int | None) -> tuple[float, int, int | None]:
    """Median seconds of epochs 2.. of a short fsd-mini run, the training clips per epoch and the threads
    its log says it used (None: not logged)."""
    out = WORK / "train-runs" / f"{'before' if before else 'after'}-{threads}"
    shutil.rmtree(out, ignore_errors=True)
    cmd, env = soundtag(before)
    cmd = [*cmd, "train", str(fsd_mini_config(before)), "--corpus", str(args.source.resolve()),
           "--cache-dir", str(WORK / f"fsd-cache{'-before' if before else ''}"), out_option(before), str(out),
           "--set", f"train.epochs={args.epochs}", "--quiet"]
    cmd += ["--threads", str(threads)] if threads else []
    run(cmd, env)
    with open(out / "metrics.csv", newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    log = (out / "train.log").read_text()
    found = re.search(r"(\d+) train / \d+ validation clips", log)
    used = re.search(r"(\d+) CPU thread", log)  # what the default (auto) chose, where the code says
    return statistics.median(seconds[1:] or seconds), int(found.group(1)) if found else 0, used and int(used.group(1))


def part_train(args: argparse.Namespace) -> list[str]:
    lines = [f"### Training: seconds per epoch per 1000 clips (configs/fsd-mini.yaml on fsd-mini, warm cache, "
             f"median of epochs 2-{args.epochs})", "", "| code | threads | s/epoch | s/epoch/1000 clips | "
             "load before / after |", "|---|---|---|---|---|"]
    epoch_seconds(args, False, 1)  # warms the feature cache
    for before, threads in ((True, None), (False, 1), (False, 2), (False, None)):
        label = f"| {'before' if before else 'after'} | {threads or ('torch default' if before else 'default')} |"
        try:
            load_before = quiet(args.max_load, args.max_wait)
            seconds, clips, used = epoch_seconds(args, before, threads)
        except Busy as exc:
            refused(lines, label, exc)
            continue
        if threads is None and used:
            label = label[:-2] + f" ({used}) |"
        per_1000 = f"{seconds / clips * 1000:.1f}" if clips else "?"
        lines.append(f"{label} {seconds:.2f} | {per_1000} ({clips} clips) | {load_before:.2f} / "
                     f"{os.getloadavg()[0]:.2f} |")
    return lines


def part_memory(args: argparse.Namespace, run_dir: Path, onnx: Path) -> list[str]:
    from benchmarks.scale import measure

    base = flac_corpus(args.source, TAG_MINUTES, WORK / "flac-10min")
    lines = ["### Tagging peak memory (one 44.1 kHz FLAC file; peak RSS of the tagging process, MiB)", "",
             "| audio | PyTorch | ONNX |", "|---|---|---|"]
    cmd, env = soundtag()
    for hours in args.hours:
        path = long_flac(base, hours, WORK / f"long-{hours:g}h.flac")
        peaks = [measure([*cmd, "tag", str(model), str(path), "-o", str(WORK / "mem.jsonl"), "--quiet"], env)[1]
                 for model in (run_dir, onnx)]
        length = f"{hours * 60:g} min" if hours < 1 else f"{hours:g} h"
        lines.append(f"| {length} | {peaks[0]:.0f} | {peaks[1]:.0f} |")
    return lines


def verdicts(found: dict) -> list[str]:
    """The targets of issue 17 against what was measured (only those measured)."""
    lines = []
    tag = {key[1:]: value for key, value in found.items() if key[0] == "tag"}
    if tag:
        best = max(tag.items(), key=lambda item: item[1])
        lines.append(f"- tagging >= {TARGET_RTF:g}x real time: {'met' if best[1] >= TARGET_RTF else 'NOT met'} "
                     f"(best {best[1]:.0f}x: {best[0][0]}, {best[0][2] or 'default'} thread(s))")
        for threads in (1, 2):
            torch_side, onnx_side = tag.get(("PyTorch", False, threads)), tag.get(("ONNX", False, threads))
            if torch_side and onnx_side:
                lines.append(f"- ONNX at least as fast as PyTorch ({threads} thread(s)): "
                             f"{'met' if onnx_side >= torch_side else 'NOT met'} ({onnx_side / torch_side:.2f}x)")
    floors = {key[1]: value for key, value in found.items() if key[0] == "floor"}
    if floors:
        lines.append("- floors: " + "; ".join(f"{name} {value:.0f}x" for name, value in floors.items()))
    if "features" in found:
        lines.append(f"- features whole path >= {TARGET_FEATURES:g}x the librosa script: "
                     f"{'met' if found['features'] >= TARGET_FEATURES else 'NOT met'} ({found['features']:.2f}x)")
    return ["### Targets", "", *lines, ""] if lines else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--source", type=Path, default=FSD_MINI, help="fsd-mini folder")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--startup-repeats", type=int, default=5)
    parser.add_argument("--copies", type=int, default=2, help="fsd-mini copies of the features part")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of each training run")
    parser.add_argument("--hours", type=float, nargs="+", default=[1 / 6, 1.0, 10.0],
                        help="lengths of the memory part's files")
    parser.add_argument("--max-load", type=float, default=1.5, help="refuse to time above this 1-min load average")
    parser.add_argument("--max-wait", type=float, default=120.0, help="seconds to wait for a quiet machine")
    parser.add_argument("--append", metavar="RESULTS_MD")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    run_dir, onnx = model_files()
    sections: list[str] = []
    found: dict = {}
    for part in args.parts:
        if part == "startup":
            sections += part_startup(args, run_dir, onnx, found)
        elif part == "tag":
            sections += part_tag(args, run_dir, onnx, found)
        elif part == "features":
            sections += part_features(args, found)
        elif part == "train":
            sections += part_train(args)
        else:
            sections += part_memory(args, run_dir, onnx)
        sections.append("")
    sections += verdicts(found)
    publish(section_header("Speed (issue 17)") + "\n" + "\n".join(sections), args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
