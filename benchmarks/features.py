"""Log-mel feature benchmark: soundtag against soundfile + soxr + librosa on real audio (fsd-mini).

Part A, the feature step: decode the first ``--clips`` train clips of fsd-mini (sorted fnames) to
mono 32 kHz with soundfile + soxr (timed on its own), then time soundtag's log-mel (the default
``LogMelConfig`` through ``extract_batch`` in chunks of 16 clips, as ``soundtag features`` calls it)
against ``librosa.feature.melspectrogram`` + ``power_to_db`` with the same settings, clip by clip.
Each side gets a warm-up pass, then the best of ``--repeats`` passes; single-threaded, the two sides
are also timed chunk by chunk, alternating (less sensitive to other load). Every thread setting runs in a
fresh subprocess of this script with OMP/MKL/OPENBLAS thread counts set in its environment (numpy's
BLAS reads them at import) and ``torch.set_num_threads``. The same run checks numerical agreement.

Part B, the whole path as a user runs it: fsd-mini's audio copied ``--copies`` times under new names
into a plain folder, then with a cold feature cache: (1) the real CLI ``soundtag features DIR
--cache-dir COLD --quiet`` (its default 2 workers) as a subprocess, and (2) a baseline in
``--workers`` processes: a ``multiprocessing.Pool`` whose workers do soundfile.read -> mono ->
soxr.resample -> librosa log-mel -> np.save. Both are timed from outside as subprocesses, startup
included. The baseline's workers are pinned to one BLAS thread each (its best setting on 2 cores) and
librosa's lazy imports are done once before the fork, so the baseline is as fast as it reasonably gets.

Other processes (tests, other benchmarks) skew timings on a small machine: before each measurement the
script waits up to ``--quiet-wait`` seconds for the machine to go quiet, reports the cores other
processes kept busy during each measurement (from /proc/stat), and flags targets judged on disturbed
measurements. Each setting runs in its own subprocess; the temporary corpus is removed at the end.

Part C, the feature cache's key (``--key-cost``; it runs alone): per clip of fsd-mini (train and
test), the time of ``soundtag.data.cache.file_key`` (stat, resolved path and a BLAKE2b of the content:
the whole file up to 1 MiB, else its first and last 256 KiB; its in-process memo cleared before every pass), of the key as it was before
the content hash (stat and resolved path only), and of a hash of only the first and last 64 KiB,
against decoding the clip and computing its log-mel (``load_audio`` + ``extract_batch``).
Single-threaded, best of ``--repeats`` passes after a warm-up, files in the page cache.

    python benchmarks/features.py [--source ../shared/datasets/fsd-mini] [--copies 8] [--clips 200]
                                  [--append benchmarks/RESULTS.md]
    python benchmarks/features.py --key-cost [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_RATE = 32000
N_FFT = 1024
HOP = 320
N_MELS = 64
FMIN = 50.0
CHUNK_CLIPS = 16  # soundtag.data.extract.CHUNK_CLIPS: clips per extract_batch call in `soundtag features`
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
TARGET_FEATURE_RATIO = 3.0
TARGET_RTF = 500.0
TARGET_WHOLE_RATIO = 2.0
DISTURBED = 0.25  # cores kept busy by other processes above which a measurement is flagged

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python benchmarks/features.py` (and its part-A children) as well as `-m`
    sys.path.insert(0, str(REPO))
DEFAULT_SOURCE = (REPO / ".." / "shared" / "datasets" / "fsd-mini").resolve()


from benchmarks.common import machine_line  # noqa: E402  (needs REPO on sys.path)


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all processes, plus time stolen by the host)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_quiet(max_wait: float, threshold: float = 0.25, window: float = 2.0) -> tuple[float, float]:
    """Wait (up to ``max_wait`` s) until other processes keep less than ``threshold`` cores busy.

    Returns (seconds waited, cores busy in the last window). Other agents may be running tests here.
    """
    start = time.perf_counter()
    while True:
        before = busy_seconds()
        time.sleep(window)
        busy = (busy_seconds() - before) / window
        waited = time.perf_counter() - start
        if busy < threshold or waited >= max_wait or busy != busy:
            return waited, busy


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARS})
    return env


# --------------------------------------------------------------------------------------- part A


def decode(path: Path):
    """soundfile + soxr: mono float32 at SAMPLE_RATE (the baseline's decode)."""
    import numpy as np
    import soundfile as sf
    import soxr

    data, sr = sf.read(path, dtype="float32", always_2d=True)
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if sr != SAMPLE_RATE:
        mono = soxr.resample(mono, sr, SAMPLE_RATE).astype(np.float32, copy=False)
    return mono


def librosa_logmel(y):
    """librosa's log-mel with soundtag's default LogMelConfig settings (top_db=None, as LogMelConfig)."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, fmin=FMIN, pad_mode="constant"
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)


def best_time(fn, repeats: int) -> tuple[float, float]:
    """Best wall time of ``repeats`` passes after a warm-up, and the cores other processes kept busy in it."""
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        busy, cpu, start = busy_seconds(), time.process_time(), time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        other = max(0.0, (busy_seconds() - busy) - (time.process_time() - cpu)) / wall
        runs.append((wall, other))
    return min(runs)


def part_a_child(source: Path, clips: int, threads: int, repeats: int) -> dict:
    """One thread setting, in a fresh process whose environment already limits BLAS/OpenMP threads."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    import librosa  # noqa: F401  (import before timing)

    from soundtag.audio import load_audio
    from soundtag.config import LogMelConfig
    from soundtag.features import build_transform, extract_batch

    paths = audio_files(source / "audio_train")[:clips]
    signals: list = []

    def run_decode() -> None:
        signals[:] = [decode(p) for p in paths]

    def run_load_audio() -> None:
        for p in paths:
            load_audio(p, SAMPLE_RATE)

    transform = build_transform(LogMelConfig(), SAMPLE_RATE)
    chunks = [list(range(i, min(i + CHUNK_CLIPS, len(paths)))) for i in range(0, len(paths), CHUNK_CLIPS)]
    ours: list = [None] * len(paths)
    theirs: list = [None] * len(paths)

    def run_soundtag() -> None:
        for chunk in chunks:
            for i, feats in zip(chunk, extract_batch(transform, [signals[i] for i in chunk])):
                ours[i] = feats

    def run_librosa() -> None:
        for i, y in enumerate(signals):
            theirs[i] = librosa_logmel(y)

    t_decode, o_decode = best_time(run_decode, repeats)
    t_load, o_load = best_time(run_load_audio, repeats)
    t_soundtag, o_soundtag = best_time(run_soundtag, repeats)
    t_librosa, o_librosa = best_time(run_librosa, repeats)

    # The same comparison timed chunk by chunk, the two sides alternating, best of 3 per chunk: a chunk
    # takes milliseconds, so some repeat of it usually runs undisturbed even while other processes are
    # busy, where a whole pass (about a second) rarely does. Less sensitive to other load, not immune.
    # With more than one thread the two sides' OpenMP/OpenBLAS pools spin-wait between calls and get in
    # each other's way when alternated, so the interleaved timing is only taken single-threaded.
    i_soundtag = i_librosa = 0.0 if threads == 1 else float("nan")
    for chunk in chunks if threads == 1 else []:
        batch = [signals[i] for i in chunk]
        best_ours = best_theirs = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            extract_batch(transform, batch)
            middle = time.perf_counter()
            for y in batch:
                librosa_logmel(y)
            end = time.perf_counter()
            best_ours, best_theirs = min(best_ours, middle - start), min(best_theirs, end - middle)
        i_soundtag += best_ours
        i_librosa += best_theirs

    max_diff = 0.0
    max_diff_80 = 0.0  # bins within 80 dB of the clip's peak (below that both sit near the amin floor)
    shape_mismatch = 0
    for a, b in zip(ours, theirs):
        if a.shape != b.shape:
            shape_mismatch += 1
            continue
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        max_diff = max(max_diff, float(diff.max()))
        loud = b >= b.max() - 80.0
        max_diff_80 = max(max_diff_80, float(diff[loud].max()))

    blas = []
    try:
        from threadpoolctl import threadpool_info

        blas = sorted({f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info()})
    except Exception:  # pragma: no cover - informational only
        pass
    return {
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "pools": blas,
        "n_clips": len(paths),
        "audio_seconds": sum(len(s) for s in signals) / SAMPLE_RATE,
        "t_decode": t_decode,
        "t_load_audio": t_load,
        "t_soundtag": t_soundtag,
        "t_librosa": t_librosa,
        "i_soundtag": i_soundtag,
        "i_librosa": i_librosa,
        "other_cores": max(o_decode, o_load, o_soundtag, o_librosa),
        "max_abs_db_diff": max_diff,
        "max_abs_db_diff_80": max_diff_80,
        "shape_mismatch": shape_mismatch,
    }


def run_part_a(args: argparse.Namespace, threads: int) -> dict:
    waited, _ = wait_quiet(args.quiet_wait)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_part-a", str(threads),
           "--source", str(args.source), "--clips", str(args.clips), "--repeats", str(args.repeats)]
    proc = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"part A ({threads} threads) failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["waited"] = waited
    return result


