"""``soundtag features`` end to end: the real program as a subprocess on real audio.

User errors must end with exit code 2 and exactly one ``soundtag: error:`` line, never a traceback.
The independent runs are started together (a few at a time) to keep the suite quick; each case is
still its own test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import soundtag
from tests.helpers import Result, assert_user_error, read_rows, write_corrupt_audio, write_nan_wav, write_rows

pytestmark = pytest.mark.e2e


def cli_env(cache_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(cache_home)  # never the user's ~/.cache, even by mistake
    env.pop("PYTHONWARNINGS", None)
    return env


def run_cli(args: list[str], cwd: Path, cache_home: Path) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "soundtag", *args],
        cwd=cwd,
        env=cli_env(cache_home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def npy_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.npy"))


# --- the demo corpus ------------------------------------------------------------------------------


def test_demo_corpus_end_to_end(demo_root, tmp_path):
    n_clips = len(read_rows(demo_root / "train.csv")) + len(read_rows(demo_root / "test.csv"))
    cache_dir = tmp_path / "cache"
    args = ["features", "--corpus", str(demo_root), "--cache-dir", str(cache_dir), "--workers", "0", "--quiet"]

    first = run_cli(args, tmp_path, tmp_path / "xdg")
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # diagnostics only, and there are none
    summary = first.stdout.splitlines()[0]
    assert summary.startswith(f"{n_clips} clips (0 already cached, {n_clips} extracted, 0 failed)")
    assert f"cache: {cache_dir}" in first.stdout
    (root,) = (cache_dir / "features").iterdir()
    assert root.name.startswith("logmel-")
    assert (root / "settings.yaml").is_file()
    entries = npy_files(root)
    assert len(entries) == n_clips
    assert np.load(entries[0]).shape[0] == 64
    assert not [p for p in cache_dir.rglob("*") if p.name.endswith(".tmp")]
    assert not (tmp_path / "xdg").exists()  # nothing went to the default cache

    second = run_cli(args, tmp_path, tmp_path / "xdg")
    assert second.returncode == 0, second.stderr
    summary = second.stdout.splitlines()[0]
    assert summary.startswith(f"{n_clips} clips ({n_clips} already cached, 0 extracted, 0 failed)")
    assert npy_files(root) == entries


def test_version():
    result = run_cli(["--version"], Path.cwd(), Path("/nonexistent-cache-home"))
    assert result.returncode == 0
    assert result.stdout.strip() == f"soundtag {soundtag.__version__}"


def test_help():
    top = run_cli(["--help"], Path.cwd(), Path("/nonexistent-cache-home"))
    assert top.returncode == 0
    assert "features" in top.stdout
    sub = run_cli(["features", "--help"], Path.cwd(), Path("/nonexistent-cache-home"))
    assert sub.returncode == 0
    for option in ("CONFIG", "--corpus", "--cache-dir", "--workers", "--strict", "--set", "--json"):
        assert option in sub.stdout


# --- independent runs, started together ----------------------------------------------------------

BAD_FILES = ("corrupt.wav", "nan.wav")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, demo_root) -> dict[str, tuple[Result, Path]]:
    """Build every input, run every case (4 at a time) and return each result with its folder."""
    base = tmp_path_factory.mktemp("cli")
    cases: dict[str, tuple[list[str], Path]] = {}

    def small_corpus(name: str, extra_train: list[list[str]] | None = None) -> Path:
        root = base / name / "corpus"
        train = read_rows(demo_root / "train.csv")[:5]
        (root / "audio_train").mkdir(parents=True)
        for row in train:
            (root / "audio_train" / row["fname"]).write_bytes((demo_root / "audio_train" / row["fname"]).read_bytes())
        write_rows(
            root / "train.csv",
            ["fname", "label", "manually_verified"],
            [[r["fname"], r["label"], r["manually_verified"]] for r in train] + (extra_train or []),
        )
        return root

    def case(name: str, args: list[str], cwd: Path | None = None) -> None:
        (base / name).mkdir(parents=True, exist_ok=True)
        cases[name] = (args, cwd or base / name)

    def cache_of(name: str) -> list[str]:
        return ["--cache-dir", str(base / name / "cache")]

    # user errors
    missing = base / "missing-corpus" / "no-such-corpus"
    case("missing-corpus", ["features", "--corpus", str(missing), "--workers", "0", *cache_of("missing-corpus")])
    case("corpus-as-config", ["features", str(demo_root), "--workers", "0", *cache_of("corpus-as-config")])
    no_column = small_corpus("missing-column")
    rows = read_rows(no_column / "train.csv")
    write_rows(no_column / "train.csv", ["fname", "label"], [[r["fname"], r["label"]] for r in rows])
    case("missing-column", ["features", "--corpus", str(no_column), "--workers", "0", *cache_of("missing-column")])
    escaping = small_corpus("escaping-fname", [["../../escape.flac", "Trumpet", "0"]])
    case("escaping-fname", ["features", "--corpus", str(escaping), "--workers", "0", "--strict",
                            *cache_of("escaping-fname")])
    case("escaping-fname-lenient", ["features", "--corpus", str(escaping), "--workers", "0", "--quiet",
                                    *cache_of("escaping-fname-lenient")])
    unknown = small_corpus("unknown-set-key")
    case("unknown-set-key", ["features", "--corpus", str(unknown), "--set", "features.n_mel=32",
                             *cache_of("unknown-set-key")])
    (base / "bad-config").mkdir()
    (base / "bad-config" / "bad.yaml").write_text("features:\n  name: [logmel\n", encoding="utf-8")
    config_args = [str(base / "bad-config" / "bad.yaml"), "--workers", "0", *cache_of("bad-config")]
    case("bad-config", ["features", *config_args, "--corpus", str(demo_root)])

    # a corpus with one corrupt and one NaN file among good ones; progress bars left on
    bad = small_corpus("bad-files", [[name, "Trumpet", "1"] for name in BAD_FILES])
    write_corrupt_audio(bad / "audio_train" / "corrupt.wav")
    write_nan_wav(bad / "audio_train" / "nan.wav")
    case("bad-files", ["features", "--corpus", str(bad), "--workers", "0", *cache_of("bad-files")])
    case("bad-files-strict", ["features", "--corpus", str(bad), "--workers", "0", "--strict",
                              *cache_of("bad-files-strict")])
    case("bad-files-json", ["features", "--corpus", str(bad), "--workers", "0", "--json", "--quiet",
                            *cache_of("bad-files-json")])

    # settings from a config file (paths relative to the file, run from another folder)
    folder = base / "config-file"
    small_corpus("config-file")
    (folder / "configs").mkdir()
    (folder / "configs" / "run.yaml").write_text(
        "data:\n  corpus: ../corpus\n  cache_dir: ../cache\n  num_workers: 0\nfeatures:\n  name: mfcc\n  n_mfcc: 13\n",
        encoding="utf-8",
    )
    (folder / "elsewhere").mkdir()
    case("config-file", ["features", str(folder / "configs" / "run.yaml"), "--quiet"], folder / "elsewhere")

    # a plain folder of audio, and a cache folder given with --set (relative to the working dir)
    plain = base / "plain-folder"
    (plain / "audio" / "sub").mkdir(parents=True)
    for i, row in enumerate(read_rows(demo_root / "test.csv")[:3]):
        target = plain / "audio" / ("sub" if i else "") / row["fname"]
        target.write_bytes((demo_root / "audio_test" / row["fname"]).read_bytes())
    case("plain-folder", ["features", "--corpus", "audio", "--workers", "0", "--quiet",
                          "--set", "data.cache_dir=rel-cache"])

    def execute(item):
        name, (args, cwd) = item
        return name, run_cli(args, cwd, base / name / "xdg")

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(execute, cases.items()))
    return {name: (results[name], base / name) for name in cases}


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("missing-corpus", ["no-such-corpus", "not found"]),
        ("corpus-as-config", ["is a folder, not a config", "--corpus"]),
        ("missing-column", ["train.csv", "'manually_verified'"]),
        ("unknown-set-key", ["'features.n_mel'"]),
        ("bad-config", ["bad.yaml", "invalid YAML"]),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(runs, name, fragments):
    result, folder = runs[name]
    assert_user_error(result, *fragments)
    assert not npy_files(folder)  # nothing was extracted


def test_escaping_fname_is_listed_on_stderr_and_the_rest_cached_with_exit_1(runs):
    result, folder = runs["escaping-fname-lenient"]
    assert result.returncode == 1, result.stderr  # some inputs failed
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("soundtag: warning:")]
    assert "'../../escape.flac' escapes its audio folder" in warning and "train.csv" in warning
    assert "escape" not in result.stdout
    assert npy_files(folder)


def test_escaping_fname_with_strict_fails_before_any_work_with_exit_1(runs):
    result, folder = runs["escaping-fname"]
    assert result.returncode == 1 and len(result.error_lines) == 1, result.stderr
    assert "train.csv" in result.error_lines[0] and "'../../escape.flac'" in result.error_lines[0]
    assert "--strict" in result.error_lines[0] and "Traceback" not in result.stderr
    assert not npy_files(folder)


def test_bad_files_are_listed_on_stderr_and_the_rest_cached_with_exit_1(runs):
    result, folder = runs["bad-files"]
    assert result.returncode == 1, result.stderr  # some inputs failed
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("7 clips (0 already cached, 5 extracted, 2 failed)")
    assert len(result.stdout.splitlines()) == 2  # the summary and the cache folder: no file names
    listed = [line for line in result.stderr.splitlines() if line.startswith("soundtag: warning: could not read ")]
    assert len(listed) == len(BAD_FILES)
    for name in BAD_FILES:
        assert any(name in line for line in listed)
    assert any("NaN" in line for line in listed)
    assert len(npy_files(folder / "cache")) == 5


def test_bad_files_with_strict_fail_naming_them_with_exit_1(runs):
    result, folder = runs["bad-files-strict"]
    assert result.returncode == 1 and len(result.error_lines) == 1, result.stderr
    assert "2 file(s)" in result.error_lines[0] and "--strict" in result.error_lines[0]
    for name in BAD_FILES:
        assert name in result.stderr
    assert result.stdout == ""
    assert len(npy_files(folder / "cache")) == 5  # the good files are still cached


def test_json_summary_is_one_object_on_stdout(runs):
    result, folder = runs["bad-files-json"]
    assert result.returncode == 1, result.stderr
    (line,) = result.stdout.splitlines()
    summary = json.loads(line)
    assert (summary["clips"], summary["already_cached"], summary["extracted"]) == (7, 0, 5)
    assert sorted(Path(f["file"]).name for f in summary["failed"]) == sorted(BAD_FILES)
    assert summary["left_out"] == [] and Path(summary["cache"]).parent.parent == folder / "cache"


def test_config_file_paths_are_relative_to_the_file(runs):
    result, folder = runs["config-file"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("5 clips (0 already cached, 5 extracted, 0 failed)")
    (root,) = (folder / "cache" / "features").iterdir()
    assert root.name.startswith("mfcc-")
    assert {np.load(p).shape[0] for p in npy_files(root)} == {13}
    assert not (folder / "elsewhere" / "cache").exists()


def test_plain_folder_with_cache_dir_from_set(runs):
    result, folder = runs["plain-folder"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3 clips (0 already cached, 3 extracted, 0 failed)")
    assert len(npy_files(folder / "rel-cache")) == 3  # --set paths are relative to the working dir
    assert not (folder / "xdg").exists()
