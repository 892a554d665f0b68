"""Decode wav, flac, ogg/vorbis and mp3 with soundfile into mono float32 at a chosen rate.

Every read goes through :class:`AudioStream`, which decodes, checks and resamples a file a bounded
block at a time: what a header claims (its length, rate or channel count) never sizes an allocation,
so a file of any length, or one whose header lies, is read in the same few megabytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from soundtag.audio.files import check_file
from soundtag.audio.resample import resample, resample_stream
from soundtag.errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3")

#: Sample rates outside these bounds (Hz) are refused: no sound recording has them, and a rate of
#: 1 Hz would turn every byte of a file into seconds of audio once resampled.
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 1_000_000

#: Samples beyond +-MAX_PEAK (60 dB over full scale; float files may exceed 1.0) are refused: such a
#: file is not audio, and its power would overflow float32 features to inf.
MAX_PEAK = 1000.0

#: Samples per decoded block, before and after resampling: a block of the file, mixed to mono and
#: resampled, is at most this many float32 values (512 KiB) whatever the channels or the rates.
BLOCK_SAMPLES = 1 << 17

RateChoice = int | Callable[[int], int] | None
"""The rate to decode at: a rate in Hz, None for the file's own, or a function of the file's own rate
(e.g. :meth:`~soundtag.features.FeatureTransform.decode_rate`, for features that keep some rates)."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says before decoding: rate, channels and length (a claim, not a fact)."""

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
    """Open ``path`` for reading, turning every failure, and a header no audio can have, into a
    one-line :class:`AudioError`.
    """
    check_file(path)  # before anything opens it: a named pipe or a device is refused, never read
    try:
        with open(path, "rb"):  # the system's reason (e.g. permission denied): libsndfile says "System error"
            pass
        handle = sf.SoundFile(os.fsencode(path))  # bytes: a name that is not UTF-8 opens too
    except PermissionError:
        raise AudioError(path, "permission denied") from None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(path, f"not a readable audio file ({_reason(exc)})") from None
    except OSError as exc:
        raise AudioError(path, f"cannot read ({exc.strerror or exc})") from None
    problem = header_problem(handle.samplerate, handle.channels)
    if problem:
        handle.close()
        raise AudioError(path, problem)
    return handle


def header_problem(sample_rate: int, channels: int) -> str | None:
    """Why a header with this rate and channel count cannot be audio, or None."""
    if sample_rate <= 0 or channels <= 0:
        return "invalid header (no sample rate or channels)"
    if sample_rate < MIN_SAMPLE_RATE:
        return f"sample rate {sample_rate} Hz is too low for audio (below {MIN_SAMPLE_RATE} Hz)"
    if sample_rate > MAX_SAMPLE_RATE:
        return f"sample rate {sample_rate} Hz is absurd (above {MAX_SAMPLE_RATE} Hz)"
    return None


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


def check_samples(path: str | Path, samples: np.ndarray) -> float:
    """The peak level of a block of samples; NaN, infinite and absurdly loud samples are refused."""
    if samples.size == 0:
        return 0.0
    high, low = float(samples.max()), float(samples.min())  # NaN propagates through both
    if not (np.isfinite(high) and np.isfinite(low)):
        raise AudioError(path, "contains NaN or infinite samples")
    peak = max(high, -low)
    if peak > MAX_PEAK:
        raise AudioError(path, f"peak level {peak:.3g} is not audio (samples must lie within +-{MAX_PEAK:g}, "
                               f"60 dB over full scale)")
    return peak


