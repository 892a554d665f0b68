"""soundtag.audio.decode and .files: every format to mono float32 at a chosen rate, read as a stream of
bounded blocks; bad files, headers no audio has, special files and odd names as AudioError."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import soundtag.audio.decode
import soundtag.audio.files
from soundtag.audio import (
    AUDIO_EXTENSIONS,
    MAX_PEAK,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioInfo,
    AudioStream,
    audio_info,
    check_file,
    display_name,
    is_audio_file,
    load_audio,
)
from soundtag.audio.decode import BLOCK_SAMPLES
from soundtag.errors import AudioError, SoundtagError
from tests.helpers import REPO_ROOT, peak_frequency, sine, write_corrupt_audio, write_nan_wav

SR = 16000

# (file name, soundfile.write arguments, max abs error vs the float signal, lossless?)
FORMATS = [
    ("pcm16.wav", {"subtype": "PCM_16"}, 1e-4, True),  # 16-bit quantisation: 2**-15 ~ 3e-5
    ("pcm32.wav", {"subtype": "PCM_32"}, 1e-7, True),
    ("float.wav", {"subtype": "FLOAT"}, 0.0, True),
    ("clip.flac", {}, 1e-4, True),  # FLAC stores PCM_16 by default
    ("clip.ogg", {"format": "OGG", "subtype": "VORBIS"}, None, False),
    ("clip.mp3", {"format": "MP3"}, None, False),
]


def stereo(seconds: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A stereo 440 Hz sine (left at 0.5, right at 0.1) and its expected mono mix (mean)."""
    left = sine(440, seconds, SR, amplitude=0.5)
    right = sine(440, seconds, SR, amplitude=0.1)
    return np.stack([left, right], axis=1), (left + right) / 2


@pytest.mark.parametrize(("name", "kwargs", "tol", "lossless"), FORMATS, ids=[f[0] for f in FORMATS])
def test_decodes_every_format_to_mono_float32(write_audio, name, kwargs, tol, lossless):
    data, expected = stereo()
    path = write_audio(name, data, SR, **kwargs)

    info = audio_info(path)
    assert (info.sample_rate, info.channels) == (SR, 2)
    signal = load_audio(path)
    assert signal.dtype == np.float32
    assert signal.ndim == 1
    if lossless:
        assert info.frames == len(data)
        assert len(signal) == len(data)
        np.testing.assert_allclose(signal, expected, rtol=0, atol=tol)
    else:
        # lossy codecs: about the right length, the same pitch and loudness
        assert abs(len(signal) - len(data)) <= 0.05 * len(data)
        assert peak_frequency(signal, SR) == pytest.approx(440, abs=2)
        rms = np.sqrt(np.mean(signal**2))
        assert rms == pytest.approx(np.sqrt(np.mean(expected**2)), rel=0.1)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_32", "FLOAT"])
def test_wav_integer_and_float_scaling_agree(write_audio, subtype):
    signal = sine(1000, 0.25, SR, amplitude=0.9)
    path = write_audio(f"{subtype}.wav", signal, SR, subtype=subtype)
    decoded = load_audio(path)
    assert np.abs(decoded).max() <= 1.0
    np.testing.assert_allclose(decoded, signal, atol=1e-4)


def test_mono_file_is_returned_as_is(write_audio):
    signal = sine(300, 0.5, SR)
    path = write_audio("mono.wav", signal, SR, subtype="FLOAT")
    assert audio_info(path).channels == 1
    np.testing.assert_array_equal(load_audio(path), signal)


