"""soundtag.audio.resample: whole-signal and streaming sample-rate conversion."""

from __future__ import annotations

import numpy as np
import pytest

from soundtag.audio import resample
from soundtag.audio.resample import resample_stream
from tests.helpers import peak_frequency, sine

PAIRS = [(16000, 32000), (44100, 32000), (48000, 22050), (32000, 16000), (22050, 44100)]


def test_same_rate_is_a_no_op():
    signal = sine(440, 0.1, 16000)
    assert resample(signal, 16000, 16000) is signal
    assert resample_stream(16000, 16000) is None


@pytest.mark.parametrize(("orig", "target"), PAIRS)
def test_length_dtype_and_pitch(orig, target):
    signal = sine(440, 1.0, orig)
    out = resample(signal, orig, target)
    assert out.dtype == np.float32
    assert out.ndim == 1
    assert abs(len(out) - len(signal) * target / orig) <= 1
    assert peak_frequency(out, target) == pytest.approx(440, abs=2)


def test_downsampling_removes_content_above_the_new_nyquist():
    # 12 kHz cannot exist at 16 kHz: the anti-alias filter must remove it rather than fold it to 4 kHz
    signal = sine(12000, 1.0, 48000)
    out = resample(signal, 48000, 16000)
    assert np.sqrt(np.mean(out[1000:-1000] ** 2)) < 1e-3


@pytest.mark.parametrize(("orig", "target"), PAIRS)
def test_streaming_equals_whole_signal(orig, target):
    signal = (0.3 * np.random.default_rng(0).standard_normal(3 * orig + 17)).astype(np.float32)
    stream = resample_stream(orig, target)
    pieces = []
    chunks = np.array_split(signal, 7)
    for i, chunk in enumerate(chunks):
        pieces.append(stream.resample_chunk(chunk, last=i == len(chunks) - 1))
    streamed = np.concatenate(pieces)
    whole = resample(signal, orig, target)
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(streamed), len(whole))
    # same filter: equal inside, within a small tolerance near the ends
    np.testing.assert_allclose(streamed[64 : n - 64], whole[64 : n - 64], atol=1e-4)
