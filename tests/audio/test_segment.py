"""soundtag.audio.segment: fixed windows with a hop, read as a stream, equal to the whole decode."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf

from soundtag.audio import Segment, load_audio, split_signal, stream_segments
from soundtag.errors import AudioError
from tests.helpers import sine, write_nan_wav

SR = 16000
LENGTH = 5 * SR + 123  # 5.0077 s: not a whole number of windows


@pytest.fixture
def noise_wav(write_audio):
    """5.0077 s of float noise at 16 kHz (float WAV: decoded bit-exactly)."""
    signal = (0.3 * np.random.default_rng(0).standard_normal(LENGTH)).astype(np.float32)
    return write_audio("noise.wav", signal, SR, subtype="FLOAT"), signal


def expected_spans(window: int, hop: int, length: int) -> list[tuple[int, int]]:
    """(start, end) samples: full windows every hop, then the trailing piece if samples remain, which
    joins the window before it when shorter than half a window."""
    starts = list(range(0, length - window + 1, hop)) if length >= window else []
    spans = [(s, s + window) for s in starts]
    covered = spans[-1][1] if spans else 0
    nxt = starts[-1] + hop if starts else 0
    if length > covered:
        if spans and 2 * (length - nxt) < window:
            spans[-1] = (spans[-1][0], length)
        else:
            spans.append((nxt, length))
    return spans


@pytest.mark.parametrize(
    ("window", "hop"),
    [(1.0, 1.0), (1.0, 0.5), (0.5, 0.5), (2.0, 0.25), (0.3, 0.3), (0.05, 0.05)],
    ids=["hop=window", "overlap", "half", "long-window", "short", "tiny"],
)
def test_windows_and_timings(noise_wav, window, hop):
    path, signal = noise_wav
    segments = list(stream_segments(path, SR, window, hop, block_seconds=0.37))
    win, step = int(round(window * SR)), int(round(hop * SR))

    assert [(round(s.start * SR), round(s.end * SR)) for s in segments] == expected_spans(win, step, LENGTH)
    for segment in segments:
        assert isinstance(segment, Segment)
        begin = int(round(segment.start * SR))
        assert segment.samples.dtype == np.float32
        assert segment.samples.ndim == 1
        assert segment.end == pytest.approx(segment.start + len(segment.samples) / SR)
        np.testing.assert_array_equal(segment.samples, signal[begin : begin + len(segment.samples)])
    assert segments[-1].end == pytest.approx(LENGTH / SR)
    # the same windows from a waveform in memory
    assert [(s.start, s.end) for s in split_signal(signal, SR, window, hop)] == [(s.start, s.end) for s in segments]


def test_a_short_trailing_piece_joins_the_segment_before_it(noise_wav):
    path, signal = noise_wav
    segments = list(stream_segments(path, SR, 1.0, 1.0))  # 5.0077 s: the 7.7 ms tail is not a segment
    assert len(segments) == 5
    last = segments[-1]
    assert (last.start, last.end) == (4.0, pytest.approx(LENGTH / SR))
    np.testing.assert_array_equal(last.samples, signal[4 * SR :])
    overlapping = list(stream_segments(path, SR, 2.0, 1.0))  # last full window [3, 5); tail [4, 5.0077) is kept
    assert [(s.start, round(s.end, 4)) for s in overlapping][-2:] == [(3.0, 5.0), (4.0, 5.0077)]


def test_a_trailing_piece_of_at_least_half_a_segment_is_its_own(write_audio):
    path = write_audio("tail.wav", sine(440, 2.5, SR), SR, subtype="FLOAT")
    assert [(s.start, s.end) for s in stream_segments(path, SR, 1.0, 1.0)] == [(0.0, 1.0), (1.0, 2.0), (2.0, 2.5)]
    path = write_audio("tail2.wav", sine(440, 2.49, SR), SR, subtype="FLOAT")
    assert [(s.start, s.end) for s in stream_segments(path, SR, 1.0, 1.0)] == [(0.0, 1.0), (1.0, 2.49)]


def test_a_hop_longer_than_the_window_is_refused(noise_wav):
    path, _ = noise_wav
    with pytest.raises(ValueError, match="longer than the window"):
        list(stream_segments(path, SR, 0.5, 1.5))
    with pytest.raises(ValueError, match="longer than the window"):
        split_signal(np.zeros(100, np.float32), SR, 0.5, 0.6)


def test_no_empty_or_redundant_last_segment_when_windows_fit_exactly(write_audio):
    signal = sine(440, 3.0, SR)
    path = write_audio("exact.wav", signal, SR, subtype="FLOAT")
    segments = list(stream_segments(path, SR, 1.0, 1.0))
    assert [(s.start, s.end) for s in segments] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    overlapping = list(stream_segments(path, SR, 1.0, 0.5))
    assert [s.start for s in overlapping] == [0.0, 0.5, 1.0, 1.5, 2.0]  # the last full window ends at 3.0


@pytest.mark.parametrize("rate", [SR, 32000])
def test_file_shorter_than_a_window_gives_one_segment(write_audio, rate):
    signal = sine(440, 0.3, SR)
    path = write_audio("short.wav", signal, SR, subtype="FLOAT")
    segments = list(stream_segments(path, rate, 2.0, 1.0))
    assert len(segments) == 1
    assert segments[0].start == 0.0
    assert segments[0].end == pytest.approx(0.3, abs=1 / rate)
    np.testing.assert_allclose(segments[0].samples, load_audio(path, rate), atol=1e-5)


def test_one_sample_file(write_audio):
    path = write_audio("one.wav", np.array([0.25], dtype=np.float32), SR, subtype="FLOAT")
    (segment,) = stream_segments(path, SR, 1.0, 1.0)
    np.testing.assert_array_equal(segment.samples, [0.25])


def test_concatenated_segments_equal_load_audio_without_resampling(noise_wav):
    path, _ = noise_wav
    segments = list(stream_segments(path, SR, 0.7, 0.7, block_seconds=0.3))
    np.testing.assert_array_equal(np.concatenate([s.samples for s in segments]), load_audio(path, SR))


@pytest.mark.parametrize("target", [32000, 22050, 8000])
@pytest.mark.parametrize("block_seconds", [0.37, 10.0])
def test_concatenated_segments_equal_load_audio_with_resampling(noise_wav, target, block_seconds):
    path, _ = noise_wav
    segments = list(stream_segments(path, target, 1.0, 1.0, block_seconds=block_seconds))
    streamed = np.concatenate([s.samples for s in segments])
    whole = load_audio(path, target)
    # The streaming resampler may round the total length differently by a sample and differ
    # slightly where blocks join or at the file's edges; inside, both are the same filter.
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(streamed), len(whole))
    edge = 64
    np.testing.assert_allclose(streamed[edge : n - edge], whole[edge : n - edge], atol=1e-4)
    np.testing.assert_allclose(streamed[:n], whole[:n], atol=2e-2)
    # timings are in seconds at the target rate
    assert [s.start for s in segments] == [float(k) for k in range(len(segments))]
    assert all(len(s.samples) == target for s in segments[:-1])
    assert len(segments[-1].samples) > target  # the 7.7 ms tail joined the last second


def test_resampled_segments_keep_the_pitch(write_audio):
    path = write_audio("tone.wav", sine(1000, 3.0, 44100), 44100, subtype="FLOAT")
    segments = list(stream_segments(path, 16000, 1.0, 1.0, block_seconds=0.25))
    assert len(segments) == 3
    for segment in segments:
        spectrum = np.abs(np.fft.rfft(segment.samples * np.hanning(len(segment.samples))))
        assert np.fft.rfftfreq(len(segment.samples), 1 / 16000)[np.argmax(spectrum)] == pytest.approx(1000, abs=2)


def test_multichannel_segments_are_mixed_down(write_audio):
    rng = np.random.default_rng(3)
    stereo = (0.2 * rng.standard_normal((2 * SR, 2))).astype(np.float32)
    path = write_audio("stereo.wav", stereo, SR, subtype="FLOAT")
    streamed = np.concatenate([s.samples for s in stream_segments(path, SR, 0.5, 0.5, block_seconds=0.3)])
    np.testing.assert_allclose(streamed, stereo.mean(axis=1), atol=1e-7)


def test_reads_in_blocks_and_lazily(write_audio, monkeypatch):
    """A long file is read block by block, and the first window comes before the file is read through."""
    seconds = 60
    path = write_audio("long.wav", np.zeros(seconds * SR, dtype=np.int16), SR, subtype="PCM_16")
    calls: list[int] = []
    original_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        calls.append(frames)
        return original_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    segments = stream_segments(path, SR, 1.0, 1.0, block_seconds=2.0)

    first = next(segments)
    assert first.start == 0.0
    assert calls == [2 * SR]  # only one block read so far

    rest = list(segments)
    assert len(rest) == seconds - 1
    assert all(frames == 2 * SR for frames in calls)  # never "read everything" (-1)
    assert len(calls) >= seconds // 2


def test_invalid_window_or_hop(noise_wav):
    path, _ = noise_wav
    for window, hop in [(0, 1), (1, 0), (-1, 1), (1, -0.5)]:
        with pytest.raises(ValueError):
            list(stream_segments(path, SR, window, hop))


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "nan", "zero-frames"])
def test_bad_files_are_audio_errors_naming_the_file(tmp_path, kind):
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not audio\n" * 50, encoding="utf-8")
    elif kind == "nan":
        write_nan_wav(path)
    elif kind == "zero-frames":
        sf.write(path, np.zeros((0, 1), dtype=np.float32), SR)
    with pytest.raises(AudioError) as info:
        list(stream_segments(path, 32000, 1.0, 0.5))
    assert str(path) in str(info.value)


def test_nan_late_in_a_long_file_is_found_in_its_block(write_audio):
    signal = sine(440, 4.0, SR)
    signal[-10] = np.nan
    path = write_audio("late-nan.wav", signal, SR, subtype="FLOAT")
    segments = stream_segments(path, SR, 1.0, 1.0, block_seconds=1.0)
    good = list(itertools.islice(segments, 2))
    assert len(good) == 2  # the windows before the bad block come through
    with pytest.raises(AudioError, match="NaN"):
        list(segments)