# --------------------------------------------------------------------------------------- part C


def key_cost(source: Path, repeats: int) -> dict:
    """Per-clip seconds of the cache key (with and without its content hash, and a whole-file hash)
    against decode + log-mel, over every fsd-mini clip."""
    import hashlib

    import torch

    torch.set_num_threads(1)
    from soundtag.audio import load_audio
    from soundtag.config import LogMelConfig
    from soundtag.data.cache import content_digest, file_key
    from soundtag.features import build_transform, extract_batch

    paths = audio_files(source / "audio_train") + audio_files(source / "audio_test")
    transform = build_transform(LogMelConfig(), SAMPLE_RATE)

    def keys() -> None:
        content_digest.cache_clear()  # every pass hashes every file, as a fresh process would
        for path in paths:
            file_key(path)

    def keys_without_content() -> None:
        for path in paths:
            stat = path.stat()
            identity = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
            hashlib.sha256(identity.encode()).hexdigest()

    def head_tail_hashes() -> None:
        for path in paths:
            content_digest.__wrapped__(str(path), path.stat().st_size, 0, 0, 0, 0, limit=0, block=64 << 10)

    def decode_and_features() -> None:
        for path in paths:
            extract_batch(transform, [load_audio(path, SAMPLE_RATE)])

    timed = {name: best_time(fn, repeats) for name, fn in (("key", keys), ("key_without_content", keys_without_content),
                                                           ("head_tail_hash", head_tail_hashes),
                                                           ("decode_features", decode_and_features))}
    sizes = [path.stat().st_size for path in paths]
    return {"n_clips": len(paths), "mean_bytes": sum(sizes) / len(sizes), "max_bytes": max(sizes),
            **{f"t_{name}": wall / len(paths) for name, (wall, _) in timed.items()},
            "other_cores": max(other for _, other in timed.values())}


