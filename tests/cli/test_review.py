"""``soundtag review`` end to end on a tiny tone corpus, its refusals, and ``soundtag train --reviewed``."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from soundtag.cli.common import recipe_config
from soundtag.cli.main import build_parser, main
from tests.helpers import REPO_ROOT
from tests.labels.review.corpus import make_review_corpus
from tests.training.tiny_run import subprocess_env

pytest.importorskip("uvicorn", reason="soundtag review needs uvicorn (pip install 'soundtag[review]')")


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return make_review_corpus(tmp_path_factory.mktemp("tones"))


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.e2e
def test_review_prints_the_address_with_its_token_serves_it_and_stops_on_ctrl_c(tones, tmp_path):
    review_dir = tmp_path / "review"
    proc = subprocess.Popen([sys.executable, "-m", "soundtag", "review", str(tones), "--out-dir", str(review_dir),
                             "--host", "0.0.0.0", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=subprocess_env(tmp_path / "cache-home"))
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("http://0.0.0.0:") and "/?token=" in address, proc.stderr.read()
        local = address.replace("0.0.0.0", "127.0.0.1")
        base, token = local.split("/?token=")
        assert status(f"{base}/api/state?token={token}") == 200
        assert status(f"{base}/api/state") == 403
        assert status(f"{base}/api/state?token=x{token}") == 403
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "soundtag: warning: --host 0.0.0.0: the review page is open to other machines" in stderr
    assert "stopped: 0 of 9 clips reviewed" in stderr and "Traceback" not in stderr
    assert (review_dir / "reviewed.csv").read_text() == "fname,decision,label,time\n"
    assert (review_dir / "ranking.csv").is_file() and not (review_dir / ".soundtag.lock").exists()


def test_review_needs_a_corpus_and_never_writes_inside_it(tones, capsys):
    assert main(["review"]) == 2
    assert "review needs a CORPUS" in capsys.readouterr().err
    assert main(["review", str(tones), "--out-dir", str(tones / "review")]) == 2
    assert "lies inside the corpus" in capsys.readouterr().err


def test_train_reviewed_sets_the_config_field(tmp_path):
    reviewed = tmp_path / "reviewed.csv"
    args = build_parser().parse_args(["train", str(REPO_ROOT / "configs" / "demo.yaml"), "--reviewed", str(reviewed)])
    assert recipe_config(args).data.reviewed == str(reviewed.resolve())
