"""Bad input end to end: broken files of every format, odd rates, channel counts and lengths, a
1-hour file, hostile CSVs and unreadable files, headers that lie, names that are not UTF-8, pipes,
devices and broken links, silence and samples too loud to be audio, fed to ``soundtag tag`` /
``soundtag features`` and to the Python API, plus property tests of the CSV reader and of the
features at random settings.

Every case must end the same way: one clear line naming the file, every other file still processed,
exit code 0, and no output half-written. What the unit tests already cover is not repeated here:
WAV-only bad files through ``load_audio`` (tests/audio/test_decode.py), single hostile CSV rows
through ``read_corpus`` (tests/data/test_corpus.py), ``soundtag features`` on a corpus with a
corrupt and a NaN file (tests/cli/test_features_cli.py) and the transforms at their default
settings (tests/features/test_transforms.py).

The CLI runs in this process (``soundtag.cli.main.main``) except for the 1-hour memory checks and
the unreadable file as another user, which need their own processes. Output is captured at the file
descriptor level because libmpg123 prints its own warnings straight to stderr.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import stat
import string
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given
from hypothesis import strategies as st

from soundtag.audio import MAX_PEAK, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, display_name, load_audio
from soundtag.audio.decode import BLOCK_SAMPLES
from soundtag.cli.main import main
from soundtag.config import LogMelConfig, MfccConfig, RawConfig, SpectrogramConfig, load_config
from soundtag.data import FeatureCache, cache_features, read_corpus
from soundtag.errors import AudioError, ConfigError, CorpusError
from soundtag.features import build_transform, extract_batch
from soundtag.training import start_run
from tests.helpers import DEMO, documented_shape, sine, write_nan_wav, write_rows
from tests.training.tiny_run import shared_cache_dir, single_thread_torch, subprocess_env, tiny_config

SR = 16000
GOOD_SECONDS = 1.5  # two segments of the tiny run's 1 s window

# soundfile.write arguments of each format, and how many leading bytes are its magic
# (RIFF....WAVE, fLaC, OggS, an mp3 frame sync)
FORMATS = {
    "wav": {"subtype": "PCM_16"},
    "flac": {},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
    "mp3": {"format": "MP3"},
}
MAGIC = {"wav": 12, "flac": 4, "ogg": 4, "mp3": 2}
LOSSLESS = ("wav", "flac")

# bad files of every format, and the words their one-line reason must contain
BAD_KINDS = ("truncated-header", "corrupt-header", "empty", "zero-frames")
EXPECTED_PROBLEM = {
    "empty": "empty file",
    "truncated-header": "not a readable audio file",
    "corrupt-header": "not a readable audio file",
    "text.wav": "not a readable audio file",
    "nan.wav": "NaN or infinite",
    "inf.wav": "NaN or infinite",
    "zero-frames.wav": "no audio samples",
    "zero-frames.ogg": "no audio samples",
    "zero-frames.mp3": "not a readable audio file",
    # libsndfile cannot read a FLAC stream without frames: its own words follow
    "zero-frames.flac": "corrupt audio data",
}

# what libmpg123 itself prints to stderr about broken mp3s (not soundtag's to shorten)
FOREIGN_STDERR = re.compile(r"^(\[src/libmpg123/|Note: |Warning: Xing stream size)")


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny demo run trained for one epoch (1 s windows of 32 mel bands)."""
    path = tmp_path_factory.mktemp("bad-input-run")
    start_run(tiny_config(shared_cache_dir(tmp_path_factory), "train.epochs=1"), path, progress=False)
    return path


# --- a folder of bad and good files of every format --------------------------------------------------


def junk(size: int) -> bytes:
    """Random bytes with no 0xFF among them, so an mp3 decoder finds no frame sync to resynchronise on."""
    return np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8).tobytes()


def flac_without_frames(data: bytes) -> bytes:
    """The metadata blocks of a FLAC file, with STREAMINFO's sample count set to 0: no audio."""
    end = 4
    while True:
        header, length = data[end], int.from_bytes(data[end + 1 : end + 4], "big")
        end += 4 + length
        if header & 0x80:  # last metadata block
            break
    head = bytearray(data[:end])
    head[8 + 13] &= 0xF0  # STREAMINFO starts at byte 8; the sample count is its last 36 bits of 144
    head[8 + 14 : 8 + 18] = bytes(4)
    return bytes(head)


def id3_tag_only() -> bytes:
    """An mp3 holding an ID3v2.3 title tag and no audio frame."""
    frame = b"TIT2" + (8).to_bytes(4, "big") + b"\x00\x00" + b"\x00silence"
    return b"ID3\x03\x00\x00" + len(frame).to_bytes(4, "big") + frame


def tone_with_noise(seconds: float, sample_rate: int, channels: int = 1) -> np.ndarray:
    """A 440 Hz tone with a little noise, each channel at another level: (frames, channels)."""
    tone = sine(440, seconds, sample_rate, amplitude=0.3)
    noise = 0.02 * np.random.default_rng(sample_rate + channels).standard_normal((len(tone), channels))
    return (tone[:, None] * (0.5 + 0.5 * np.arange(channels) / channels) + noise).astype(np.float32)


@dataclass(frozen=True)
class AudioFolder:
    """One folder holding every bad and every good file, each by its file name."""

    root: Path
    bad: dict[str, Path]  # name -> path
    good: dict[str, tuple[Path, float]]  # name -> (path, seconds)

    @property
    def n_files(self) -> int:
        return len(self.bad) + len(self.good)


