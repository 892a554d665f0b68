"""README.md's "### Python API" examples, run as doctests against a tiny demo run they train themselves.

The section must exist and hold ``>>>`` examples: a README whose examples were dropped or renamed
fails here rather than passing with nothing checked.
"""

from __future__ import annotations

import doctest
import re

import pytest

from soundtag.config import save_config
from tests.helpers import DEMO, REPO_ROOT
from tests.training.tiny_run import shared_cache_dir, single_thread_torch, tiny_config

README = REPO_ROOT / "README.md"
HEADING = "### Python API"
CLIP = DEMO / "audio_test" / "98057a60.flac"  # 4.4 s: several 1-s segments


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole line) up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    if heading not in lines:
        raise AssertionError(f"README.md has no heading {heading!r}: its examples are what this test runs")
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines))
                if re.match(rf"#{{1,{level}}} ", lines[i])), len(lines))
    return "\n".join(lines[start:end])


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of ``text``, in order."""
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_python_api_examples_run(tmp_path, tmp_path_factory, monkeypatch):
    examples = "\n".join(python_blocks(section(README.read_text(encoding="utf-8"), HEADING)))
    test = doctest.DocTestParser().get_doctest(examples, {}, "README.md: Python API", str(README), 0)
    assert len(test.examples) >= 5, f"README.md's {HEADING!r} section holds no >>> examples to run"
    config_file = tmp_path / "tiny-demo.yaml"
    save_config(tiny_config(shared_cache_dir(tmp_path_factory), "train.epochs=1"), config_file)
    test.globs.update(config_file=str(config_file), run_dir=str(tmp_path / "run"), clip=str(CLIP))
    monkeypatch.chdir(tmp_path)  # relative names in the examples resolve here, not in the repository
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    with single_thread_torch():
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
