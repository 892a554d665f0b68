"""The files a user names as a command's output (issue #12, outputs): never one of the command's inputs,
writable before any work starts, a full disk one line that keeps the old file, bounded segments, shard
files that merge reads, CSV that spreadsheets do not run, JSON without NaN.

End to end through ``soundtag.cli.main.main`` in this process on a tiny trained run, except where the
process itself must differ (another user, a file-size limit): then a short script runs ``main`` in a
subprocess. Each test names the defect number of the issue it covers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundtag.cli.main import main
from soundtag.cli.tag import render
from soundtag.training import start_run
from tests.helpers import DEMO, Result, assert_user_error, sine, write_corrupt_audio
from tests.training.tiny_run import DEMO_CONFIG, shared_cache_dir, single_thread_torch, subprocess_env, tiny_config

pytestmark = pytest.mark.e2e

DEMO_FILE = DEMO / "audio_test" / "01423593.flac"
SR = 32000  # the demo run's sample rate
NOBODY = 65534


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run folder trained for one epoch on the demo corpus (tiny model, 1 s windows)."""
    path = tmp_path_factory.mktemp("outputs-run")
    with single_thread_torch():
        start_run(tiny_config(shared_cache_dir(tmp_path_factory), "train.epochs=1"), path, progress=False)
    return path


@pytest.fixture
def run_copy(run_dir, tmp_path) -> Path:
    """A copy of the run for a test whose command, were it not refused, would write into the run."""
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


@pytest.fixture
def audio(tmp_path) -> Path:
    """A copy of a demo clip to tag."""
    path = tmp_path / "a.flac"
    shutil.copy(DEMO_FILE, path)
    return path


def cli(capsys, *args) -> Result:
    """``soundtag ARGS`` through the CLI entry point in this process."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return Result(code, out, err)


def snapshot(*paths: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in paths}


# --- 1: an output is never the audio being tagged -------------------------------------------------


@pytest.mark.parametrize("spelling", ["same", "dot", "dotdot", "symlink", "hardlink"])
def test_1_tag_output_may_not_be_a_tagged_file(run_dir, audio, tmp_path, capsys, monkeypatch, spelling):
    monkeypatch.chdir(tmp_path)
    output = {"same": audio, "dot": Path("./a.flac"), "dotdot": Path("../" + tmp_path.name + "/a.flac")}.get(spelling)
    if spelling == "symlink":
        output = tmp_path / "link.flac"
        output.symlink_to(audio)
    if spelling == "hardlink":
        output = tmp_path / "hard.flac"
        os.link(audio, output)
    before = snapshot(audio)
    result = cli(capsys, "tag", run_dir, audio, "-o", output, "--quiet")
    assert_user_error(result, f"-o {output}", str(audio), "is ", "an input of this command", only_line=True)
    assert snapshot(audio) == before


def test_1_tag_output_may_not_be_new_audio_in_a_tagged_folder(run_dir, tmp_path, capsys):
    folder = tmp_path / "to-tag"
    folder.mkdir()
    shutil.copy(DEMO_FILE, folder / "a.flac")
    result = cli(capsys, "tag", run_dir, folder, "-o", folder / "tags.wav", "--quiet")
    assert_user_error(result, f"-o {folder / 'tags.wav'}", f"lies in {folder}", "would be read as one",
                      only_line=True)
    assert sorted(p.name for p in folder.iterdir()) == ["a.flac"]
    # an output there that would not be tagged is fine (soundtag tag . -o tags.json)
    result = cli(capsys, "tag", run_dir, folder, "-o", folder / "tags.json", "--quiet")
    assert result.returncode == 0, result.stderr
    assert [r["file"] for r in json.loads((folder / "tags.json").read_text())["files"]] == [str(folder / "a.flac")]


# --- 2: ... nor any other input: run files, corpus CSVs, shards, configs ----------------------------


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A copy of the demo corpus (its CSVs must survive a refused command)."""
    return Path(shutil.copytree(DEMO, tmp_path / "corpus"))


