"""soundtag.inference.graph: tagging with an exported ONNX graph never imports torch, on the threads asked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from soundtag.inference.export import export_run
from soundtag.inference.graph import ExportedTagger
from tests.helpers import DEMO
from tests.training.tiny_run import single_thread_torch


@pytest.fixture(scope="module")
def onnx_model(tiny_run, tmp_path_factory):
    with single_thread_torch():
        return export_run(tiny_run, "onnx", tmp_path_factory.mktemp("graph") / "model.onnx")


@pytest.mark.e2e
def test_tagging_a_file_with_an_onnx_model_never_imports_torch(onnx_model):
    clip = sorted((DEMO / "audio_test").iterdir())[0]
    code = ("import sys\nfrom soundtag.cli.main import main\n"
            f"status = main(['tag', {str(onnx_model)!r}, {str(clip)!r}, '--threads', '1'])\n"
            "print('torch' in sys.modules, file=sys.stderr)\nsys.exit(status)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "False"
    assert json.loads(done.stdout)["files"][0]["tags"]


def test_the_session_runs_on_the_threads_asked(onnx_model):
    tagger = ExportedTagger(onnx_model, threads=1)
    assert tagger.session.get_session_options().intra_op_num_threads == 1
    assert ExportedTagger(onnx_model).session.get_session_options().intra_op_num_threads == 0  # its own choice