def key_cost_report(result: dict, repeats: int) -> str:
    ms = {name: 1000 * result[f"t_{name}"] for name in ("key", "key_without_content", "head_tail_hash",
                                                        "decode_features")}
    decode = ms["decode_features"]
    rows = [("`file_key` (stat, path, BLAKE2b of the file up to 1 MiB, else of its ends)", ms["key"]),
            ("key before the content hash (stat, path)", ms["key_without_content"]),
            ("BLAKE2b of only the first + last 64 KiB (for comparison)", ms["head_tail_hash"]),
            ("decode + log-mel (`load_audio` + `extract_batch`)", decode)]
    lines = [f"Part C, the feature cache's key: {result['n_clips']} fsd-mini clips (train + test), mean "
             f"{result['mean_bytes'] / 1024:.0f} KiB, largest {result['max_bytes'] / 1024:.0f} KiB; one thread, best "
             f"of {repeats} passes after a warm-up, files in the page cache.", "",
             "| per clip | ms | share of decode + log-mel |", "|---|---|---|"]
    lines += [f"| {name} | {value:.4f} | {100 * value / decode:.2f} % |" for name, value in rows]
    lines.append("")
    lines.append(f"Other processes kept {result['other_cores']:.2f} cores busy meanwhile{disturbed(result['other_cores'])}.")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- part B