def test_2_outputs_may_not_replace_run_files(run_copy, audio, capsys):
    run_dir = run_copy
    before = snapshot(run_dir / "best.pt", run_dir / "config.yaml")
    for args, output in [
        (["tag", run_dir, audio, "-o", run_dir / "best.pt"], run_dir / "best.pt"),
        (["export", run_dir, "--format", "torchscript", "-o", run_dir / "best.pt"], run_dir / "best.pt"),
        (["predict", run_dir, "-o", run_dir / "config.yaml", "--quiet"], run_dir / "config.yaml"),
    ]:
        assert_user_error(cli(capsys, *args), str(output), "an input of this command", only_line=True)
    assert snapshot(run_dir / "best.pt", run_dir / "config.yaml") == before


def test_2_predict_may_not_replace_a_corpus_csv(run_dir, corpus, capsys):
    train_csv = corpus / "train.csv"
    before = snapshot(train_csv)
    result = cli(capsys, "predict", run_dir, "--corpus", corpus, "-o", corpus / "." / "train.csv", "--quiet")
    assert_user_error(result, f"-o {corpus / '.' / 'train.csv'}", str(train_csv), only_line=True)
    assert snapshot(train_csv) == before


def test_2_predict_may_not_replace_a_manifest_corpus(run_dir, tmp_path, capsys):
    from tests.helpers import DEMO

    rows = [f"audio_test/{f},{label},1,test" for f, label in
            (line.split(",")[:2] for line in (DEMO / "test.csv").read_text().splitlines()[1:4])]
    manifest = tmp_path / "sounds" / "manifest.csv"
    manifest.parent.mkdir()
    (manifest.parent / "audio_test").symlink_to(DEMO / "audio_test")
    manifest.write_text("fname,labels,verified,split\n" + "\n".join(rows) + "\n")
    before = snapshot(manifest)
    result = cli(capsys, "predict", run_dir, "--corpus", manifest, "-o", manifest, "--quiet")
    assert_user_error(result, f"-o {manifest}", "an input of this command", only_line=True)
    assert snapshot(manifest) == before


def test_2_other_commands_refuse_their_inputs_as_outputs(run_copy, corpus, tmp_path, capsys):
    run_dir = run_copy
    shard = tmp_path / "t.shard-1-of-1.jsonl"
    shard.write_text(json.dumps({"file": "a.wav", "duration": 1.0, "tags": []}) + "\n")
    config = tmp_path / "demo.yaml"
    shutil.copy(DEMO_CONFIG, config)
    before = snapshot(shard, config)
    for args, fragments in [
        (["merge", shard, "-o", shard], [f"-o {shard}", "an input of this command"]),
        (["train", config, "--out-dir", config], [f"--out-dir {config}", "an input of this command"]),
        (["ensemble", run_dir, "--out-dir", run_dir], [f"--out-dir {run_dir}", "an input of this command"]),
        (["features", "--corpus", corpus, "--cache-dir", corpus],
         [f"--cache-dir {corpus}", "an input of this command"]),
    ]:
        assert_user_error(cli(capsys, *args), *fragments, only_line=True)
    assert snapshot(shard, config) == before
    assert sorted(p.name for p in corpus.iterdir()) == sorted(p.name for p in DEMO.iterdir())


# --- 15: unwritable outputs are one line, before any work --------------------------------------------