@pytest.mark.parametrize("name", ["quad.wav", "quad.flac"])
def test_multichannel_is_mixed_down_by_the_mean(write_audio, name):
    rng = np.random.default_rng(1)
    channels = (0.2 * rng.standard_normal((SR // 2, 4))).astype(np.float32)
    path = write_audio(name, channels, SR, **({"subtype": "FLOAT"} if name.endswith(".wav") else {}))
    assert audio_info(path).channels == 4
    tol = 1e-6 if name.endswith(".wav") else 1e-4
    np.testing.assert_allclose(load_audio(path), channels.mean(axis=1), atol=tol)


def test_opposite_channels_cancel(write_audio):
    left = sine(440, 0.5, SR)
    path = write_audio("cancel.wav", np.stack([left, -left], axis=1), SR, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path), np.zeros_like(left))


@pytest.mark.parametrize(("orig_sr", "target_sr"), [(16000, 32000), (44100, 32000), (48000, 22050), (8000, 32000)])
def test_resampling_keeps_length_and_pitch(write_audio, orig_sr, target_sr):
    signal = sine(1000, 1.3, orig_sr)
    path = write_audio(f"tone-{orig_sr}.wav", signal, orig_sr, subtype="FLOAT")
    resampled = load_audio(path, target_sr)
    assert resampled.dtype == np.float32
    assert abs(len(resampled) - len(signal) * target_sr / orig_sr) <= 1
    # frequency resolution of the FFT peak: target_sr / len ~ 0.8 Hz
    assert peak_frequency(resampled, target_sr) == pytest.approx(1000, abs=2)
    # amplitude kept away from the edges
    middle = resampled[len(resampled) // 4 : 3 * len(resampled) // 4]
    assert np.abs(middle).max() == pytest.approx(0.5, abs=0.01)


def test_same_rate_or_none_means_no_resampling(write_audio):
    signal = sine(440, 0.3, 22050)
    path = write_audio("native.wav", signal, 22050, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path, None), signal)
    np.testing.assert_array_equal(load_audio(path, 22050), signal)


@pytest.mark.parametrize("quality", ["QQ", "LQ", "MQ", "HQ", "VHQ"])
def test_every_resample_quality_keeps_the_pitch(write_audio, quality):
    path = write_audio("q.wav", sine(2000, 0.5, 44100), 44100, subtype="FLOAT")
    resampled = load_audio(path, 16000, quality=quality)
    assert abs(len(resampled) - 8000) <= 1
    assert peak_frequency(resampled, 16000) == pytest.approx(2000, abs=4)


def test_real_demo_clip_decodes_at_32k(demo_train_files):
    path = demo_train_files[0]
    info = audio_info(path)
    signal = load_audio(path, 32000)
    assert abs(len(signal) - info.frames * 32000 / info.sample_rate) <= 1
    assert np.isfinite(signal).all()
    assert 0 < np.abs(signal).max() <= 1.0


# --- offset and duration --------------------------------------------------------------------------


@pytest.fixture
def ramp_wav(write_audio):
    """One second at 16 kHz whose sample i holds i / 16000: every position can be identified."""
    ramp = (np.arange(SR) / SR).astype(np.float32)
    return write_audio("ramp.wav", ramp, SR, subtype="FLOAT"), ramp


def test_offset_and_duration_read_part_of_the_file(ramp_wav):
    path, ramp = ramp_wav
    np.testing.assert_array_equal(load_audio(path, offset=0.25, duration=0.5), ramp[4000:12000])
    np.testing.assert_array_equal(load_audio(path, offset=0.75), ramp[12000:])
    np.testing.assert_array_equal(load_audio(path, duration=0.1), ramp[:1600])


def test_duration_past_the_end_stops_at_the_end(ramp_wav):
    path, ramp = ramp_wav
    np.testing.assert_array_equal(load_audio(path, offset=0.9, duration=5.0), ramp[14400:])


def test_offset_past_the_end_is_an_audio_error(ramp_wav):
    path, _ = ramp_wav
    with pytest.raises(AudioError, match="no audio samples") as info:
        load_audio(path, offset=2.0)
    assert str(path) in str(info.value)


def test_offset_and_duration_with_resampling(ramp_wav):
    path, ramp = ramp_wav
    part = load_audio(path, 32000, offset=0.25, duration=0.5)
    assert len(part) == 16000
    # a ramp stays a ramp: the middle of the part is at the middle of the window
    assert part[8000] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize(("name", "kwargs"), [("c.ogg", {"format": "OGG"}), ("c.mp3", {"format": "MP3"})])
def test_offset_and_duration_in_compressed_files(write_audio, name, kwargs):
    signal = np.concatenate([sine(440, 1.0, SR), sine(1000, 1.0, SR)])
    path = write_audio(name, signal, SR, **kwargs)
    part = load_audio(path, offset=1.25, duration=0.5)
    assert len(part) == 8000
    assert peak_frequency(part, SR) == pytest.approx(1000, abs=4)


# --- bad input ------------------------------------------------------------------------------------


def _make_bad(kind: str, folder):
    path = folder / {"folder": "a-folder.wav"}.get(kind, f"{kind}.wav")
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not audio, just some text in a file named .wav\n" * 20, encoding="utf-8")
    elif kind == "truncated-header":
        sf.write(path, sine(440, 0.5, SR), SR, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[:30])
    elif kind == "corrupt-header":
        write_corrupt_audio(path)
    elif kind == "zero-frames":
        sf.write(path, np.zeros((0, 1), dtype=np.float32), SR, subtype="PCM_16")
    elif kind == "nan":
        write_nan_wav(path)
    elif kind == "inf":
        data = sine(440, 0.5, SR)
        data[-1] = -np.inf
        sf.write(path, data, SR, subtype="FLOAT")
    elif kind == "folder":
        path.mkdir()
    # "missing": nothing is written
    return path


BAD = {
    "missing": "not found",
    "empty": "empty",
    "text": "not a readable audio file",
    "truncated-header": "not a readable audio file",
    "corrupt-header": "not a readable audio file",
    "zero-frames": "no audio samples",
    "nan": "NaN or infinite",
    "inf": "NaN or infinite",
    "folder": "folder",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_input_is_an_audio_error_naming_the_file(tmp_path, kind):
    path = _make_bad(kind, tmp_path)
    with pytest.raises(AudioError) as info:
        load_audio(path, 32000)
    error = info.value
    assert isinstance(error, SoundtagError)
    assert str(path) in str(error)
    assert error.path == str(path)
    assert BAD[kind] in error.problem
    assert "\n" not in str(error)


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated-header", "corrupt-header", "folder"])
def test_audio_info_of_unreadable_files_is_an_audio_error(tmp_path, kind):
    path = _make_bad(kind, tmp_path)
    with pytest.raises(AudioError, match=re.escape(str(path))):
        audio_info(path)


def test_audio_info_of_a_zero_frame_file(tmp_path):
    path = _make_bad("zero-frames", tmp_path)
    assert audio_info(path) == AudioInfo(SR, 1, 0)


def test_audio_info_duration(write_audio):
    path = write_audio("d.wav", np.zeros((24000, 2), dtype=np.float32), 48000)
    info = audio_info(path)
    assert info == AudioInfo(48000, 2, 24000)
    assert info.duration == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.wav", True), ("a.WAV", True), ("b.flac", True), ("c.ogg", True), ("c.oga", True), ("d.mp3", True),
     ("e.txt", False), ("wav", False), ("f.wav.bak", False), ("g.npy", False)],
)
def test_is_audio_file(name, expected):
    assert is_audio_file(name) is expected
    assert set(AUDIO_EXTENSIONS) >= {".wav", ".flac", ".ogg", ".mp3"}


# --- reading as a stream of bounded blocks ---------------------------------------------------------


@pytest.mark.parametrize(("rate", "channels", "target"), [(1000, 1, 32000), (16000, 8, 32000), (192000, 2, 8000),
                                                          (44100, 1, None)])
def test_blocks_are_bounded_whatever_the_channels_and_rates(write_audio, rate, channels, target):
    """A block of the file, mixed and resampled, is about BLOCK_SAMPLES values at most: neither the
    channel count nor the rate ratio (x32 from 1 kHz to 32 kHz) makes it larger."""
    data = (0.1 * np.random.default_rng(0).standard_normal((3 * BLOCK_SAMPLES // channels, channels)))
    path = write_audio("many.wav", data.astype(np.float32), rate, subtype="FLOAT")
    stream = AudioStream(path, target)
    blocks = list(stream)
    assert len(blocks) > 2
    assert max(map(len, blocks)) <= 1.01 * BLOCK_SAMPLES
    assert stream.samples == sum(map(len, blocks))
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(path, target))  # the same decoder


def test_no_read_is_sized_by_the_header(write_audio, monkeypatch):
    """soundfile's read(-1) allocates what the header claims; every read here asks for a block."""
    path = write_audio("r.flac", sine(440, 3.0, SR), SR)
    reads: list[int] = []
    original_read = sf.SoundFile.read
    monkeypatch.setattr(sf.SoundFile, "read", lambda self, frames=-1, *a, **k: reads.append(frames)
                        or original_read(self, frames, *a, **k))
    load_audio(path, 32000)
    assert reads and all(0 < frames <= BLOCK_SAMPLES for frames in reads)


def test_max_seconds_cuts_and_says_so(ramp_wav):
    path, ramp = ramp_wav
    stream = AudioStream(path, max_seconds=0.25)
    np.testing.assert_array_equal(np.concatenate(list(stream)), ramp[:4000])
    assert stream.cut and stream.samples == 4000
    for max_seconds, kwargs in [(1.0, {}), (2.0, {}), (0.25, {"duration": 0.25}), (0.5, {"duration": 0.25})]:
        stream = AudioStream(path, max_seconds=max_seconds, **kwargs)
        list(stream)
        assert not stream.cut, (max_seconds, kwargs)  # the file or the part asked for ends within the limit
    assert len(load_audio(path, 32000, max_seconds=0.5)) == 16000


def test_peak_and_silence(write_audio):
    loud = AudioStream(write_audio("loud.wav", 3.5 * sine(440, 0.5, SR), SR, subtype="FLOAT"))
    silent = AudioStream(write_audio("silent.flac", np.zeros(SR, dtype=np.float32), SR))
    for stream in (loud, silent):
        list(stream)
    assert loud.peak == pytest.approx(1.75, abs=1e-3) and not loud.silent  # float files may exceed 1.0
    assert silent.peak == 0.0 and silent.silent


@pytest.mark.parametrize("peak", [1001.0, 1e20, 3e38])
def test_samples_beyond_max_peak_are_refused(write_audio, peak):
    data = sine(440, 0.5, SR)
    data[-1] = -peak
    path = write_audio("loud.wav", data, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match=re.escape(f"peak level {peak:.3g} is not audio")):
        load_audio(path)
    data[-1] = -MAX_PEAK
    assert np.abs(load_audio(write_audio("at-limit.wav", data, SR, subtype="FLOAT"))).max() == MAX_PEAK


def test_rates_outside_the_bounds_are_refused(tmp_path):
    def wav(rate: int):
        path = tmp_path / f"{rate}.wav"
        sf.write(path, sine(440, 0.1, SR), SR, subtype="PCM_16")
        data = bytearray(path.read_bytes())
        data[24:28] = rate.to_bytes(4, "little")
        path.write_bytes(bytes(data))
        return path

    for rate, problem in [(MIN_SAMPLE_RATE - 1, "is too low for audio"), (MAX_SAMPLE_RATE + 1, "is absurd"),
                          (2**31 - 1, "is absurd")]:
        with pytest.raises(AudioError, match=f"sample rate {rate} Hz {problem}"):
            audio_info(wav(rate))
    assert audio_info(wav(MIN_SAMPLE_RATE)).sample_rate == MIN_SAMPLE_RATE


# --- what a path is, and its name in outputs ---------------------------------------------------------


def test_check_file_says_what_a_path_is(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "device.wav").symlink_to("/dev/null")
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    (tmp_path / "folder.wav").mkdir()
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "one.wav").write_bytes(b"x")
    expected = {
        "pipe.wav": "not a regular file (a named pipe)",
        "device.wav": "not a regular file (a character device)",
        "dangling.wav": f"broken symbolic link (to {tmp_path / 'gone.wav'})",
        "loop.wav": "cannot read (Too many levels of symbolic links)",
        "folder.wav": "is a folder, not an audio file",
        "empty.wav": "empty file (0 bytes)",
        "missing.wav": "file not found",
    }
    for name, problem in expected.items():
        with pytest.raises(AudioError) as info:
            check_file(tmp_path / name)
        assert info.value.problem == problem
    assert check_file(tmp_path / "one.wav").st_size == 1


def test_display_name_escapes_only_bytes_that_are_not_utf8():
    assert display_name(b"/a/caf\xe9.wav") == "/a/caf\\xe9.wav"
    assert display_name(os.fsdecode(b"x\xff\xfe.wav")) == "x\\xff\\xfe.wav"
    assert display_name(Path("/a/café.wav")) == "/a/café.wav"  # UTF-8 names are kept
    assert display_name("odd\ud800.wav") == "odd\\ud800.wav"  # no file name decodes to this; still writable
    for name in ("/a/caf\\xe9.wav", "x\\xff\\xfe.wav", "odd\\ud800.wav"):
        name.encode("utf-8")


def test_a_name_that_is_not_utf8_is_decoded(tmp_path):
    path = os.fsencode(tmp_path) + b"/caf\xe9.wav"
    with open(path, "wb") as handle:
        sf.write(handle, sine(440, 0.25, SR), SR, format="WAV", subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(os.fsdecode(path)), sine(440, 0.25, SR))
    np.testing.assert_array_equal(load_audio(path), sine(440, 0.25, SR))


def test_docstring_examples(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # the examples read the demo corpus by its path in the repository
    for module in (soundtag.audio.decode, soundtag.audio.files):
        assert doctest.testmod(module).failed == 0


def test_a_stream_knows_the_length_it_decoded_without_reading_the_header_again(write_audio):
    path = write_audio("len.flac", sine(440, 1.25, 44100), 44100)
    stream = AudioStream(path, SR)
    assert stream.decoded_seconds == 0.0
    list(stream)
    assert stream.decoded_seconds == pytest.approx(audio_info(path).duration) == pytest.approx(1.25)