def baseline_one(job: tuple[str, str]) -> float:
    """soundfile.read -> mono -> soxr.resample -> librosa log-mel -> np.save; returns audio seconds."""
    import numpy as np

    path, out = job
    y = decode(Path(path))
    np.save(out, librosa_logmel(y))
    return len(y) / SAMPLE_RATE


def baseline_child(corpus: Path, out_dir: Path, workers: int) -> dict:
    """The baseline pipeline as a user would write it: a process pool over the files."""
    import multiprocessing

    import numpy as np

    start = time.perf_counter()
    # librosa loads its submodules (scipy.signal, numba, ...) on first use: about 2 CPU-seconds. Do it
    # once here, before the fork, rather than once per worker, as soundtag imports torch before its pool.
    librosa_logmel(np.zeros(SAMPLE_RATE, dtype=np.float32))
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(out_dir / f"{p.stem}.npy")) for p in audio_files(corpus)]
    with multiprocessing.Pool(workers) as pool:
        seconds = sum(pool.imap_unordered(baseline_one, jobs, chunksize=CHUNK_CLIPS))
        pool.close()
        pool.join()
    return {"n_files": len(jobs), "audio_seconds": seconds, "elapsed": time.perf_counter() - start}


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds, CPU seconds (the process and its reaped children) and the finished process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = busy_seconds()
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    busy = busy_seconds() - busy
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    proc.other_cores = max(0.0, busy - cpu) / wall  # type: ignore[attr-defined]
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {shlex.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return wall, cpu, proc


def soundtag_command() -> list[str]:
    exe = Path(sys.executable).with_name("soundtag")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "soundtag"]


