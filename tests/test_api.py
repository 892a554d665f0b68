"""The Python API: ``import soundtag`` stays light, its names, ``train``/``evaluate``, and
``Tagger.tag_array`` giving a decoded array the tags of its file (to 1e-5), refusing what is not audio."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import soundtag
from soundtag import errors
from soundtag.audio import load_audio
from soundtag.config import save_config
from tests.helpers import DEMO, REPO_ROOT
from tests.training.tiny_run import shared_cache_dir, single_thread_torch, tiny_config

LONG_CLIP = DEMO / "audio_test" / "98057a60.flac"  # 4.4 s, 44.1 kHz mono PCM_16


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """A tiny demo run trained for one epoch through ``soundtag.train`` from a YAML file."""
    config_file = tmp_path_factory.mktemp("api-config") / "tiny.yaml"
    save_config(tiny_config(shared_cache_dir(tmp_path_factory), "train.epochs=1"), config_file)
    run_dir = tmp_path_factory.mktemp("api-run")
    result = soundtag.train(config_file, run_dir)
    assert isinstance(result, soundtag.TrainResult) and result.epochs_run == 1
    return run_dir


@pytest.fixture(scope="module")
def tagger(api_run):
    return soundtag.Tagger.from_run(api_run, device="cpu")


def test_import_soundtag_imports_neither_torch_nor_the_stages():
    code = ("import json, sys\n"
            "mods = lambda: sorted(m for m in sys.modules if m == 'torch' or m.startswith('soundtag.'))\n"
            "import soundtag; soundtag.SoundtagError; first = mods(); soundtag.load_config; "
            "print(json.dumps([first, mods()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    first, with_config = json.loads(out.stdout)
    assert first == ["soundtag.errors", "soundtag.lazy"]  # plain exceptions and the lazy-name helper: no stage
    assert "torch" not in with_config and "soundtag.config" in with_config


def test_names_and_error_hierarchy():
    assert {"Tagger", "train", "evaluate", "load_config", "AudioError"} <= set(soundtag.__all__) <= set(dir(soundtag))
    assert soundtag.AudioError is errors.AudioError and soundtag.ConfigError is errors.ConfigError
    for kind in (soundtag.ConfigError, soundtag.CorpusError, soundtag.AudioError):
        assert issubclass(kind, soundtag.SoundtagError)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        soundtag.nothing  # noqa: B018


def test_evaluate_returns_and_writes_the_metrics(api_run):
    metrics = soundtag.evaluate(api_run)
    assert metrics["split"] == "test" and metrics["n_clips"] == 34 and 0.0 <= metrics["map3"] <= 1.0
    assert json.loads((api_run / "eval-test" / "metrics.json").read_text()) == metrics
    with pytest.raises(ValueError, match="split must be one of test, train"):
        soundtag.evaluate(api_run, split="val")


def all_probabilities(tags) -> dict[str, float]:
    return dict(tags)


def assert_same_tags(array_tags, file_tags) -> None:
    """Same labels in the same order with probabilities within 1e-5, for the file and each segment."""
    pairs = [(array_tags.tags, file_tags.tags)] + [(a.tags, b.tags) for a, b in zip(array_tags.segments,
                                                                                      file_tags.segments)]
    assert len(array_tags.segments) == len(file_tags.segments)
    assert array_tags.duration == pytest.approx(file_tags.duration, abs=1e-9)
    for a, b in pairs:
        assert [label for label, _ in a] == [label for label, _ in b]
        np.testing.assert_allclose([p for _, p in a], [p for _, p in b], rtol=0, atol=1e-5)
    for a, b in zip(array_tags.segments, file_tags.segments):
        assert (a.start, a.end) == pytest.approx((b.start, b.end), abs=1e-9)


@pytest.mark.parametrize(("segment", "hop"), [(None, None), (1.0, 0.5), (0.7, 0.3), (2.0, 2.0)])
def test_a_decoded_file_gets_the_tags_of_the_file(tagger, segment, hop):
    everything = dict(k=len(tagger.labels), threshold=0.0)  # every class, so all probabilities are compared
    samples, rate = sf.read(LONG_CLIP)  # float64, (samples,), 44.1 kHz: resampled to 32 kHz
    file_tags = tagger.tag_file(LONG_CLIP, segment, hop, **everything)
    assert_same_tags(tagger.tag_array(samples, rate, segment, hop, **everything), file_tags)
    assert len(file_tags.segments) > 1 or segment is None


@pytest.mark.parametrize("rate", [48000, 32000, 8000])
def test_stereo_integer_pcm_gets_the_tags_of_its_file(tagger, tmp_path, rate):
    left = load_audio(LONG_CLIP, rate)
    stereo = np.stack([left, np.roll(left, rate // 10) * 0.5], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, rate, subtype="PCM_16")
    samples, got_rate = sf.read(path, dtype="int16")
    assert samples.shape == (len(left), 2) and got_rate == rate
    file_tags = tagger.tag_file(path, 1.0, 0.5, k=5)
    assert_same_tags(tagger.tag_array(samples, rate, 1.0, 0.5, k=5), file_tags)
    assert_same_tags(tagger.tag_array(sf.read(path, dtype="int32")[0], rate, 1.0, 0.5, k=5), file_tags)


def test_unsigned_pcm_is_centred_and_a_short_array_gives_one_tagging(tagger):
    signal = load_audio(LONG_CLIP, 16000)[:4000]  # 0.25 s: shorter than one window
    as_uint8 = np.clip(np.round(signal * 128 + 128), 0, 255).astype(np.uint8)
    result = tagger.tag_array(as_uint8, 16000)
    assert result.path == "array" and result.segments == [] and result.duration == 0.25
    assert_same_tags(result, tagger.tag_array((as_uint8.astype(np.float32) - 128) / 128, 16000))
    assert result.to_dict()["file"] == "array"


def test_silence_is_tagged_and_flagged(tagger):
    assert tagger.tag_array(np.zeros((32000, 2), dtype=np.float32), 32000).silent


@pytest.mark.parametrize(("waveform", "rate", "problem"), [
    (np.zeros(0, dtype=np.float32), 32000, "contains no audio samples"),
    (np.zeros((0, 2)), 32000, "contains no audio samples"),
    (np.zeros((100, 0)), 32000, "contains no audio samples"),
    (np.array([0.0, np.nan, 0.1]), 32000, "NaN or infinite"),
    (np.array([[0.0, np.inf], [0.1, 0.2]]), 32000, "NaN or infinite"),
    (np.array([0.0, 1500.0]), 32000, r"peak level 1\.5e\+03 is not audio"),
    (np.zeros((10, 2, 2)), 32000, r"shape \(10, 2, 2\) is not \(samples,\) or \(samples, channels\)"),
    (np.zeros((2, 48000)), 48000, r"shape \(2, 48000\) .*transpose of a \(channels, samples\)"),
    (np.zeros(()), 32000, r"shape \(\) is not"),
    (np.zeros(100, dtype=complex), 32000, "dtype complex128 is not PCM audio"),
    (np.array(["a", "b"]), 32000, "is not PCM audio"),
    (np.zeros(1000), 0, "sample rate 0 is not a positive whole number"),
    (np.zeros(1000), 44100.5, "sample rate 44100.5 is not a positive whole number"),
    (np.zeros(1000), True, "sample rate True is not"),
    (np.zeros(1000), 500, "sample rate 500 Hz is too low"),
    (np.zeros(1000), 2_000_000, "above 1000000 Hz"),
])
def test_what_is_not_audio_is_refused_naming_the_array(tagger, waveform, rate, problem):
    with pytest.raises(soundtag.AudioError, match=f"^array: .*{problem}") as caught:
        tagger.tag_array(waveform, rate)
    assert caught.value.path == "array"


def test_a_hop_longer_than_the_segment_is_refused_as_for_a_file(tagger):
    with pytest.raises(soundtag.SoundtagError, match="longer than the segment"):
        tagger.tag_array(np.zeros(32000), 32000, segment=1.0, hop=1.5)


def test_a_whole_float_rate_and_a_list_are_accepted(tagger):
    samples, rate = sf.read(LONG_CLIP)
    assert_same_tags(tagger.tag_array(list(samples[:20000]), float(rate)), tagger.tag_array(samples[:20000], rate))
