"""Decode wav, flac, ogg/vorbis and mp3 with soundfile into mono float32 at a chosen rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from soundtag.audio.resample import resample
from soundtag.errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3")


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds before decoding: rate, channels and length."""

    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def is_audio_file(path: str | Path) -> bool:
    """True when ``path`` has one of the audio extensions soundtag decodes."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def open_audio(path: str | Path) -> sf.SoundFile:
    """Open ``path`` for reading, turning every failure into a one-line :class:`AudioError`."""
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a folder, not an audio file")
    try:
        if path.stat().st_size == 0:
            raise AudioError(path, "empty file (0 bytes)")
        with open(path, "rb"):  # the system's reason (e.g. permission denied): libsndfile says "System error"
            pass
        handle = sf.SoundFile(path)
    except PermissionError:
        raise AudioError(path, "permission denied") from None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(path, f"not a readable audio file ({_reason(exc)})") from None
    except OSError as exc:
        raise AudioError(path, f"cannot read ({exc.strerror or exc})") from None
    if handle.samplerate <= 0 or handle.channels <= 0:
        handle.close()
        raise AudioError(path, "invalid header (no sample rate or channels)")
    return handle


def _reason(exc: Exception) -> str:
    """The libsndfile message without soundfile's 'Error opening ...' prefix."""
    text = str(getattr(exc, "error_string", "") or exc)
    text = text.split(": ", 1)[-1].strip().rstrip(".") or type(exc).__name__
    # libsndfile's mp3 reader says this of an existing file in which it finds no mp3 frame
    return "no audio stream found" if text.startswith("File does not exist or is not a regular file") else text


def audio_info(path: str | Path) -> AudioInfo:
    """Read the header of ``path``."""
    with open_audio(path) as handle:
        return AudioInfo(handle.samplerate, handle.channels, handle.frames)


def to_mono(block: np.ndarray) -> np.ndarray:
    """Mix a (frames, channels) block down to mono by the mean over channels."""
    return block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]


def check_samples(path: str | Path, samples: np.ndarray) -> np.ndarray:
    """Reject signals with no samples or with NaN/inf values."""
    if samples.size == 0:
        raise AudioError(path, "contains no audio samples")
    if not np.isfinite(samples).all():
        raise AudioError(path, "contains NaN or infinite samples")
    return samples


def load_audio(
    path: str | Path,
    sample_rate: int | None = None,
    *,
    offset: float = 0.0,
    duration: float | None = None,
    quality: str = "HQ",
) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` (the file's own rate when None).

    ``offset`` and ``duration`` (seconds) read a part of the file without decoding the rest.
    """
    with open_audio(path) as handle:
        native_sr = handle.samplerate
        start = int(round(offset * native_sr))
        frames = -1 if duration is None else int(round(duration * native_sr))
        try:
            if start:
                handle.seek(min(start, handle.frames))
            block = handle.read(frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioError(path, f"corrupt audio data ({_reason(exc)})") from None
    samples = check_samples(path, to_mono(block))
    return resample(samples, native_sr, sample_rate or native_sr, quality)