def run_part_b(args: argparse.Namespace) -> dict:
    import soundfile as sf

    sources = audio_files(args.source / "audio_train") + audio_files(args.source / "audio_test")
    source_seconds = sum(sf.info(p).duration for p in sources)
    work = Path(tempfile.mkdtemp(prefix="soundtag-bench-", dir=args.work_dir))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        start = time.perf_counter()
        for k in range(args.copies):
            for src in sources:  # real copies: new paths and new inodes, so new cache identities
                shutil.copyfile(src, corpus / f"copy{k}-{src.parent.name}-{src.name}")
        copy_seconds = time.perf_counter() - start
        n_files = len(sources) * args.copies
        audio_seconds = source_seconds * args.copies

        rounds = []
        for r in range(args.rounds):
            cache = work / f"cache-cli-{r}"
            waited_cli, _ = wait_quiet(args.quiet_wait)
            load_cli = os.getloadavg()[0]
            cli = soundtag_command() + ["features", "--corpus", str(corpus), "--cache-dir", str(cache), "--quiet"]
            cli_wall, cli_cpu, proc = timed(cli)
            cached = sum(1 for _ in cache.rglob("*.npy"))
            match = re.search(r"([\d.]+) s of audio in ([\d.]+) s", proc.stdout)
            cli_reported = (float(match.group(1)), float(match.group(2))) if match else (float("nan"),) * 2
            shutil.rmtree(cache)
            own_rate = {}
            if getattr(args, "own_rate", False):  # the same, computed at each file's own rate
                wait_quiet(args.quiet_wait)
                own_rate["load_own_rate"] = os.getloadavg()[0]
                own_rate["own_rate_wall"], _, _ = timed([*cli, "--set", "features.resample=false"])
                shutil.rmtree(cache)

            out = work / f"out-baseline-{r}"
            waited_base, _ = wait_quiet(args.quiet_wait)
            load_base = os.getloadavg()[0]
            cmd = [sys.executable, str(Path(__file__).resolve()), "--_baseline", str(corpus), str(out),
                   "--workers", str(args.workers)]
            base_wall, base_cpu, bproc = timed(cmd, env=thread_env(1))
            base = json.loads(bproc.stdout.strip().splitlines()[-1])
            saved = sum(1 for _ in out.glob("*.npy"))
            shutil.rmtree(out)
            if cached != n_files or saved != n_files:
                sys.exit(f"expected {n_files} feature files, soundtag cached {cached}, baseline saved {saved}")
            rounds.append({
                "cli_wall": cli_wall, "cli_cpu": cli_cpu, "cli_reported_audio": cli_reported[0],
                "cli_reported_elapsed": cli_reported[1], "cli_stdout": proc.stdout.strip().splitlines()[0],
                "base_wall": base_wall, "base_cpu": base_cpu, "base_inner": base["elapsed"],
                "load_cli": load_cli, "load_base": load_base, "other_cli": proc.other_cores,
                "other_base": bproc.other_cores, "waited_cli": waited_cli, "waited_base": waited_base,
                **own_rate,
            })
        return {"n_files": n_files, "audio_seconds": audio_seconds, "copy_seconds": copy_seconds,
                "rounds": rounds, "work": str(work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------- report

SPIN = "\n".join([
    "import time", "t = time.perf_counter()", "x = 0", "for i in range(10_000_000):", "    x += i",
    "print(time.perf_counter() - t)",
])


def cpu_check() -> float:
    """How many cores' worth of pure-Python work 2 simultaneous processes get (2.00 = both cores free).

    A shared or oversubscribed host shows here first; the timings above are only as good as this.
    """
    def spin(n: int) -> list[float]:
        procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return [float(p.communicate()[0]) for p in procs]

    alone = min(spin(1)[0] for _ in range(2))
    together = max(spin(2))
    return 2 * alone / together



def versions() -> str:
    import librosa
    import numpy
    import soundfile
    import soxr
    import torch

    import soundtag

    return (f"soundtag {soundtag.__version__}, torch {torch.__version__}, librosa {librosa.__version__}, "
            f"soxr {soxr.__version__}, soundfile {soundfile.__version__} (libsndfile "
            f"{soundfile.__libsndfile_version__}), numpy {numpy.__version__}, Python {platform.python_version()}")


def fmt_ratio(ratio: float) -> str:
    return "n/a (1 thread only)" if ratio != ratio else f"{ratio:.2f}x"


def disturbed(other_cores: float) -> str:
    if other_cores <= DISTURBED:
        return ""
    return (f" (disturbed: other processes kept {other_cores:.2f} of the cores busy meanwhile; "
            "rerun on a quiet machine)")


def yes(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def report(args: argparse.Namespace, part_a: list[dict], part_b: dict | None, loads: dict) -> tuple[str, list[str]]:
    lines: list[str] = []
    verdicts: list[str] = []
    if part_a:
        a0 = part_a[0]
        lines += [
            f"Part A, feature step: {a0['n_clips']} fsd-mini train clips (first by sorted fname), "
            f"{a0['audio_seconds']:.1f} s of audio at {SAMPLE_RATE} Hz; n_fft {N_FFT}, hop {HOP}, {N_MELS} mels, "
            f"fmin {FMIN:g}; best of {args.repeats} after a warm-up; soundtag = `extract_batch` in chunks of "
            f"{CHUNK_CLIPS}, librosa = `melspectrogram` + `power_to_db(top_db=None)` per clip. Chunk-interleaved: "
            f"the two sides alternate chunk by chunk, best of {args.repeats} per chunk, summed.",
            "",
            "| threads | decode+resample (sf+soxr) clips/s | soundtag `load_audio` clips/s | soundtag log-mel clips/s "
            "| librosa log-mel clips/s | soundtag / librosa | same, chunk-interleaved | soundtag log-mel x real time "
            "| max abs dB diff (all / within 80 dB of peak) | other processes' cores |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for a in part_a:
            n = a["n_clips"]
            ratio = a["t_librosa"] / a["t_soundtag"]
            iratio = a["i_librosa"] / a["i_soundtag"]
            lines.append(
                f"| {a['threads']} | {n / a['t_decode']:.0f} | {n / a['t_load_audio']:.0f} | {n / a['t_soundtag']:.0f} "
                f"| {n / a['t_librosa']:.0f} | {ratio:.2f}x | {fmt_ratio(iratio)} | {a['audio_seconds'] / a['t_soundtag']:.0f}x "
                f"| {a['max_abs_db_diff']:.3g} / {a['max_abs_db_diff_80']:.3g} | {a['other_cores']:.2f} |"
            )
            verdicts.append(f"feature step >= {TARGET_FEATURE_RATIO:g}x librosa clips/s, {a['threads']} thread(s): "
                            f"{ratio:.2f}x, {yes(ratio >= TARGET_FEATURE_RATIO)}{disturbed(a['other_cores'])}; "
                            f"chunk-interleaved (less sensitive to other load): {fmt_ratio(iratio)}")
            if a["shape_mismatch"]:
                verdicts.append(f"{a['shape_mismatch']} clip(s) with a different feature shape than librosa")
        lines.append("")
        lines.append("Thread pools seen in the subprocesses: " + "; ".join(
            f"{a['threads']} thread(s): torch {a['torch_threads']}, {', '.join(a['pools']) or 'n/a'}" for a in part_a))
    if part_b:
        hours = part_b["audio_seconds"] / 3600
        lines += [
            "",
            f"Part B, whole path, cold cache: fsd-mini (train + test) copied {args.copies}x under new names into "
            f"one plain folder: {part_b['n_files']} files, {hours:.2f} h of audio. Wall time from outside, "
            f"process startup included; CPU = user+sys of the process and its workers; other processes' cores = "
            f"machine busy time (/proc/stat) minus ours, over the wall time.",
            "",
            "| round | pipeline | wall s | x real time | CPU s (cores busy) | load avg before | other processes' cores "
            "| soundtag speed-up |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(part_b["rounds"], 1):
            speed = r["base_wall"] / r["cli_wall"]
            lines.append(
                f"| {i} | `soundtag features DIR --cache-dir COLD --quiet` (2 workers) | {r['cli_wall']:.2f} "
                f"| {part_b['audio_seconds'] / r['cli_wall']:.0f}x | {r['cli_cpu']:.1f} ({r['cli_cpu'] / r['cli_wall']:.2f}) "
                f"| {r['load_cli']:.2f} | {r['other_cli']:.2f} | {speed:.2f}x |"
            )
            lines.append(
                f"| {i} | soundfile + soxr + librosa, `multiprocessing.Pool({args.workers})` | {r['base_wall']:.2f} "
                f"| {part_b['audio_seconds'] / r['base_wall']:.0f}x | {r['base_cpu']:.1f} ({r['base_cpu'] / r['base_wall']:.2f}) "
                f"| {r['load_base']:.2f} | {r['other_base']:.2f} | |"
            )
        lines.append("")
        lines.append("soundtag's own summary: " + "; ".join(f"`{r['cli_stdout']}`" for r in part_b["rounds"]))
        cli_round = min(part_b["rounds"], key=lambda r: r["cli_wall"])
        base_round = min(part_b["rounds"], key=lambda r: r["base_wall"])
        best_cli, best_base = cli_round["cli_wall"], base_round["base_wall"]
        lines.append(f"Targets use the best round of each pipeline. Files copied in {part_b['copy_seconds']:.1f} s.")
        rtf = part_b["audio_seconds"] / best_cli
        verdicts.append(f"whole path >= {TARGET_RTF:g}x real time on 2 cores: {rtf:.0f}x, {yes(rtf >= TARGET_RTF)}"
                        f"{disturbed(cli_round['other_cli'])}")
        verdicts.append(f"whole path >= {TARGET_WHOLE_RATIO:g}x faster than soundfile+soxr+librosa in "
                        f"{args.workers} processes: {best_base / best_cli:.2f}x, "
                        f"{yes(best_base / best_cli >= TARGET_WHOLE_RATIO)}"
                        f"{disturbed(max(cli_round['other_cli'], base_round['other_base']))}; CPU seconds "
                        f"(less sensitive to other load): {base_round['base_cpu'] / cli_round['cli_cpu']:.2f}x")
    lines.append("")
    rounds = part_b["rounds"] if part_b else []
    waits = [a["waited"] for a in part_a] + [r[k] for r in rounds for k in ("waited_cli", "waited_base")]
    if waits:
        lines.append(f"Waited {sum(waits):.0f} s in all (at most {args.quiet_wait:g} s per measurement) for other "
                     f"processes to go quiet.")
    lines.append(f"Load average (1 min) at start {loads['start']:.2f}, at end {loads['end']:.2f}. CPU check (pure-Python "
                 f"loop in 2 simultaneous processes, in cores' worth of work; 2.00 = both cores free): "
                 f"{loads['cpu_start']:.2f} at start, {loads['cpu_end']:.2f} at end.")
    return "\n".join(lines), verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="fsd-mini folder (FSDKaggle2018 layout)")
    parser.add_argument("--clips", type=int, default=200, help="clips for the feature-step comparison")
    parser.add_argument("--copies", type=int, default=8, help="times the corpus is copied for the whole-path run")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread settings for part A")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per side in part A (best kept)")
    parser.add_argument("--rounds", type=int, default=1, help="cold-cache rounds of part B")
    parser.add_argument("--workers", type=int, default=2, help="baseline worker processes")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the temporary corpus goes (default /tmp)")
    parser.add_argument("--skip-whole", action="store_true", help="part A only")
    parser.add_argument("--skip-features", action="store_true", help="part B only")
    parser.add_argument("--quiet-wait", type=float, default=60.0, metavar="S",
                        help="before each measurement wait up to S s for other processes to go quiet")
    parser.add_argument("--append", type=Path, metavar="MD", help="append the results to this markdown file")
    parser.add_argument("--key-cost", action="store_true", help="part C only: the cost of the feature cache's key")
    parser.add_argument("--_part-a", dest="part_a", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_baseline", dest="baseline", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.source = args.source.resolve()

    if args.part_a is not None:
        print(json.dumps(part_a_child(args.source, args.clips, args.part_a, args.repeats)))
        return 0
    if args.baseline is not None:
        print(json.dumps(baseline_child(args.baseline[0], args.baseline[1], args.workers)))
        return 0

    if not (args.source / "audio_train").is_dir():
        parser.error(f"{args.source}: no audio_train folder (expected fsd-mini)")
    if args.key_cost:
        waited, _ = wait_quiet(args.quiet_wait)
        text = (f"## Feature cache key cost (benchmarks/features.py --key-cost) — "
                f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n\n- Machine: {machine_line()}\n\n"
                + key_cost_report(key_cost(args.source, args.repeats), args.repeats)
                + f" Waited {waited:.0f} s for the machine to go quiet.\n")
        print(text)
        if args.append:
            with args.append.open("a", encoding="utf-8") as handle:
                handle.write("\n" + text)
        return 0
    started = dt.datetime.now(dt.timezone.utc)
    loads = {"start": os.getloadavg()[0], "cpu_start": cpu_check()}
    part_a = []
    for threads in [] if args.skip_features else args.threads:
        print(f"part A: {threads} thread(s) ...", file=sys.stderr, flush=True)
        part_a.append(run_part_a(args, threads))
    part_b = None
    if not args.skip_whole:
        print(f"part B: {args.copies} copies, {args.rounds} round(s) ...", file=sys.stderr, flush=True)
        part_b = run_part_b(args)
    loads["end"] = os.getloadavg()[0]
    loads["cpu_end"] = cpu_check()
    body, verdicts = report(args, part_a, part_b, loads)
    total = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
    command = "python " + shlex.join([os.path.relpath(Path(__file__).resolve(), Path.cwd())] + sys.argv[1:])
    header = [
        f"## Log-mel features: soundtag against librosa (benchmarks/features.py) — {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"- Command: `{command}` (ran {total:.0f} s)",
        f"- Machine: {machine_line()}",
        f"- Versions: {versions()}",
        "",
    ]
    footer = ["", "Targets:", ""] + [f"- {v}" for v in verdicts]
    text = "\n".join(header) + body + "\n" + "\n".join(footer) + "\n"
    print(text)
    if args.append:
        if not args.append.exists():
            args.append.parent.mkdir(parents=True, exist_ok=True)
            args.append.write_text("# soundtag benchmark results\n\nAppended by the scripts in `benchmarks/`; "
                                   "newest last.\n", encoding="utf-8")
        with args.append.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