def test_15_outputs_under_a_file_or_naming_a_file_are_refused_before_work(run_dir, audio, tmp_path, capsys,
                                                                         monkeypatch):
    from soundtag.inference import Tagger

    def no_work(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(Tagger, "from_run", no_work)
    notes = tmp_path / "notes.txt"
    notes.write_text("a file")
    for args, fragments in [
        (["tag", run_dir, audio, "-o", notes / "out.json"], [f"-o {notes / 'out.json'}", f"{notes} is a file"]),
        (["tag", run_dir, audio, "-o", tmp_path], [f"-o {tmp_path}", "is a folder"]),
        (["features", "--corpus", DEMO, "--cache-dir", notes], [f"--cache-dir {notes}", "is a file, not a folder"]),
        (["ensemble", run_dir, "--out-dir", notes], [f"--out-dir {notes}", "is a file, not a folder"]),
        (["train", DEMO_CONFIG, "--out-dir", notes / "run"], [f"--out-dir {notes / 'run'}", f"{notes} is a file"]),
        (["evaluate", run_dir, "--cache-dir", notes / "c"], [f"--cache-dir {notes / 'c'}", f"{notes} is a file"]),
    ]:
        assert_user_error(cli(capsys, *args), *fragments, only_line=True)
    assert notes.read_text() == "a file"


MAIN_SCRIPT = """
import contextlib, io, json, resource, sys
from soundtag.cli.main import main
results = []
for limit, argv in json.loads(sys.argv[1]):
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit if limit else resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # what the user would see as a traceback
            code, err = 99, io.StringIO("Traceback: " + repr(exc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


def run_main_in_subprocess(commands: list[tuple[int | None, list]], prefix: list[str], cwd: Path,
                           env: dict[str, str]) -> list[Result]:
    """Run ``main(argv)`` for each (file-size limit in bytes or None, argv) in one fresh process."""
    plan = json.dumps([[limit, [str(a) for a in argv]] for limit, argv in commands])
    done = subprocess.run([*prefix, sys.executable, "-c", MAIN_SCRIPT, plan], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return [Result(code, "", err) for code, err in json.loads(done.stdout.splitlines()[-1])]


@pytest.fixture
def shared_dir():
    """A folder another user can enter (pytest's own temporary folders are private to this user)."""
    path = Path(tempfile.mkdtemp(prefix="soundtag-outputs-"))
    path.chmod(0o755)
    yield path
    for sub in [path, *path.rglob("*")]:
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path)


def test_15_read_only_places_are_refused_before_work(run_dir, shared_dir):
    """As root (where permission bits do not apply) the commands run as 'nobody' via setpriv, as
    tests/test_bad_input.py does; as another user the folders are made read-only instead."""
    root = os.geteuid() == 0
    setpriv = shutil.which("setpriv")
    if root and setpriv is None:
        pytest.skip("needs setpriv to run the CLI as another user")
    base = shared_dir
    run = Path(shutil.copytree(run_dir, base / "run"))
    locked = base / "locked"
    locked.mkdir()
    audio = base / "a.flac"
    shutil.copy(DEMO_FILE, audio)
    writable = base / "writable"
    writable.mkdir()
    for path in [base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    if root:
        os.chown(writable, NOBODY, NOBODY)
        prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    else:
        prefix = []
        for path in (locked, run):
            path.chmod(0o555)
    env = subprocess_env(writable / "xdg")
    env["HOME"] = str(writable)
    cache = writable / "cache"
    evaluated, resumed, tagged = run_main_in_subprocess([
        (None, ["evaluate", run, "--corpus", DEMO, "--cache-dir", cache, "--quiet"]),
        (None, ["train", "--resume", run, "--quiet"]),
        (None, ["tag", run, audio, "-o", locked / "out.json", "--quiet"]),
    ], prefix, writable, env)
    assert_user_error(evaluated, str(run / "eval-test"), f"no new file can be made in {run}", "permission denied",
                      only_line=True)
    assert not cache.exists()  # refused before any feature was computed
    assert_user_error(resumed, f"--resume {run}", "permission denied", only_line=True)
    assert_user_error(tagged, f"-o {locked / 'out.json'}", f"no new file can be made in {locked}", only_line=True)
    assert "tagged" not in tagged.stderr and not list(locked.iterdir())


# --- 16: a full disk is one line, and the old output stays --------------------------------------------


def test_16_a_full_disk_keeps_the_old_output_and_says_so(run_dir, audio, tmp_path):
    """A file-size limit (RLIMIT_FSIZE) makes writes fail with EFBIG, as a full disk fails them with ENOSPC."""
    out = tmp_path / "tags.json"
    out.write_text("old tags\n")
    cache = tmp_path / "cache"
    tagged, extracted = run_main_in_subprocess([
        (200, ["tag", run_dir, audio, "-o", out, "--quiet"]),
        (2000, ["features", "--corpus", DEMO, "--cache-dir", cache, "--workers", "0", "--quiet"]),
    ], [], tmp_path, subprocess_env(tmp_path / "xdg"))
    assert_user_error(tagged, f"{out}: not written, the disk is full", "the previous file is unchanged",
                      only_line=True)
    assert out.read_text() == "old tags\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tags")) == []
    assert_user_error(extracted, str(cache), "not written, the disk is full", "nothing was written")
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]