class AudioStream:
    """One file decoded to mono float32 at ``sample_rate`` (a :data:`RateChoice`: the file's own rate
    when None; :attr:`output_rate` once the file is open), a block at a time: iterate to get
    consecutive blocks of about :data:`BLOCK_SAMPLES` samples at most. Every block is checked as it is
    read (:func:`check_samples`), so a bad sample stops the stream with an :class:`AudioError` naming
    the file; a file with no samples at all raises one at the end.

    ``offset`` and ``duration`` (seconds) read a part of the file; ``max_seconds`` stops the stream
    there and sets :attr:`cut` when the file goes on. After iterating, :attr:`samples` is the number of
    samples given, :attr:`peak` the largest absolute sample, :attr:`silent` says every sample was 0, and
    :attr:`decoded_seconds` is the length of what was read (the file is opened once: no header read
    is needed to know its duration).

    >>> stream = AudioStream("data/demo/audio_train/0357a3e9.flac", 16000)
    >>> sum(len(block) for block in stream) == stream.samples > 0
    True
    """

    def __init__(self, path: str | Path, sample_rate: RateChoice = None, *, quality: str = "HQ",
                 offset: float = 0.0, duration: float | None = None, max_seconds: float | None = None,
                 block_seconds: float | None = None) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.quality = quality
        self.offset = offset
        self.duration = duration
        self.max_seconds = max_seconds
        self.block_seconds = block_seconds
        self.samples = 0
        self.peak = 0.0
        self.cut = False
        self.source_frames = 0
        self.source_rate = 0
        self.output_rate = 0

    @property
    def decoded_seconds(self) -> float:
        """Seconds of the file read so far, at its own rate (from the frames decoded, not the header)."""
        return self.source_frames / self.source_rate if self.source_rate else 0.0

    @property
    def silent(self) -> bool:
        """Every sample read was 0 (digital silence)."""
        return self.samples > 0 and self.peak == 0.0

    @property
    def notes(self) -> list[str]:
        """What a user should know of the file once it is read: cut at ``max_seconds``, or silent."""
        notes = []
        if self.cut:
            notes.append(f"longer than audio.max_seconds: only its first {self.max_seconds:g} s are used")
        if self.silent:
            notes.append("silent: every sample is 0")
        return notes

    def __iter__(self) -> Iterator[np.ndarray]:
        self.samples, self.peak, self.cut, self.source_frames = 0, 0.0, False, 0
        with open_audio(self.path) as handle:
            yield from self._decode(handle)
        if self.samples == 0:
            raise AudioError(self.path, "contains no audio samples")

    def _decode(self, handle: sf.SoundFile) -> Iterator[np.ndarray]:
        native = self.source_rate = handle.samplerate
        choice = self.sample_rate
        rate = self.output_rate = (choice(native) if callable(choice) else choice) or native
        if self.offset > 0:
            self._seek(handle, int(round(self.offset * native)))
        until = int(round(self.duration * native)) if self.duration is not None else None
        cut_at = int(round(self.max_seconds * native)) if self.max_seconds is not None else None
        if cut_at is not None and until is not None and until <= cut_at:
            cut_at = None  # the part asked for is within the limit
        left = cut_at if cut_at is not None else until  # native frames still to read, or None: to the end
        step = max(1, min(BLOCK_SAMPLES // handle.channels, int(BLOCK_SAMPLES * native / rate),
                          int(self.block_seconds * native) if self.block_seconds else BLOCK_SAMPLES))
        resampler = None  # made at the second block: a file read in one block is resampled in one call
        while left is None or left > 0:
            want = step if left is None else min(step, left)
            block = self._read(handle, want)
            self.peak = max(self.peak, check_samples(self.path, block))
            left = None if left is None else left - len(block)
            self.source_frames += len(block)
            mono = to_mono(block)
            ended = len(block) < want
            if native == rate:
                yield from self._give(mono)
            elif ended and resampler is None:  # the same samples as a stream gives, 10 % faster per clip
                yield from self._give(resample(mono, native, rate, self.quality))
                return
            else:
                resampler = resampler or resample_stream(native, rate, self.quality)
                yield from self._give(resampler.resample_chunk(mono, last=False))
            if ended:
                break
        else:
            self.cut = cut_at is not None and self._goes_on(handle)
        if resampler is not None:
            yield from self._give(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))

    def _give(self, chunk: np.ndarray) -> Iterator[np.ndarray]:
        if chunk.size:
            self.samples += chunk.size
            yield chunk.astype(np.float32, copy=False)

    def _goes_on(self, handle: sf.SoundFile) -> bool:
        """True when the file holds a frame after those read (or something unreadable there)."""
        try:
            return len(self._read(handle, 1)) > 0
        except AudioError:
            return True

    def _read(self, handle: sf.SoundFile, frames: int) -> np.ndarray:
        try:
            return handle.read(frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioError(self.path, f"corrupt audio data ({_reason(exc)})") from None

    def _seek(self, handle: sf.SoundFile, frame: int) -> None:
        try:
            handle.seek(min(frame, handle.frames))
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise AudioError(self.path, f"cannot seek to {self.offset:g} s ({_reason(exc)})") from None


def load_audio(
    path: str | Path,
    sample_rate: RateChoice = None,
    *,
    offset: float = 0.0,
    duration: float | None = None,
    quality: str = "HQ",
    max_seconds: float | None = None,
) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate`` (the file's own rate when None), whole:
    the blocks of :class:`AudioStream` joined, so it equals what streaming gives.

    ``offset`` and ``duration`` (seconds) read a part of the file without decoding the rest;
    ``max_seconds`` reads at most that much (silently: use :class:`AudioStream` to know).
    """
    blocks = list(AudioStream(path, sample_rate, quality=quality, offset=offset, duration=duration,
                              max_seconds=max_seconds))
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
