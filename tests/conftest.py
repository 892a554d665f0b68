"""Shared fixtures: the real corpora (read-only), tiny generated audio files, and cache isolation.

Nothing here writes outside ``tmp_path``: the demo corpus, fsd-mini and ``~/.cache`` are left alone
(``guard_corpora`` fails the session if a test wrote inside a corpus).
"""

from __future__ import annotations

import os
import re

# One compute thread unless the caller chose otherwise (set before torch is imported; subprocesses
# inherit it). The tests run many small tensor ops, for which a second OpenMP thread only adds
# spin-waiting, and on a busy machine that made the suite several times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import settings

from tests.helpers import DEMO, FSD_MINI

CORPORA = (DEMO, FSD_MINI)


def pytest_addoption(parser):
    parser.addoption(
        "--device", default="cpu", metavar="DEVICE",
        help="torch device of the tests that take the `device` fixture (cpu, cuda, cuda:1, mps; default cpu); "
             "they are skipped when the device is not available",
    )


def pytest_configure(config):
    name = config.getoption("--device")
    if not re.fullmatch(r"(cpu|cuda|mps)(:\d+)?", name):
        raise pytest.UsageError(f"--device {name}: the device tests run on cpu, cuda, cuda:N or mps")


@pytest.fixture(scope="session")
def device(request):
    """The ``torch.device`` given with ``--device`` (default ``cpu``); skips the test when that device is
    not available here, as torchaudio's ``*_cuda_test.py`` skip without a GPU."""
    import torch

    name = request.config.getoption("--device")
    chosen = torch.device(name)
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            pytest.skip(f"--device {name}: CUDA is not available (torch.cuda.is_available() is False)")
        if (chosen.index or 0) >= torch.cuda.device_count():
            pytest.skip(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif chosen.type == "mps" and not torch.backends.mps.is_available():
        pytest.skip(f"--device {name}: MPS is not available")
    return chosen


# Property tests: no deadline (the first call builds filterbanks), no example database written into
# the repository, and a fixed seed so a failure reproduces on the next run.
settings.register_profile("soundtag", deadline=None, database=None, derandomize=True, max_examples=25)
settings.load_profile("soundtag")


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="session", autouse=True)
def guard_corpora():
    """Fail loudly if any test created, changed or deleted a file inside a shared corpus."""
    before = {root: _snapshot(root) for root in CORPORA if root.is_dir()}
    yield
    for root, snapshot in before.items():
        assert _snapshot(root) == snapshot, f"a test wrote inside the corpus {root}"


@pytest.fixture(autouse=True)
def isolated_cache_home(tmp_path_factory, monkeypatch) -> Path:
    """Point the default cache (``$XDG_CACHE_HOME/soundtag``) into a temporary folder."""
    home = tmp_path_factory.getbasetemp() / "xdg-cache"  # created only if something writes there
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def demo_root() -> Path:
    """The embedded demo corpus (read-only)."""
    assert (DEMO / "train.csv").is_file(), f"demo corpus missing at {DEMO}"
    return DEMO


@pytest.fixture(scope="session")
def fsd_mini_root() -> Path:
    """The shared fsd-mini corpus (read-only); tests using it skip when it is absent."""
    if not (FSD_MINI / "train.csv").is_file():
        pytest.skip(f"fsd-mini corpus not found at {FSD_MINI}")
    return FSD_MINI.resolve()


@pytest.fixture(scope="session")
def demo_train_files(demo_root) -> list[Path]:
    """The demo's train audio files, sorted by name."""
    return sorted((demo_root / "audio_train").iterdir())


@pytest.fixture(scope="session")
def demo_signals(demo_train_files) -> list[np.ndarray]:
    """Six real demo clips decoded with soundtag at 32 kHz (different lengths)."""
    from soundtag.audio import load_audio

    return [load_audio(path, 32000) for path in demo_train_files[:6]]


@pytest.fixture
def write_audio(tmp_path) -> Callable[..., Path]:
    """Write ``data`` as an audio file under ``tmp_path`` and return its path."""

    def write(name: str, data: np.ndarray, sample_rate: int = 16000, **kwargs) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, data, sample_rate, **kwargs)
        return path

    return write
