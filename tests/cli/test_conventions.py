"""The conventions every command keeps (README, "Command-line conventions"): one spelling per kind of
output, help with defaults, data on stdout and diagnostics on stderr, ``--json`` summaries, exit statuses
0/1/2/130 with ``--strict``, ``-v`` and logging a host program can route, and what training says.

Training runs on a corpus of twelve one-second tones in two class folders. With two classes and two
validation clips, the validation MAP@3 takes one of three values (0.5, 0.75, 1), so it cannot rise four
epochs in a row: ``train.patience=1`` stops training before ``train.epochs=5``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundtag.cli.main import build_parser, main
from tests.helpers import DEMO, Result, assert_user_error, sine, write_corrupt_audio
from tests.training.tiny_run import DEMO_CONFIG, TINY, shared_cache_dir, single_thread_torch

SR = 16000
OLD_SPELLINGS = ("--out", "--submission", "--config")


def run_cli(*args: object) -> Result:
    """``soundtag ARGS`` in this process, with stdout and stderr captured (neither is a terminal)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = exc.code
    return Result(code, out.getvalue(), err.getvalue())


def parsers() -> dict[str, argparse.ArgumentParser]:
    """The top-level parser and every subcommand's, by name."""
    top = build_parser()
    (commands,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return {"soundtag": top, **commands.choices}


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's arguments, less --help, --version and the subcommand list."""
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [action for action in parser._actions if not isinstance(action, skip)]


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    """Two class folders of six one-second tones with a little noise."""
    root = tmp_path_factory.mktemp("tones")
    rng = np.random.default_rng(0)
    for label, freq in (("high", 2000.0), ("low", 200.0)):
        (root / label).mkdir()
        for i in range(6):
            noise = 0.01 * rng.standard_normal(SR).astype(np.float32)
            sf.write(root / label / f"{i}.wav", sine(freq * (1 + 0.05 * i), 1.0, SR) + noise, SR)
    return root


@pytest.fixture(scope="module")
def training(tones, tmp_path_factory) -> tuple[Path, list, Result]:
    """The tone run trained once (at most 5 epochs, patience 1): its folder, its command and what it printed."""
    run_dir = tmp_path_factory.mktemp("conventions") / "run"
    sets = [item for override in [*TINY, "train.epochs=5", "train.patience=1"] for item in ("--set", override)]
    args = ["train", DEMO_CONFIG, "--corpus", tones, "--out-dir", run_dir, "--quiet",
            "--cache-dir", shared_cache_dir(tmp_path_factory), *sets]
    with single_thread_torch():
        result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return run_dir, args, result


# --- options -------------------------------------------------------------------------------------


def test_every_option_has_help_and_says_its_default():
    for name, parser in parsers().items():
        for action in options(parser):
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help.strip(), f"{label}: no help text"
            flag = action.nargs == 0  # on or off: the default is off
            if not flag and action.default not in (None, argparse.SUPPRESS):
                assert "default" in action.help, f"{label}: default {action.default!r} not in its help"


def test_outputs_are_spelled_out_dir_and_output_and_the_old_names_are_hidden():
    for name, parser in parsers().items():
        shown = {string for action in options(parser) for string in action.option_strings}
        assert not shown & set(OLD_SPELLINGS), name
        assert not {s for s in shown if "out" in s} - {"--out-dir", "--output"}, name
        assert not any(old in parser.format_help() for old in ("--out ", "--submission", "--config")), name


@pytest.mark.parametrize(("argv", "dest", "new"), [
    (["train", "c.yaml", "--out", "runs/x"], "out_dir", "--out-dir"),
    (["ensemble", "r1", "--out", "ens"], "out_dir", "--out-dir"),
    (["predict", "run", "--submission", "s.csv"], "output", "-o/--output"),
])
def test_the_old_names_still_work_with_one_warning(argv, dest, new, capsys):
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == argv[-1]
    assert capsys.readouterr().err == f"soundtag: warning: {argv[-2]} is deprecated and will go; use {new}\n"


def test_verbose_is_taken_before_and_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["corpus", "x"]).verbose == 0
    assert parser.parse_args(["-v", "corpus", "x"]).verbose == 1
    assert parser.parse_args(["corpus", "x", "-vv"]).verbose == 2


# --- exit statuses -------------------------------------------------------------------------------


@pytest.fixture
def bad_folder(tmp_path) -> Path:
    """A good tone and a corrupt file."""
    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "good.wav", sine(440, 0.5, SR), SR)
    write_corrupt_audio(folder / "bad.wav")
    return folder


def test_exit_0_when_everything_is_done():
    assert run_cli("corpus", DEMO).returncode == 0


def test_exit_1_when_some_inputs_failed_and_the_rest_is_done(bad_folder, tmp_path):
    result = run_cli("features", "--corpus", bad_folder, "--cache-dir", tmp_path / "cache", "--workers", "0")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("2 clips (0 already cached, 1 extracted, 1 failed)")
    assert result.stderr.startswith(f"soundtag: warning: could not read {bad_folder / 'bad.wav'}: ")
    assert len(result.stderr.splitlines()) == 1  # no progress bar: stderr is not a terminal


def test_exit_1_with_an_error_line_under_strict(bad_folder, tmp_path):
    result = run_cli("features", "--corpus", bad_folder, "--cache-dir", tmp_path / "cache", "--workers", "0",
                     "--strict")
    assert result.returncode == 1 and result.stdout == ""
    assert result.error_lines == ["soundtag: error: 1 file(s) could not be read (--strict); the others are cached"]