def make_bad_files(root: Path) -> dict[str, Path]:
    """Per format: a header cut after 20 bytes, garbage after the magic, 0 bytes, a header and no audio;
    and a text file named .wav, NaN and infinite float samples.
    """
    bad: dict[str, Path] = {}
    for ext, kwargs in FORMATS.items():
        reference = root / f"reference.{ext}"
        sf.write(reference, tone_with_noise(1.0, SR), SR, **kwargs)
        data = reference.read_bytes()
        reference.unlink()
        zero_frames = flac_without_frames(data) if ext == "flac" else id3_tag_only() if ext == "mp3" else None
        contents = {
            "truncated-header": data[:20],
            "corrupt-header": data[: MAGIC[ext]] + junk(4096),
            "empty": b"",
            "zero-frames": zero_frames,
        }
        for kind in BAD_KINDS:
            path = root / f"{kind}.{ext}"
            if contents[kind] is None:  # wav and ogg: soundfile writes a valid header and no frame
                sf.write(path, np.zeros((0, 1), dtype=np.float32), SR, **kwargs)
            else:
                path.write_bytes(contents[kind])
            bad[path.name] = path
    (root / "text.wav").write_text("just some text in a file named .wav\n" * 40, encoding="utf-8")
    write_nan_wav(root / "nan.wav")
    data = tone_with_noise(0.5, SR)
    data[-1, 0] = -np.inf
    sf.write(root / "inf.wav", data, SR, subtype="DOUBLE")
    bad.update({name: root / name for name in ("text.wav", "nan.wav", "inf.wav")})
    return bad


def make_good_files(root: Path) -> dict[str, tuple[Path, float]]:
    """8 and 192 kHz, 1 to 8 channels and 10 ms clips, in every format that can hold them."""
    specs: list[tuple[str, int, int, float]] = []  # (name, rate, channels, seconds)
    specs += [(f"rate-8000.{ext}", 8000, 1, GOOD_SECONDS) for ext in FORMATS]
    specs += [(f"rate-192000.{ext}", 192000, 1, GOOD_SECONDS) for ext in ("wav", "flac", "ogg")]  # mp3: <= 48 kHz
    specs += [(f"channels-{n}.wav", SR, n, GOOD_SECONDS) for n in range(1, 9)]
    specs += [("channels-8.flac", SR, 8, GOOD_SECONDS), ("channels-8.ogg", SR, 8, GOOD_SECONDS)]
    specs += [("channels-2.mp3", SR, 2, GOOD_SECONDS)]  # mp3: at most 2 channels
    specs += [(f"10ms.{ext}", SR, 1, 0.01) for ext in FORMATS]
    good = {}
    for name, rate, channels, seconds in specs:
        path = root / name
        sf.write(path, tone_with_noise(seconds, rate, channels), rate, **FORMATS[path.suffix[1:]])
        good[name] = (path, seconds)
    return good


@pytest.fixture(scope="module")
def audio_folder(tmp_path_factory) -> AudioFolder:
    root = tmp_path_factory.mktemp("bad-and-good")
    return AudioFolder(root, make_bad_files(root), make_good_files(root))


def expected_problem(name: str) -> str:
    return EXPECTED_PROBLEM.get(name) or EXPECTED_PROBLEM[name.rsplit(".", 1)[0]]


def own_lines(stderr: str) -> list[str]:
    """soundtag's stderr lines: every line but libmpg123's own."""
    return [line for line in stderr.splitlines() if not FOREIGN_STDERR.match(line)]


def run_main(capfd, args: list) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err, err
    return code, out, err


# --- every format: the CLI and the API ---------------------------------------------------------------


def test_the_folder_holds_every_case(audio_folder):
    assert sorted(audio_folder.bad) == sorted(
        [f"{kind}.{ext}" for kind in BAD_KINDS for ext in FORMATS] + ["inf.wav", "nan.wav", "text.wav"]
    )
    for name, (path, _) in audio_folder.good.items():
        info = sf.info(path)
        assert info.frames > 0, name
    assert {sf.info(p).samplerate for p, _ in audio_folder.good.values()} >= {8000, 192000}
    assert {sf.info(p).channels for p, _ in audio_folder.good.values()} == set(range(1, 9))


def test_tag_lists_each_bad_file_once_and_tags_every_good_one(run_dir, audio_folder, tmp_path, capfd):
    out = tmp_path / "out" / "tags.jsonl"
    code, stdout, stderr = run_main(capfd, ["tag", run_dir, audio_folder.root, "--format", "jsonl", "-o", out, "--quiet"])

    assert code == 1, stderr  # some inputs failed
    assert stdout == ""
    assert sorted(out.parent.iterdir()) == [out]  # no temporary file left beside the output
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]  # complete JSONL: every line parses
    assert set(records.pop(0)) == {"soundtag"}  # the provenance line comes first
    assert len(records) == audio_folder.n_files
    failed = {Path(r["file"]).name: r["error"] for r in records if "error" in r}
    tagged = {Path(r["file"]).name: r for r in records if "error" not in r}
    assert sorted(failed) == sorted(audio_folder.bad)
    assert sorted(tagged) == sorted(audio_folder.good)

    *warnings, summary = own_lines(stderr)  # one warning line per bad file, then the summary
    assert len(warnings) == len(audio_folder.bad)
    for name, path in audio_folder.bad.items():
        problem = failed[name]
        assert "\n" not in problem and expected_problem(name) in problem, (name, problem)
        assert "does not exist" not in problem, (name, problem)  # libsndfile's words for an mp3 without frames
        assert f"soundtag: warning: could not tag {path}: {problem}" in warnings
    assert summary == f"tagged {len(audio_folder.good)} file(s), {len(audio_folder.bad)} failed; wrote {out}"

    for name, (path, seconds) in audio_folder.good.items():
        record = tagged[name]
        assert record["duration"] == pytest.approx(seconds, abs=1e-3), name
        assert len(record["tags"]) == 3 and all(0.0 <= t["probability"] <= 1.0 for t in record["tags"]), name
        if seconds > 1.0:
            spans = [(s["start"], s["end"]) for s in record["segments"]]
            assert spans == [(0.0, 1.0), (1.0, pytest.approx(seconds, abs=1e-3))], name
        else:
            assert "segments" not in record, name


