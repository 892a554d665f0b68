"""What every benchmark records beside its figures: when, on what machine, with which libraries."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path


def machine_line() -> str:
    """CPU model, cores and memory of this machine."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} cores{memory}"


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
    command = " ".join(["python"] + sys.argv)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"\n## {title} — {now}\n\n- machine: {machine_line()}\n- command: `{command}`\n"
            f"- libraries: {library_versions()}\n- load average at the end (1/5/15 min): {load}\n")


def append_section(path: Path, text: str) -> None:
    """Append ``text`` to the results file (created with a title if missing)."""
    if not path.exists():
        path.write_text("# Benchmark results\n\nEach section is appended by a script in benchmarks/.\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