# --- 14, 17: segment and hop are bounded and finite ------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [("--segment", "1e-7"), ("--hop", "1e-7"), ("--segment", "0"), ("--hop", "-1"), ("--segment", "86401")],
)
def test_14_segment_and_hop_are_bounded(run_dir, audio, capsys, option, value):
    result = cli(capsys, "tag", run_dir, audio, f"{option}={value}", "--quiet")
    assert_user_error(result, f"{option} {float(value):g}", "from 0.01 to 86400 seconds", only_line=True)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--segment", "nan"), ("--hop", "nan"), ("--segment", "inf"), ("--hop", "-inf"), ("--segment", "1e308")],
)
def test_17_non_finite_segment_and_hop_are_one_line(run_dir, audio, capsys, option, value):
    result = cli(capsys, "tag", run_dir, audio, f"{option}={value}", "--quiet")  # = lets argparse take -inf
    assert_user_error(result, option, "from 0.01 to 86400 seconds", only_line=True)


# --- 19: merge names the file (and line) it cannot use ----------------------------------------------


def test_19_merge_of_unusable_shards_is_one_line_naming_the_file(tmp_path, capsys):
    shard = tmp_path / "t.shard-1-of-1.jsonl"
    good = json.dumps({"file": "a.wav", "duration": 1.0, "tags": [{"label": "Bark", "probability": 0.5}]})
    cases = [
        (lambda: None, [f"{shard}: cannot read the shard", "no such file or directory"]),
        (lambda: shard.mkdir(), [f"{shard}: cannot read the shard", "is a directory"]),
        (lambda: shard.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" * 8), [f"{shard}:1: not UTF-8 text"]),
        (lambda: shard.write_text(good + "\n" + '{"file": "b.wav"}' + "\n"),
         [f"{shard}:2: not a soundtag tag record", "no 'duration'"]),
        (lambda: shard.write_text(good + "\n" + '{"duration": 1.0, "tags": []}' + "\n"), [f"{shard}:2:", "'file'"]),
        (lambda: shard.write_text(good + "\n\n{oops\n"), [f"{shard}:3: not a JSON line"]),
    ]
    for make, fragments in cases:
        if shard.is_dir():
            shard.rmdir()
        make()
        result = cli(capsys, "merge", shard, "-o", tmp_path / "merged.jsonl", "--format", "csv")
        assert_user_error(result, *fragments, only_line=True)
    assert not (tmp_path / "merged.jsonl").exists()


# --- 26: shards merge, CSV lists failures and never runs formulas ------------------------------------


@pytest.fixture
def tag_folder(tmp_path) -> Path:
    """Two good files (one long enough for segments), a corrupt file, flat so every order agrees."""
    folder = tmp_path / "audio"
    folder.mkdir()
    shutil.copy(DEMO_FILE, folder / "a.flac")
    sf.write(folder / "b.wav", sine(440, 2.5, SR), SR)
    write_corrupt_audio(folder / "c.wav")
    return folder


def test_26_sharded_tagging_in_the_default_format_merges_to_the_unsharded_output(run_dir, tag_folder, tmp_path,
                                                                                 capsys):
    whole = tmp_path / "whole.json"
    assert cli(capsys, "tag", run_dir, tag_folder, "-o", whole, "--quiet").returncode == 1  # c.wav failed
    for k in (1, 2):
        result = cli(capsys, "tag", run_dir, tag_folder, "--shard", f"{k}/2", "-o", tmp_path / "tags.json", "--quiet")
        assert result.returncode == (0 if ", 0 failed" in result.stderr else 1), result.stderr
        assert f"wrote {tmp_path / f'tags.shard-{k}-of-2.jsonl'}" in result.stderr
    shards = sorted(tmp_path.glob("tags.shard-*-of-2.jsonl"))
    assert len(shards) == 2
    merged = tmp_path / "merged.json"
    result = cli(capsys, "merge", *shards, "-o", merged, "--format", "json")
    assert result.returncode == 0, result.stderr
    merged_doc, whole_doc = json.loads(merged.read_text()), json.loads(whole.read_text())
    for document in (merged_doc, whole_doc):  # the same run and settings, tagged at other moments
        del document["provenance"]["created"]
    assert merged_doc == whole_doc
    refused = cli(capsys, "tag", run_dir, tag_folder, "--shard", "1/2", "--format", "csv", "-o", tmp_path / "t.csv")
    assert_user_error(refused, "sharded tagging writes JSON lines", "--format csv to soundtag merge", only_line=True)


def test_26_csv_lists_failed_files(run_dir, tag_folder, tmp_path, capsys):
    out = tmp_path / "tags.csv"
    result = cli(capsys, "tag", run_dir, tag_folder, "--format", "csv", "-o", out, "--quiet")
    assert result.returncode == 1, result.stderr  # c.wav failed
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["file", "level", "start", "end", "rank", "label", "probability", "error"]
    errors = [row for row in rows if row["level"] == "error"]
    assert [row["file"] for row in errors] == [str(tag_folder / "c.wav")] and errors[0]["error"]
    assert {row["file"] for row in rows} == {str(tag_folder / n) for n in ("a.flac", "b.wav", "c.wav")}


def test_26_csv_cells_that_would_be_formulas_are_escaped(run_dir, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "audio"
    folder.mkdir()
    names = ["=1+2.wav", "+cmd.wav", "-x.wav", "@SUM.wav", "plain.wav"]
    for name in names:
        sf.write(folder / name, sine(440, 0.5, SR), SR)
    monkeypatch.chdir(folder)
    result = cli(capsys, "tag", run_dir, ".", "--format", "csv", "-o", tmp_path / "tags.csv", "--quiet")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "tags.csv", newline="") as handle:
        files = {row["file"] for row in csv.DictReader(handle)}
    assert files == {"'=1+2.wav", "'+cmd.wav", "'-x.wav", "'@SUM.wav", "plain.wav"}
    # labels and error texts are cells like any other
    text = render([{"file": "a.wav", "duration": 1.0, "tags": [{"label": "=HYPERLINK(1)", "probability": 0.9}]}],
                  [{"file": "b.wav", "error": "-bad"}], "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][5] == "'=HYPERLINK(1)" and rows[2][7] == "'-bad" and rows[1][6] == "0.9"


# --- 6: JSON never holds NaN: a non-finite model output is a per-file error ---------------------------


def test_6_non_finite_model_output_is_an_error_record_never_nan(run_dir, tmp_path, capsys, monkeypatch):
    from soundtag.inference.tagger import Tagger

    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "good.wav", sine(440, 2.0, SR), SR)  # two whole 1 s segments
    sf.write(folder / "short.wav", sine(440, 0.5, SR), SR)  # one segment, shorter than the window
    original = Tagger.segment_probabilities

    def nan_for_short_segments(self, segments, sample_rate=None):
        probs = original(self, segments, sample_rate)
        probs[[len(s) < 0.75 * SR for s in segments]] = np.nan
        return probs

    monkeypatch.setattr(Tagger, "segment_probabilities", nan_for_short_segments)

    def strict(token):
        raise AssertionError(f"{token} in JSON output")

    good, error = str(folder / "good.wav"), {"file": str(folder / "short.wav"), "error": "model output is not finite"}
    for fmt in ("json", "jsonl", "csv"):
        out = tmp_path / f"tags.{fmt}"
        result = cli(capsys, "tag", run_dir, folder, "--format", fmt, "-o", out, "--quiet")
        assert result.returncode == 1, result.stderr
        assert f"could not tag {folder / 'short.wav'}: model output is not finite" in result.stderr
        text = out.read_text()
        if fmt == "json":
            document = json.loads(text, parse_constant=strict)
            assert document["failed"] == [error] and [f["file"] for f in document["files"]] == [good]
        elif fmt == "jsonl":
            provenance, *records = [json.loads(line, parse_constant=strict) for line in text.splitlines()]
            assert set(provenance) == {"soundtag"} and records[1:] == [error]
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
            assert {r["file"] for r in rows if r["level"] != "error"} == {good}
            assert [(r["file"], r["error"]) for r in rows if r["level"] == "error"] == [tuple(error.values())]
            assert all(np.isfinite(float(r["probability"])) for r in rows if r["level"] != "error")