def test_features_lists_each_bad_file_once_and_caches_every_good_one(audio_folder, tmp_path, capfd):
    cache_dir = tmp_path / "cache"
    code, stdout, stderr = run_main(capfd, ["features", "--corpus", audio_folder.root, "--cache-dir", cache_dir,
                                            "--workers", "0", "--quiet"])

    assert code == 1, stderr  # some inputs failed
    lines = stdout.splitlines()
    n_bad, n_good = len(audio_folder.bad), len(audio_folder.good)
    assert lines[0].startswith(f"{audio_folder.n_files} clips (0 already cached, {n_good} extracted, {n_bad} failed)")
    listed = own_lines(stderr)  # one warning line per bad file
    assert len(listed) == n_bad
    for name, path in audio_folder.bad.items():
        (line,) = [line for line in listed if line.startswith(f"soundtag: warning: could not read {path}: ")]
        assert expected_problem(name) in line

    config = load_config(None)
    cache = FeatureCache(cache_dir, config.audio, config.features)
    for name, (path, seconds) in audio_folder.good.items():
        features = cache.load(path)
        assert features is not None, name
        assert features.shape == (64, 1 + round(seconds * 32000) // 320), name
        assert np.isfinite(features).all(), name
    for path in audio_folder.bad.values():
        assert not cache.contains(path)
    assert len(list(cache_dir.rglob("*.npy"))) == n_good
    assert not [p for p in cache_dir.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", sorted([f"{kind}.{ext}" for kind in BAD_KINDS for ext in FORMATS]
                                        + ["inf.wav", "nan.wav", "text.wav"]))
def test_load_audio_names_the_bad_file(audio_folder, name):
    path = audio_folder.bad[name]
    with pytest.raises(AudioError) as info:
        load_audio(path, 32000)
    message = str(info.value)
    assert message == f"{path}: {info.value.problem}"
    assert "\n" not in message
    assert expected_problem(name) in info.value.problem


# --- an hour of audio is streamed ----------------------------------------------------------------------

