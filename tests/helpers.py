"""Small helpers shared by the tests: paths of the real corpora, signals and odd files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = REPO_ROOT / "data" / "demo"
FSD_MINI = REPO_ROOT / ".." / "shared" / "datasets" / "fsd-mini"


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV as dicts, read with the csv module (independently of soundtag)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write a CSV with ``header`` and ``rows``."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def sine(freq: float, seconds: float, sample_rate: int, amplitude: float = 0.5) -> np.ndarray:
    """A float32 sine of ``seconds`` seconds."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(signal: np.ndarray, sample_rate: int) -> float:
    """Frequency (Hz) of the largest FFT magnitude of ``signal`` (Hann-windowed)."""
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / sample_rate)[np.argmax(spectrum)])


def write_nan_wav(path: Path, sample_rate: int = 16000) -> Path:
    """A float WAV whose samples include NaN and inf."""
    data = sine(440, 0.5, sample_rate)
    data[100] = np.nan
    data[200] = np.inf
    sf.write(path, data, sample_rate, subtype="FLOAT")
    return path


def write_corrupt_audio(path: Path) -> Path:
    """A file named like audio holding a broken RIFF header followed by junk."""
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    return path


@dataclass(frozen=True)
class Result:
    """What a run of the CLI returned and printed."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("soundtag: error:")]


def assert_user_error(result: Result, *fragments: str, only_line: bool = False) -> None:
    """Exit 2, one ``soundtag: error:`` line naming every fragment, no traceback; with ``only_line``
    nothing else on stderr."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert len(result.error_lines) == 1, result.stderr
    if only_line:
        assert result.stderr.strip() == result.error_lines[0]
    for fragment in fragments:
        assert fragment in result.error_lines[0], result.error_lines[0]


def documented_shape(config, n: int) -> tuple[int, int]:
    """(bins, frames) of ``n`` samples' features as the configs document them: centred frames,
    1 + n // hop of them."""
    from soundtag.config import MfccConfig, RawConfig, SpectrogramConfig

    if isinstance(config, RawConfig):
        return (1, n)
    frames = 1 + n // config.hop_length
    if isinstance(config, SpectrogramConfig):
        return (config.n_fft // 2 + 1, config.n_frames or frames)
    if isinstance(config, MfccConfig):
        return (config.n_mfcc * (1 + config.deltas), frames)
    return (config.n_mels, frames)


def make_soundscapes(out: Path, *args: str) -> Path:
    """Run ``scripts/make_soundscapes.py`` on the demo corpus into ``out`` (``args``: its options) and
    return ``out``; the script is loaded from its file, as it is no package module."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("make_soundscapes", REPO_ROOT / "scripts" / "make_soundscapes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert module.main([str(DEMO), str(out), *args]) == 0
    return out
