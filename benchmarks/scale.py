"""Scale benchmark: memory stays flat and time grows linearly with corpus size.

Builds corpora of 1x, 4x and 16x fsd-mini's train clips (hard links under new names, so the cache
sees new files), then measures wall time and the peak RSS of the largest process for
(1) ``soundtag features`` with a cold cache and (2) one training epoch; and tagging throughput
with 1 and 2 processes (``torchrun --nproc_per_node 2 -m soundtag tag`` shards automatically).

    python -m benchmarks.scale [--source ../shared/datasets/fsd-mini] [--factors 1 4 16]
                               [--work-dir DIR] [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import BENCH_DIR, publish, section_header

ROOT = Path(__file__).resolve().parents[1]
PEAK_WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def build_corpus(source: Path, factor: int, out: Path) -> float:
    """``factor`` copies of the source's train clips under new names; returns seconds of audio."""
    import soundfile as sf

    if out.exists():
        shutil.rmtree(out)
    (out / "audio_train").mkdir(parents=True)
    with open(source / "train.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    seconds = 0.0
    with open(out / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["fname", "label", "manually_verified"])
        for copy in range(factor):
            for row in rows:
                name = f"x{copy:02d}_{row['fname']}"
                os.link(source / "audio_train" / row["fname"], out / "audio_train" / name)
                writer.writerow([name, row["label"], row["manually_verified"]])
                if copy == 0:
                    seconds += sf.info(str(source / "audio_train" / row["fname"])).duration
    return seconds * factor


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of the largest process of ``command``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *command], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return wall, int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "datasets" / "fsd-mini")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "scale")
    parser.add_argument("--append", type=Path)
    args = parser.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    soundtag = [sys.executable, "-m", "soundtag"]
    config = str(ROOT / "configs" / "demo.yaml")
    rows, seconds, run_dir = [], [], None
    for factor in args.factors:
        corpus = args.work_dir / f"corpus-{factor}x"
        audio = build_corpus(args.source, factor, corpus)
        cache = args.work_dir / f"cache-{factor}x"
        shutil.rmtree(cache, ignore_errors=True)
        f_wall, f_rss = measure([*soundtag, "features", config, "--corpus", str(corpus), "--cache-dir", str(cache),
                                 "--quiet"], env)
        run = args.work_dir / f"run-{factor}x"
        shutil.rmtree(run, ignore_errors=True)
        t_wall, t_rss = measure([*soundtag, "train", config, "--corpus", str(corpus), "--cache-dir", str(cache),
                                 "--out-dir", str(run), "--set", "train.epochs=1", "--set", "train.val_fraction=0.05",
                                 "--quiet"], env)
        run_dir = run_dir or run
        clips = sum(1 for _ in open(corpus / "train.csv")) - 1
        seconds.append(audio)
        rows.append({"corpus": f"{factor}x fsd-mini", "clips": clips, "audio h": round(audio / 3600, 2),
                     "features s": round(f_wall, 1), "features peak MiB": round(f_rss),
                     "1 epoch s": round(t_wall, 1), "1 epoch peak MiB": round(t_rss)})
        print(rows[-1], flush=True)
    tagging = []
    folder = args.work_dir / f"corpus-{args.factors[0]}x" / "audio_train"
    audio_s = seconds[0]
    one, _ = measure([*soundtag, "tag", str(run_dir), str(folder), "--format", "jsonl", "-o",
                      str(args.work_dir / "tags.jsonl"), "--quiet"], env)
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    two, _ = measure([torchrun, "--nproc_per_node", "2", "--master_port", "29533", "-m", "soundtag", "tag",
                      str(run_dir), str(folder), "--format", "jsonl", "-o", str(args.work_dir / "tags2.jsonl"),
                      "--quiet"], env)
    for procs, wall in ((1, one), (2, two)):
        tagging.append({"processes": procs, "audio s": round(audio_s), "wall s": round(wall, 1),
                        "x real time": round(audio_s / wall)})
    frame, tag_frame = pd.DataFrame(rows), pd.DataFrame(tagging)
    base = frame.iloc[0]
    frame["features s per clip (x base)"] = (frame["features s"] / frame["clips"]
                                              / (base["features s"] / base["clips"])).round(2)
    frame["epoch s per clip (x base)"] = (frame["1 epoch s"] / frame["clips"]
                                           / (base["1 epoch s"] / base["clips"])).round(2)
    text = (section_header("Scale: memory and time against corpus size (benchmarks/scale.py)")
            + "- settings: configs/demo.yaml (log-mel 64, vgg_small 16-32-64-128), one torch thread per process, "
              "cold feature cache per corpus; wall times include process start-up\n\n"
            + frame.to_markdown(index=False) + "\n\nTagging the 1x corpus's train audio (start-up included):\n\n"
            + tag_frame.to_markdown(index=False) + "\n")
    publish(text, args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