MEASURE_CHILD = """\
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def write_long_wav(path: Path, minutes: int, sample_rate: int = 8000) -> Path:
    """``minutes`` of a 16-bit mono tone-plus-noise, written a minute at a time."""
    minute = tone_with_noise(60.0, sample_rate)[:, 0]
    with sf.SoundFile(path, "w", sample_rate, 1, subtype="PCM_16") as handle:
        for _ in range(minutes):
            handle.write(minute)
    return path


def peak_rss_of_tagging(run_dir: Path, audio: Path, out: Path, env: dict[str, str]) -> int:
    """Peak resident memory of ``soundtag tag`` on ``audio``, measured from a fresh parent process."""
    command = [sys.executable, "-c", MEASURE_CHILD, sys.executable, "-m", "soundtag", "tag", str(run_dir), str(audio),
               "--format", "jsonl", "-o", str(out), "--quiet"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1])


def test_an_hour_is_tagged_in_about_the_memory_of_a_minute(run_dir, tmp_path):
    env = subprocess_env(tmp_path / "xdg")
    minute = write_long_wav(tmp_path / "minute.wav", 1)
    hour = write_long_wav(tmp_path / "hour.wav", 60)
    assert hour.stat().st_size > 57_000_000  # 1 h of 16-bit samples at 8 kHz

    try:
        peak_minute = peak_rss_of_tagging(run_dir, minute, tmp_path / "minute.jsonl", env)
        peak_hour = peak_rss_of_tagging(run_dir, hour, tmp_path / "hour.jsonl", env)
    finally:
        hour.unlink()  # 58 MB that pytest would otherwise keep with its last temporary folders

    # Decoded whole at the model's 32 kHz, the hour alone would be 460 MB of float32 samples.
    assert peak_hour <= 2 * peak_minute, f"peak RSS {peak_hour} kB for 1 h vs {peak_minute} kB for 1 min"
    _, record = [json.loads(line) for line in (tmp_path / "hour.jsonl").read_text().splitlines()]  # provenance first
    assert record["file"] == str(hour)
    assert record["duration"] == 3600.0
    segments = record["segments"]
    assert len(segments) == 3600
    assert [s["start"] for s in segments] == [float(i) for i in range(3600)]
    assert segments[-1]["end"] == 3600.0
    assert all(len(s["tags"]) == 3 for s in segments)


# --- hostile CSVs through the CLI -------------------------------------------------------------------

DEMO_ROWS = [("0357a3e9.flac", "1"), ("03dddd05.flac", "0"), ("08f1be1e.flac", "1")]


def demo_corpus(root: Path, extra_train: list[list[str]] = (), test: list[list[str]] | None = None) -> Path:
    """A corpus of three demo clips (all labelled "Bark") plus the given extra CSV rows."""
    (root / "audio_train").mkdir(parents=True)
    (root / "audio_test").mkdir()
    for fname, _ in DEMO_ROWS:
        shutil.copy(DEMO / "audio_train" / fname, root / "audio_train" / fname)
    rows = [[fname, "Bark", verified] for fname, verified in DEMO_ROWS] + [list(r) for r in extra_train]
    write_rows(root / "train.csv", ["fname", "label", "manually_verified"], rows)
    if test is not None:
        write_rows(root / "test.csv", ["fname", "label"], test)
    return root


def cached_entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.npy")) if cache_dir.exists() else []


@pytest.mark.parametrize(
    ("case", "csv_name", "fragment"),
    [
        ("unknown-test-label", "test.csv", "label 'Meow' does not occur in train.csv"),
        ("duplicate-train-fname", "train.csv", "duplicate fname '0357a3e9.flac'"),
        ("duplicate-test-fname", "test.csv", "duplicate fname 't.flac'"),
    ],
)
def test_a_broken_csv_stops_with_one_line_naming_it(tmp_path, capfd, case, csv_name, fragment):
    extra, test = [], [["t.flac", "Bark"]]
    if case == "unknown-test-label":
        test.append(["u.flac", "Meow"])
    elif case == "duplicate-train-fname":
        extra = [["0357a3e9.flac", "Bark", "0"]]
    else:
        test.append(["t.flac", "Bark"])
    root = demo_corpus(tmp_path / "corpus", extra, test)
    code, stdout, stderr = run_main(capfd, ["features", "--corpus", root, "--cache-dir", tmp_path / "cache",
                                            "--workers", "0"])
    assert code == 2
    assert stderr == f"soundtag: error: {root / csv_name}: {fragment}\n"
    assert stdout == ""
    assert not cached_entries(tmp_path / "cache")


def test_csvs_with_a_bom_and_crlf_are_read(tmp_path, capfd):
    root = demo_corpus(tmp_path / "corpus")
    shutil.copy(DEMO / "audio_test" / "01423593.flac", root / "audio_test" / "t.flac")
    lines = ["fname,label,manually_verified"] + [f"{fname},Bark,{verified}" for fname, verified in DEMO_ROWS]
    (root / "train.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    (root / "test.csv").write_bytes(b"\xef\xbb\xbffname,label\r\nt.flac,Bark\r\n")
    assert [c.fname for c in read_corpus(root).clips] == [f for f, _ in DEMO_ROWS] + ["t.flac"]
    code, stdout, stderr = run_main(capfd, ["features", "--corpus", root, "--cache-dir", tmp_path / "cache",
                                            "--workers", "0", "--quiet"])
    assert code == 0, stderr
    assert stdout.startswith("4 clips (0 already cached, 4 extracted, 0 failed)")
    assert len(cached_entries(tmp_path / "cache")) == 4


def test_rows_escaping_the_corpus_are_listed_and_the_rest_processed(tmp_path, capfd):
    outside = tmp_path / "outside.flac"
    shutil.copy(DEMO / "audio_test" / "01423593.flac", outside)
    unsafe = ["../../outside.flac", str(outside), "sub/../../../outside.flac"]
    root = demo_corpus(tmp_path / "corpus", [[fname, "Bark", "0"] for fname in [*unsafe, "link.flac"]])
    (root / "audio_train" / "link.flac").symlink_to(outside)  # the corpus owner's link: followed
    (root / "audio_train" / "inside.flac").symlink_to(root / "audio_train" / DEMO_ROWS[0][0])  # allowed

    corpus = read_corpus(root)
    assert [c.fname for c in corpus.train] == [f for f, _ in DEMO_ROWS] + ["link.flac"]
    assert [fname for fname in unsafe if any(repr(fname) in problem for _, problem in corpus.rejected)] == unsafe

    cache_dir = tmp_path / "cache"
    code, stdout, stderr = run_main(capfd, ["features", "--corpus", root, "--cache-dir", cache_dir, "--workers", "0",
                                            "--quiet"])
    assert code == 1, stderr  # some inputs (CSV rows) failed
    assert stdout.startswith("4 clips (0 already cached, 4 extracted, 0 failed)")
    lines = own_lines(stderr)
    assert len(lines) == len(unsafe)
    for fname, line in zip(unsafe, lines):
        assert line.startswith(f"soundtag: warning: left out a row of {root / 'train.csv'}: ") and repr(fname) in line
    assert len(cached_entries(cache_dir)) == 4
    config = load_config(None)
    assert FeatureCache(cache_dir, config.audio, config.features).contains(outside)  # through the link


# --- unreadable files --------------------------------------------------------------------------------


def test_an_unreadable_file_is_listed_and_the_rest_processed(run_dir, tmp_path, capfd):
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions do not apply (see the test run as 'nobody')")
    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "good.wav", tone_with_noise(1.0, SR), SR)
    locked = folder / "locked.wav"
    sf.write(locked, tone_with_noise(1.0, SR), SR)
    locked.chmod(0)
    try:
        code, stdout, stderr = run_main(capfd, ["tag", run_dir, folder, "--format", "jsonl", "--quiet"])
        assert code == 1, stderr
        records = {Path(r["file"]).name: r for r in map(json.loads, stdout.splitlines())}
        assert records["locked.wav"]["error"] == "permission denied" and "tags" in records["good.wav"]
        assert own_lines(stderr) == [f"soundtag: warning: could not tag {locked}: permission denied"]

        code, stdout, stderr = run_main(capfd, ["features", "--corpus", folder, "--cache-dir", tmp_path / "cache",
                                                "--workers", "0", "--quiet"])
        assert code == 1
        assert own_lines(stderr) == [f"soundtag: warning: could not read {locked}: permission denied"]
        assert len(cached_entries(tmp_path / "cache")) == 1
    finally:
        locked.chmod(0o644)


NOBODY = 65534


@pytest.fixture
def world_readable_dir():
    """A folder another user can enter (pytest's own temporary folders are private to this user)."""
    path = Path(tempfile.mkdtemp(prefix="soundtag-bad-input-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_an_unreadable_file_as_another_user(run_dir, world_readable_dir):
    """As root, run the CLI as 'nobody' (setpriv) on a folder holding a file it may not read."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the CLI as another user")
    base = world_readable_dir
    run = base / "run"
    shutil.copytree(run_dir, run)
    for path in [run, *run.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
    folder = base / "audio"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    sf.write(folder / "good.wav", tone_with_noise(1.0, SR), SR)
    locked = folder / "locked.wav"
    sf.write(locked, tone_with_noise(1.0, SR), SR)
    locked.chmod(0)
    writable = base / "nobody"
    writable.mkdir()
    os.chown(writable, NOBODY, NOBODY)
    env = subprocess_env(writable / "xdg")
    env["HOME"] = str(writable)

    def as_nobody(*args) -> subprocess.CompletedProcess:
        command = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
                   sys.executable, "-m", "soundtag", *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=writable, timeout=300)

    tagged = as_nobody("tag", run, folder, "--format", "jsonl", "--quiet")
    assert tagged.returncode == 1, tagged.stderr
    records = {Path(r["file"]).name: r for r in map(json.loads, tagged.stdout.splitlines())}
    assert records["locked.wav"]["error"] == "permission denied" and "tags" in records["good.wav"]
    assert own_lines(tagged.stderr) == [f"soundtag: warning: could not tag {locked}: permission denied"]

    extracted = as_nobody("features", "--corpus", folder, "--cache-dir", writable / "cache", "--workers", "0",
                          "--quiet")
    assert extracted.returncode == 1, extracted.stderr
    assert own_lines(extracted.stderr) == [f"soundtag: warning: could not read {locked}: permission denied"]
    assert len(cached_entries(writable / "cache")) == 1


# --- property: the CSV reader -----------------------------------------------------------------------

SAFE_FNAME = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12).map(lambda s: f"{s}.wav")
LABEL = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=16).filter(
    lambda s: s == s.strip()
)
VERIFIED = {"1": True, "0": False, "true": True, "False": False, "yes": True, "no": False, "1.0": True, "": False,
            " 1 ": True}


@st.composite
def corpus_csvs(draw):
    """A train.csv and maybe a test.csv as rows, plus how they are encoded."""
    train = draw(st.lists(st.tuples(SAFE_FNAME, LABEL, st.sampled_from(sorted(VERIFIED))), min_size=1, max_size=8,
                          unique_by=lambda row: row[0]))
    labels = sorted({label for _, label, _ in train})
    test = draw(st.none() | st.lists(st.tuples(SAFE_FNAME, st.sampled_from(["", *labels])), max_size=5,
                                      unique_by=lambda row: row[0]))
    return train, test, draw(st.booleans()), draw(st.sampled_from(["\n", "\r\n"]))


def encode_csv(header: list[str], rows: list[tuple], bom: bool, newline: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


@given(csvs=corpus_csvs())
def test_property_csv_rows_round_trip(csvs):
    train, test, bom, newline = csvs
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "train.csv").write_bytes(encode_csv(["fname", "label", "manually_verified"], train, bom, newline))
        if test is not None:
            (root / "test.csv").write_bytes(encode_csv(["fname", "label"], test, bom, newline))
        corpus = read_corpus(root)
    assert [(c.fname, c.label, c.verified) for c in corpus.train] == [(f, lab, VERIFIED[v]) for f, lab, v in train]
    assert corpus.labels == sorted({label for _, label, _ in train})
    assert [(c.fname, c.label) for c in corpus.test] == [(f, lab or None) for f, lab in (test or [])]
    assert all(c.path == root / "audio_train" / c.fname for c in corpus.train)
    assert corpus.rejected == []


CSV_TOKENS = [",", '"', "\r", "\n", "\ufeff", " ", "a.wav", "b.wav", "Bark", "1", "0", "..", "/", "\x00", "é", "#"]
HEADERS = ["", "fname,label,manually_verified\n", "\ufefffname,label,manually_verified\r\n", "fname,label\n"]
CSV_NOISE = st.tuples(st.sampled_from(HEADERS), st.lists(st.sampled_from(CSV_TOKENS), max_size=40)).map(
    lambda parts: parts[0] + "".join(parts[1])
)


@given(content=st.binary(max_size=200) | CSV_NOISE.map(str.encode))
def test_property_any_train_csv_is_read_or_refused_with_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "train.csv").write_bytes(content)
        try:
            corpus = read_corpus(root)
        except CorpusError as exc:
            assert "\n" not in str(exc) and str(root / "train.csv") in str(exc)
        else:
            assert all(c.fname and c.label for c in corpus.train)


# --- property: the features at random rates and settings ---------------------------------------------

RATES = [8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000, 192000]


@st.composite
def feature_settings(draw):
    """A sample rate and a feature config with random framing (n_fft, hop, window) and bands."""
    rate = draw(st.sampled_from(RATES))
    name = draw(st.sampled_from(["logmel", "mfcc", "spectrogram", "raw"]))
    if name == "raw":
        return rate, RawConfig()
    n_fft = 2 * draw(st.integers(8, 1024))  # odd sizes are refused, see below
    framing = {"n_fft": n_fft, "hop_length": draw(st.integers(1, n_fft)),
               "win_length": draw(st.none() | st.integers(1, n_fft))}
    if name == "spectrogram":
        return rate, SpectrogramConfig(**framing, top_db=draw(st.floats(1.0, 120.0)),
                                       n_frames=draw(st.none() | st.integers(1, 500)))
    n_mels = draw(st.integers(1, 128))
    fmin = draw(st.floats(0.0, 0.45 * rate))
    fmax = draw(st.none() | st.floats(fmin + 1.0, rate / 2))
    bands = {"n_mels": n_mels, "fmin": fmin, "fmax": fmax, "top_db": draw(st.none() | st.floats(1.0, 120.0))}
    if name == "logmel":
        return rate, LogMelConfig(**framing, **bands)
    return rate, MfccConfig(**framing, **bands, n_mfcc=draw(st.integers(1, n_mels)), deltas=draw(st.integers(0, 2)),
                            delta_width=draw(st.sampled_from([3, 5, 9, 11])))


@st.composite
def waveforms(draw, rate: int):
    """Noise, silence, a tone or a click, loud or very quiet, 1 to 4000 samples."""
    n = draw(st.integers(1, 4000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["noise", "zeros", "tone", "click"]))
    signal = {"noise": lambda: rng.uniform(-1, 1, n), "zeros": lambda: np.zeros(n),
              "tone": lambda: np.sin(2 * np.pi * rng.uniform(20, rate / 2) * np.arange(n) / rate),
              "click": lambda: np.eye(1, n, int(rng.integers(n)))[0]}[kind]()
    return (draw(st.sampled_from([1.0, 1e-6])) * signal).astype(np.float32)




@given(data=st.data())
def test_property_features_at_random_rates_and_settings_are_finite_and_documented(data):
    rate, config = data.draw(feature_settings())
    transform = build_transform(config, rate)
    signals = [data.draw(waveforms(rate)) for _ in range(2)]
    outputs = extract_batch(transform, signals)
    for signal, out in zip(signals, outputs):
        assert out.dtype == np.float32
        assert out.shape == documented_shape(config, len(signal)) == (transform.num_bins, out.shape[1])
        assert np.isfinite(out).all()
        if isinstance(config, SpectrogramConfig):
            assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("config", [LogMelConfig, MfccConfig, SpectrogramConfig])
def test_an_odd_n_fft_is_refused(config):
    """Centred frames of an odd n_fft are one fewer than ``1 + samples // hop`` whenever the hop divides
    the length: a clip alone and the same clip in a padded batch would get different widths.
    """
    with pytest.raises(ConfigError, match="n_fft must be even"):
        config(n_fft=1023)
# --- headers, names, special files and levels no audio has (issue #12) ---------------------------------
#
# Each test is named after the rule it proves; the defect number is in its docstring.


def flac_claiming(data: bytes, samples: int) -> bytes:
    """A FLAC file whose STREAMINFO claims ``samples`` samples (36 bits), its frames unchanged."""
    patched = bytearray(data)
    patched[8 + 13] = (patched[8 + 13] & 0xF0) | (samples >> 32)  # STREAMINFO: the sample count's top 4 bits
    patched[8 + 14 : 8 + 18] = (samples & 0xFFFFFFFF).to_bytes(4, "big")
    return bytes(patched)


def wav_claiming_rate(path: Path, rate: int, seconds: float = 0.2) -> Path:
    """A 16-bit WAV of a tone whose header says ``rate`` Hz (and the byte rate that goes with it)."""
    sf.write(path, tone_with_noise(seconds, SR), SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = rate.to_bytes(4, "little")
    data[28:32] = (2 * rate & 0xFFFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def test_a_header_never_sizes_an_allocation(run_dir, tmp_path, capfd, monkeypatch):
    """#12: a FLAC claiming 2**36 samples made features/train allocate 256 GiB and die, losing the batch."""
    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "good.wav", tone_with_noise(1.0, SR), SR)
    sf.write(tmp_path / "one-second.flac", tone_with_noise(1.0, SR), SR)
    huge = folder / "huge.flac"
    huge.write_bytes(flac_claiming((tmp_path / "one-second.flac").read_bytes(), 2**36 - 1))
    assert sf.info(huge).frames == 2**36 - 1
    reads: list[int] = []
    original_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        reads.append(frames)
        return original_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    code, stdout, stderr = run_main(capfd, ["features", "--corpus", folder, "--cache-dir", tmp_path / "cache",
                                            "--workers", "0", "--quiet"])
    assert code == 1, stderr
    assert stdout.startswith("2 clips (0 already cached, 1 extracted, 1 failed)")
    assert own_lines(stderr)[-1].startswith(f"soundtag: warning: could not read {huge}: corrupt audio data (")

    code, stdout, stderr = run_main(capfd, ["tag", run_dir, folder, "--format", "jsonl", "--quiet"])
    assert code == 1, stderr
    records = {Path(r["file"]).name: r for r in map(json.loads, stdout.splitlines())}
    assert "tags" in records["good.wav"] and "corrupt audio data" in records["huge.flac"]["error"]
    assert reads and all(0 < frames <= BLOCK_SAMPLES for frames in reads), sorted(set(reads))


def test_rates_no_audio_has_are_refused_by_name(run_dir, tmp_path, capfd):
    """#13 and #23: a 7 KB WAV whose header says 1 Hz became an hour at 32 kHz (2.3 GB); one saying
    2**31 - 1 Hz was "contains no audio samples"."""
    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "good.wav", tone_with_noise(1.0, SR), SR)
    one_hz = wav_claiming_rate(folder / "one-hz.wav", 1)
    absurd = wav_claiming_rate(folder / "absurd-rate.wav", 2**31 - 1)
    assert one_hz.stat().st_size < 7_000 and sf.info(one_hz).samplerate == 1
    reasons = {one_hz: "sample rate 1 Hz is too low for audio (below 1000 Hz)",
               absurd: "sample rate 2147483647 Hz is absurd (above 1000000 Hz)"}
    for path, reason in reasons.items():
        with pytest.raises(AudioError) as info:
            load_audio(path, 32000)
        assert info.value.problem == reason
    assert (MIN_SAMPLE_RATE, MAX_SAMPLE_RATE) == (1000, 1_000_000)
    load_audio(wav_claiming_rate(tmp_path / "lowest.wav", MIN_SAMPLE_RATE), 32000)  # the bounds themselves pass
    load_audio(wav_claiming_rate(tmp_path / "highest.wav", MAX_SAMPLE_RATE), 32000)

    code, stdout, stderr = run_main(capfd, ["features", "--corpus", folder, "--cache-dir", tmp_path / "cache",
                                            "--workers", "0", "--quiet"])
    assert code == 1, stderr
    assert own_lines(stderr)[-2:] == [f"soundtag: warning: could not read {absurd}: {reasons[absurd]}",
                                      f"soundtag: warning: could not read {one_hz}: {reasons[one_hz]}"]
    code, stdout, stderr = run_main(capfd, ["tag", run_dir, folder, "--format", "jsonl", "--quiet"])
    assert code == 1, stderr
    errors = {r["file"]: r.get("error") for r in map(json.loads, stdout.splitlines())}
    assert errors == {str(absurd): reasons[absurd], str(folder / "good.wav"): None, str(one_hz): reasons[one_hz]}


def write_silent_flac(path: Path, minutes: int, sample_rate: int = 16000) -> Path:
    """``minutes`` of digital silence as FLAC (a few hundred KB an hour), written a minute at a time."""
    minute = np.zeros(60 * sample_rate, dtype=np.int16)
    with sf.SoundFile(path, "w", sample_rate, 1) as handle:
        for _ in range(minutes):
            handle.write(minute)
    return path


def peak_rss_of_features(folder: Path, cache_dir: Path, env: dict[str, str], *settings: str) -> int:
    """Peak resident memory (kB) of ``soundtag features`` on ``folder``, measured from a fresh parent."""
    command = [sys.executable, "-c", MEASURE_CHILD, sys.executable, "-m", "soundtag", "features",
               "--corpus", str(folder), "--cache-dir", str(cache_dir), "--workers", "0", "--quiet"]
    command += [arg for setting in settings for arg in ("--set", setting)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1])