def test_exit_1_when_there_is_nothing_to_do(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("features", "--corpus", tmp_path / "empty", "--cache-dir", tmp_path / "cache")
    assert result.returncode == 1 and result.stdout.startswith("0 clips")


@pytest.mark.parametrize(("args", "fragments"), [
    (["features", "--set", "features.nope=1"], ["features.nope"]),
    (["features", str(DEMO)], [f"{DEMO}: is a folder, not a config", f"--corpus {DEMO}"]),
    (["train", str(DEMO / "audio_test" / "01423593.flac")], ["is audio, not a config", "--corpus"]),
])
def test_exit_2_for_a_config_error(args, fragments):
    assert_user_error(run_cli(*args), *fragments, only_line=True)


def test_exit_2_for_a_usage_error():
    result = run_cli("features", "--no-such-option")
    assert result.returncode == 2 and "unrecognized arguments: --no-such-option" in result.stderr


def test_exit_130_when_interrupted(monkeypatch):
    from soundtag.cli import corpus

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus, "run", interrupted)
    result = run_cli("corpus", DEMO)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "soundtag: interrupted\n")


# --- --json ------------------------------------------------------------------------------------


def json_object(result: Result) -> dict:
    """The one JSON object that is the whole of stdout."""
    (line,) = result.stdout.splitlines()
    data = json.loads(line)
    assert isinstance(data, dict)
    return data


def test_features_json(tones, tmp_path):
    result = run_cli("features", "--corpus", tones, "--cache-dir", tmp_path / "cache", "--workers", "0", "--json")
    assert result.returncode == 0 and result.stderr == ""  # no progress bar off a terminal, even without --quiet
    summary = json_object(result)
    assert (summary["clips"], summary["extracted"], summary["failed"], summary["left_out"]) == (12, 12, [], [])


def test_train_json(training):
    run_dir, _, _ = training
    result = run_cli("train", "--resume", run_dir, "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json_object(result)
    assert summary["run"] == str(run_dir) and summary["next"] == f"soundtag evaluate {run_dir}"
    assert summary["epochs_run"] == summary["best_epoch"] + 1 and (summary["max_epochs"], summary["patience"]) == (5, 1)
    assert summary["stopped_early"] and summary["already_finished"] and summary["score_name"] == "val MAP@3"


def test_evaluate_json(training):
    run_dir, _, _ = training
    result = run_cli("evaluate", run_dir, "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    metrics = json_object(result)
    assert metrics["split"] == "test" and metrics["n_clips"] >= 2 and 0.5 <= metrics["map3"] <= 1.0


def test_experiment_json(tmp_path, monkeypatch):
    import soundtag.experiment
    from soundtag.reports.summary import ExperimentSummary, StageScores

    summary = ExperimentSummary({"all_labels": StageScores(map3=0.5, accuracy=0.25, n_clips=34)}, {"train": 1.0},
                                "all", "latents", {}, {})
    monkeypatch.setattr(soundtag.experiment, "run_experiment", lambda *args, **kwargs: summary)
    result = run_cli("experiment", DEMO_CONFIG, "--out-dir", tmp_path / "exp", "--json")
    assert result.returncode == 0, result.stderr
    data = json_object(result)
    assert data["report"] == str(tmp_path / "exp" / "report.html")
    assert data["stages"]["all_labels"]["map3"] == 0.5


# --- what training says, and logging ------------------------------------------------------------


def test_training_prints_its_result_once_why_it_stopped_and_the_next_command(training):
    run_dir, _, result = training
    found = re.fullmatch(r"best val MAP@3 (\d\.\d{4}) at epoch (\d); stopped early after epoch (\d) of 5: no better "
                         rf"val MAP@3 in 1 epoch \(patience 1\); run: {re.escape(str(run_dir))}\n", result.stdout)
    assert found, result.stdout
    best, stopped = int(found[2]), int(found[3])
    assert stopped == best + 1
    assert result.stderr == f"next: soundtag evaluate {run_dir}\n"  # no log records without -v
    log = (run_dir / "train.log").read_text()
    assert f"epoch {stopped}:" in log and f"epoch {stopped + 1}:" not in log
    assert f"stopped early after epoch {stopped} of 5" in log


def test_a_finished_run_trained_again_is_already_finished_and_logs_through_soundtag(training, caplog):
    run_dir, args, _ = training
    with caplog.at_level(logging.INFO, logger="soundtag"):
        result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("already finished: best val MAP@3 ") and "; stopped early after" in result.stdout
    assert "resumed" not in result.stdout + (run_dir / "train.log").read_text()
    finished = [r for r in caplog.records if r.name == "soundtag.training" and "already finished" in r.getMessage()]
    assert len(finished) == 1 and finished[0].levelno == logging.INFO  # it reached the root logger's handler
    assert logging.getLogger("soundtag.training").propagate
    assert logging.getLogger("soundtag").handlers == []  # the command's stderr handler is gone again


def test_verbose_shows_progress_records_on_stderr(training):
    run_dir, _, _ = training
    quiet, verbose = (run_cli("train", "--resume", run_dir, "--quiet", *extra) for extra in ([], ["-v"]))
    assert "already finished after epoch" not in quiet.stderr
    assert "already finished after epoch" in verbose.stderr
    assert quiet.stdout == verbose.stdout and len(verbose.stdout.splitlines()) == 1
