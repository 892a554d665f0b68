"""What every benchmark records beside its figures: when, on what machine, with which libraries."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BENCH_DIR = Path(tempfile.gettempdir()) / "soundtag-bench"
"""Where benchmarks keep corpora, caches and runs they make (outside the repository)."""


def machine_line() -> str:
    """CPU model and vector extensions, cores this process may use, memory and kernel."""
    model, isa = platform.processor() or "unknown CPU", "?"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
        flags = next(line for line in cpuinfo if line.startswith("flags")).split()
        isa = ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags)
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model} ({isa}), {cores} cores{memory}, {platform.system()} {platform.release()}"


def library_versions() -> str:
    """Versions of the libraries that decide the figures."""
    import numpy
    import sklearn
    import torch

    return f"python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}, " \
           f"scikit-learn {sklearn.__version__}"


def section_header(title: str) -> str:
    """Markdown heading with date, machine, command and versions."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python", "-m", f"benchmarks.{Path(sys.argv[0]).stem}", *sys.argv[1:]])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"\n## {title} — {now}\n\n- machine: {machine_line()}\n- command: `{command}`\n"
            f"- libraries: {library_versions()}\n- load average at the end (1/5/15 min): {load}\n")


def append_section(path: Path, text: str) -> None:
    """Append ``text`` to the results file (created with a title if missing)."""
    if not path.exists():
        path.write_text("# Benchmark results\n\nEach section is appended by a script in benchmarks/.\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def publish(text: str, append: Path | None) -> None:
    """Print a benchmark's results section and, with ``--append FILE``, add it to the results file."""
    print(text)
    if append:
        append_section(Path(append), text)


def experiment_parser(description: str, config: Path, out: str) -> argparse.ArgumentParser:
    """Arguments of a benchmark that runs ``soundtag experiment``: config, output and cache folders,
    ``--set`` overrides and the results file to append to."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=str(config))
    parser.add_argument("--out-dir", "--out", dest="out", default=out)
    parser.add_argument("--cache-dir", default=str(BENCH_DIR / "cache"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--append", metavar="RESULTS_MD")
    return parser


def soundtag(*args: object) -> str:
    """Run the CLI; its stdout (a failure stops the benchmark with the CLI's own message)."""
    proc = subprocess.run([sys.executable, "-m", "soundtag", *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"soundtag {' '.join(map(str, args))} failed:\n{proc.stderr.strip()}")
    return proc.stdout


def clip_ap3(run_dir: Path, cache_dir: Path) -> np.ndarray:
    """Each test clip's AP@3 (1, 1/2, 1/3 or 0) from the run's best model, in a fixed clip order."""
    import numpy as np

    from soundtag.inference import score_run

    scores = score_run(run_dir, cache_dir=str(cache_dir), progress=False)
    order = np.argsort(scores.fnames)
    ranks = (-scores.probabilities).argsort(axis=1)[:, :3]
    hits = ranks == np.asarray(scores.targets)[:, None]
    return (hits / np.arange(1, 4)).sum(axis=1)[order]