def test_features_stream_a_long_file_in_bounded_memory(tmp_path):
    """#13: a 2-hour silent FLAC took 4.0 GB in ``soundtag features`` (decoded, resampled and
    featurised whole). With no length limit it is now featurised as it is decoded: an hour takes
    about the memory of a minute plus its features (8 mel bands here: 11.5 MB for the hour, where
    its samples at 32 kHz would be 460 MB)."""
    env = subprocess_env(tmp_path / "xdg")
    sizes = {}
    for minutes in (1, 60):
        folder = tmp_path / f"{minutes}-min"
        folder.mkdir()
        write_silent_flac(folder / "silence.flac", minutes)
        sizes[minutes] = peak_rss_of_features(folder, tmp_path / "cache", env, "audio.max_seconds=null",
                                              "features.n_mels=8")
    assert sizes[60] <= sizes[1] + 150_000, f"peak RSS {sizes[60]} kB for 1 h vs {sizes[1]} kB for 1 min"
    config = load_config(None, ["audio.max_seconds=null", "features.n_mels=8"])
    cache = FeatureCache(tmp_path / "cache", config.audio, config.features)
    features = cache.load(tmp_path / "60-min" / "silence.flac")
    assert features.shape == (8, 1 + 3600 * 32000 // 320)


def test_a_file_over_max_seconds_is_cut_with_a_warning_naming_it(tmp_path, caplog):
    """#13: ``audio.max_seconds`` (default 600 s) is the longest clip feature extraction uses; a longer
    file's first max_seconds are used and a warning names it. Silence is said too (#23)."""
    long = write_silent_flac(tmp_path / "eleven-minutes.flac", 11)
    short = tmp_path / "short.wav"
    sf.write(short, tone_with_noise(1.0, SR), SR)
    config = load_config(None, ["features.n_mels=8"])
    assert config.audio.max_seconds == 600.0
    cache = FeatureCache(tmp_path / "cache", config.audio, config.features)
    with caplog.at_level("WARNING", logger="soundtag.audio"):
        report = cache_features([long, short], config.audio, config.features, cache, num_workers=0, progress=False)
    assert report.failures == []
    assert report.warnings == [
        (str(long), "longer than audio.max_seconds: only its first 600 s are used"),
        (str(long), "silent: every sample is 0"),
    ]
    logged = [record.getMessage() for record in caplog.records]
    assert logged == [f"{long}: {note}" for _, note in report.warnings]
    assert cache.load(long).shape == (8, 1 + 600 * 32000 // 320)
    assert report.seconds == pytest.approx(601.0)


def make_unnamed_folder(root: Path) -> tuple[Path, Path, Path]:
    """A folder holding a tone, a tone named ``caf\\xe9.wav`` in Latin-1 (not UTF-8) and a text file
    named ``bad\\xff.wav``; returns the folder and the two odd names as paths."""
    root.mkdir()
    sf.write(root / "good.wav", tone_with_noise(1.0, SR), SR)
    latin1 = os.fsencode(root) + b"/caf\xe9.wav"
    with open(latin1, "wb") as handle:
        sf.write(handle, tone_with_noise(1.0, SR), SR, format="WAV")
    broken = os.fsencode(root) + b"/bad\xff.wav"
    with open(broken, "wb") as handle:
        handle.write(b"not audio at all\n" * 40)
    return root, Path(os.fsdecode(latin1)), Path(os.fsdecode(broken))


def test_a_file_name_that_is_not_utf8_is_processed_and_written_escaped(run_dir, tmp_path, capfd):
    """#20: a name that is not UTF-8 killed ``features`` with UnicodeEncodeError and ``tag`` called it
    unreadable. It is read like any file; outputs write the bytes that are not UTF-8 as ``\\xNN``."""
    folder, latin1, broken = make_unnamed_folder(tmp_path / "names")
    assert display_name(latin1) == str(folder / "caf\\xe9.wav")
    code, stdout, stderr = run_main(capfd, ["features", "--corpus", folder, "--cache-dir", tmp_path / "cache",
                                            "--workers", "0", "--quiet"])
    assert code == 1, stderr
    assert stdout.startswith("3 clips (0 already cached, 2 extracted, 1 failed)")
    assert own_lines(stderr)[-1].startswith(f"soundtag: warning: could not read {folder}/bad\\xff.wav: not a readable "
                                            "audio file (")
    config = load_config(None)
    assert FeatureCache(tmp_path / "cache", config.audio, config.features).load(latin1).shape[0] == 64

    for fmt in ("json", "csv"):
        out = tmp_path / f"tags.{fmt}"
        code, _, stderr = run_main(capfd, ["tag", run_dir, folder, "--format", fmt, "-o", out, "--quiet"])
        assert code == 1, stderr
        text = out.read_bytes().decode("utf-8")  # strict: valid UTF-8 throughout
        assert not re.search("[\ud800-\udfff]", text)
        if fmt == "json":
            data = json.loads(text)
            assert [r["file"] for r in data["files"]] == [f"{folder}/caf\\xe9.wav", f"{folder}/good.wav"]
            assert [r["file"] for r in data["failed"]] == [f"{folder}/bad\\xff.wav"]
            assert data["files"][0]["tags"] == data["files"][1]["tags"]  # the same tone under both names
        else:
            files = {row["file"] for row in csv.DictReader(io.StringIO(text))}
            assert files == {f"{folder}/caf\\xe9.wav", f"{folder}/good.wav", f"{folder}/bad\\xff.wav"}
        assert f"could not tag {folder}/bad\\xff.wav: not a readable audio file" in stderr


@pytest.fixture
def special_folder(tmp_path):
    """A folder holding a tone, a named pipe, a link to /dev/zero and a broken link, all named .wav. A
    timer opens the pipe for writing after a while, so a reader that opened it would not hang the tests."""
    folder = tmp_path / "special"
    folder.mkdir()
    sf.write(folder / "good.wav", tone_with_noise(1.0, SR), SR)
    os.mkfifo(folder / "pipe.wav")
    (folder / "zero.wav").symlink_to("/dev/zero")
    (folder / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")

    def unblock() -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(folder / "pipe.wav", os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(30.0, unblock)
    timer.start()
    yield folder
    timer.cancel()


SPECIAL_PROBLEMS = {
    "dangling.wav": "broken symbolic link (to {tmp}/nowhere.wav)",
    "pipe.wav": "not a regular file (a named pipe)",
    "zero.wav": "not a regular file (a character device)",
}


def test_pipes_devices_and_broken_links_are_listed_as_what_they_are(run_dir, special_folder, tmp_path, capfd):
    """#22: a pipe or a link to /dev/zero was "empty file (0 bytes)"; broken links and pipes in a
    tagged folder were skipped without a word. Each is listed, and nothing opens the pipe."""
    expected = {name: problem.format(tmp=tmp_path) for name, problem in SPECIAL_PROBLEMS.items()}
    for name, problem in expected.items():
        with pytest.raises(AudioError) as info:
            load_audio(special_folder / name)
        assert info.value.problem == problem

    code, stdout, stderr = run_main(capfd, ["tag", run_dir, special_folder, "--format", "jsonl", "--quiet"])
    assert code == 1, stderr
    records = {Path(r["file"]).name: r for r in map(json.loads, stdout.splitlines())}
    assert {name: r.get("error") for name, r in records.items()} == {**expected, "good.wav": None}
    assert own_lines(stderr) == [f"soundtag: warning: could not tag {special_folder / name}: {problem}"
                                 for name, problem in sorted(expected.items())]

    code, stdout, stderr = run_main(capfd, ["features", "--corpus", special_folder, "--cache-dir", tmp_path / "cache",
                                            "--workers", "0", "--quiet"])
    assert code == 1, stderr
    assert stdout.startswith("4 clips (0 already cached, 1 extracted, 3 failed)")
    listed = [f"soundtag: warning: could not read {special_folder / name}: {problem}"
              for name, problem in sorted(expected.items())]
    assert own_lines(stderr)[-3:] == listed


def test_silence_is_flagged_and_warned_about(run_dir, tmp_path, capfd):
    """#23: all-zero audio was tagged with confident labels and no warning. Its record says
    ``"silent": true`` and stderr says it, one line per file; a quiet file is not silent."""
    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "silent.flac", np.zeros(int(1.5 * SR), dtype=np.float32), SR)
    sf.write(folder / "quiet.wav", 1e-4 * tone_with_noise(1.0, SR), SR, subtype="FLOAT")
    for framewise in ([], ["--framewise"]):
        code, stdout, stderr = run_main(capfd, ["tag", run_dir, folder, "--format", "jsonl", "--quiet", *framewise])
        assert code == 0, stderr
        records = {Path(r["file"]).name: r for r in map(json.loads, stdout.splitlines())}
        assert records["silent.flac"]["silent"] is True and len(records["silent.flac"]["tags"]) == 3
        assert "silent" not in records["quiet.wav"]
        assert own_lines(stderr) == [f"soundtag: warning: {folder / 'silent.flac'}: silent (every sample is 0): "
                                     "its tags say nothing about it"]


LOUD = {"1e20": 1e20, "1e30": 1e30, "3e38": 3e38}


@pytest.mark.parametrize("name", [*LOUD, "3e38-and-nan"])
def test_samples_too_loud_to_be_audio_are_refused(tmp_path, name):
    """#6: one float32 clip with finite samples of 1e20 turned the training loss NaN (its power
    overflowed float32). Samples beyond +-MAX_PEAK (60 dB over full scale) are refused by name."""
    data = tone_with_noise(0.5, SR)[:, 0]
    data[100] = LOUD.get(name, 3e38)
    if name == "3e38-and-nan":
        data[200] = np.nan
    path = tmp_path / f"{name}.wav"
    sf.write(path, data, SR, subtype="FLOAT")
    assert np.isfinite(sf.read(path, dtype="float32")[0][100])  # a valid float WAV
    with pytest.raises(AudioError) as info:
        load_audio(path, 32000)
    if name in LOUD:
        assert info.value.problem == (f"peak level {LOUD[name]:.3g} is not audio (samples must lie within +-1000, "
                                      "60 dB over full scale)")
    else:
        assert info.value.problem == "contains NaN or infinite samples"
    config = load_config(None)
    cache = FeatureCache(tmp_path / "cache", config.audio, config.features)
    report = cache_features([path], config.audio, config.features, cache, num_workers=0, progress=False)
    assert report.failures == [(str(path), info.value.problem)]


@st.composite
def loudest_waveforms(draw):
    """The loudest signals that pass: DC, a square wave at any period or noise at +-MAX_PEAK."""
    n = draw(st.integers(1, 20000))
    kind = draw(st.sampled_from(["dc", "square", "noise"]))
    if kind == "dc":
        signal = np.ones(n)
    elif kind == "square":
        signal = np.where((np.arange(n) // draw(st.integers(1, 64))) % 2, 1.0, -1.0)
    else:
        signal = np.sign(np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(n))
    return (MAX_PEAK * signal).astype(np.float32)


@given(data=st.data())
def test_property_the_loudest_audio_that_passes_gives_finite_features(data):
    """#6: no finite input that passes the peak check can overflow the float32 power to inf."""
    rate, config = data.draw(feature_settings())
    signal = data.draw(loudest_waveforms())
    (out,) = extract_batch(build_transform(config, rate), [signal])
    assert np.isfinite(out).all()


@pytest.mark.parametrize("n_fft", [1024, 16384])
def test_full_scale_dc_at_the_peak_limit_stays_finite_at_a_long_fft(n_fft):
    signal = np.full(4 * n_fft, MAX_PEAK, dtype=np.float32)
    for config in (LogMelConfig(n_fft=n_fft, n_mels=64), SpectrogramConfig(n_fft=n_fft), MfccConfig(n_fft=n_fft)):
        transform = build_transform(config, 32000)
        power = transform.frames(torch.from_numpy(signal)[None])
        assert torch.isfinite(power).all() and float(power.max()) < 1e30
        assert np.isfinite(extract_batch(transform, [signal])[0]).all()
