"""Tagger: a trained run tags real files of any length, rate and channel count."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import yaml

from soundtag.audio import load_audio
from soundtag.errors import AudioError, SoundtagError
from soundtag.features import build_transform, extract_batch
from soundtag.inference import FileTags, Tagger
from soundtag.training import window_frames
from tests.helpers import DEMO, write_corrupt_audio

SR = 32000
DEMO_FILE = DEMO / "audio_test" / "01423593.flac"


@pytest.fixture(scope="module")
def tagger(tiny_run) -> Tagger:
    return Tagger.from_run(tiny_run, device="cpu")


@pytest.fixture(scope="module")
def long_signal() -> np.ndarray:
    """12.3 s of real demo audio at the model's rate: train clips one after the other."""
    parts, total = [], 0
    for path in sorted((DEMO / "audio_train").iterdir()):
        parts.append(load_audio(path, SR))
        total += len(parts[-1])
        if total >= 12.3 * SR:
            break
    return np.concatenate(parts)[: int(12.3 * SR)]


@pytest.fixture
def long_file(tmp_path, long_signal):
    path = tmp_path / "long.wav"
    sf.write(path, long_signal, SR, subtype="FLOAT")
    return path


def as_dict(tags: list[tuple[str, float]]) -> dict[str, float]:
    return dict(tags)


def check_tags(tagger: Tagger, tags: list[tuple[str, float]], k: int) -> None:
    labels = [label for label, _ in tags]
    probs = [p for _, p in tags]
    assert len(tags) == k and len(set(labels)) == k
    assert all(label in tagger.label_map for label in labels)
    assert probs == sorted(probs, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probs) and sum(probs) <= 1.0 + 1e-6


def test_tagger_loads_a_run(tagger, tiny_run):
    assert len(tagger.label_map) == 11
    assert tagger.width == window_frames(tagger.config) == 101  # 1 s at hop 320, centred frames
    assert tagger.hop == 50
    assert tagger.default_segment == 1.0  # the training window when tag.segment is unset
    assert not tagger.model.training


def test_tags_a_real_demo_file(tagger):
    result = tagger.tag_file(DEMO_FILE)
    assert isinstance(result, FileTags)
    assert result.path == str(DEMO_FILE)
    assert result.duration == pytest.approx(sf.info(DEMO_FILE).duration)
    check_tags(tagger, result.tags, 3)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["file"] == str(DEMO_FILE) and len(data["tags"]) == 3
    assert set(data["tags"][0]) == {"label", "probability"}


def test_top_k_and_all_classes(tagger):
    check_tags(tagger, tagger.tag_file(DEMO_FILE, k=1).tags, 1)
    everything = tagger.tag_file(DEMO_FILE, k=11).tags
    check_tags(tagger, everything, 11)
    assert sum(p for _, p in everything) == pytest.approx(1.0, abs=1e-5)
    assert tagger.tag_file(DEMO_FILE, k=50).tags == everything


def test_a_long_file_gets_segments_that_cover_it(tagger, long_file):
    result = tagger.tag_file(long_file)
    assert result.duration == pytest.approx(12.3)
    starts = [s.start for s in result.segments]
    ends = [s.end for s in result.segments]
    assert starts == pytest.approx([float(i) for i in range(12)])
    assert ends == pytest.approx([float(i) for i in range(1, 12)] + [12.3])  # the 0.3-s tail joins [11, 12)
    for segment in result.segments:
        check_tags(tagger, segment.tags, 3)
    data = result.to_dict()
    assert [s["start"] for s in data["segments"]][:2] == [0.0, 1.0] and data["segments"][-1]["end"] == 12.3


def test_segment_probabilities_are_the_model_on_each_slice(tagger, long_file, long_signal):
    n = len(tagger.label_map)
    result = tagger.tag_file(long_file, k=n)
    for segment in result.segments:
        piece = long_signal[int(round(segment.start * SR)): int(round(segment.end * SR))]
        expected = tagger.probabilities(extract_batch(tagger.transform, [piece]))[0]
        got = as_dict(segment.tags)
        np.testing.assert_allclose([got[label] for label in tagger.label_map.labels], expected, atol=1e-5)


def test_file_tags_are_the_duration_weighted_mean_of_the_segments(tagger, long_file):
    n = len(tagger.label_map)
    result = tagger.tag_file(long_file, k=n)
    labels = tagger.label_map.labels
    lengths = np.array([s.end - s.start for s in result.segments])
    per_segment = np.array([[as_dict(s.tags)[label] for label in labels] for s in result.segments])
    weighted = (per_segment * lengths[:, None]).sum(axis=0) / lengths.sum()
    clip = as_dict(result.tags)
    np.testing.assert_allclose([clip[label] for label in labels], weighted, atol=1e-6)
    # the long last segment (its 0.3-s tail joined) counts for more than a plain mean would give it
    assert lengths[-1] == pytest.approx(1.3)
    assert not np.allclose(weighted, per_segment.mean(axis=0), atol=1e-9)


@pytest.mark.parametrize(("segment", "hop"), [(1.0, 0.5), (2.5, 2.5), (4.0, 1.5)])
def test_segment_and_hop_settings(tagger, long_file, segment, hop):
    result = tagger.tag_file(long_file, segment=segment, hop=hop)
    starts = [s.start for s in result.segments]
    assert starts[0] == 0.0
    assert np.allclose(np.diff(starts), hop)
    assert all(s.end - s.start <= segment + 1e-9 for s in result.segments)
    assert result.segments[-1].end == pytest.approx(12.3)
    # no gap anywhere: each segment starts before the previous one ends
    assert all(b.start <= a.end + 1e-9 for a, b in zip(result.segments, result.segments[1:]))


def test_a_file_no_longer_than_one_segment_has_no_segment_list(tagger, tmp_path, long_signal):
    path = tmp_path / "short.wav"
    sf.write(path, long_signal[: SR // 2], SR)
    result = tagger.tag_file(path)
    assert result.segments == [] and "segments" not in result.to_dict()
    assert result.duration == pytest.approx(0.5)


def test_a_stereo_file_of_identical_channels_tags_like_the_mono_file(tagger, tmp_path, long_signal):
    signal = long_signal[: 3 * SR]
    mono, stereo = tmp_path / "mono.wav", tmp_path / "stereo.wav"
    sf.write(mono, signal, SR, subtype="FLOAT")
    sf.write(stereo, np.stack([signal, signal], axis=1), SR, subtype="FLOAT")
    a, b = tagger.tag_file(mono, k=11), tagger.tag_file(stereo, k=11)
    assert a.tags == b.tags
    assert [s.tags for s in a.segments] == [s.tags for s in b.segments]


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (48000, 1), (48000, 3), (22050, 2), (8000, 6)])
def test_files_at_other_rates_and_channel_counts(tagger, tmp_path, rate, channels):
    signal = load_audio(DEMO / "audio_train" / sorted(p.name for p in (DEMO / "audio_train").iterdir())[0], rate)
    signal = np.tile(signal, 3)[: int(2.4 * rate)]
    data = np.stack([signal * (0.5 + 0.25 * c) for c in range(channels)], axis=1)
    path = tmp_path / f"clip-{rate}-{channels}.wav"
    sf.write(path, data, rate)
    result = tagger.tag_file(path)
    assert result.duration == pytest.approx(2.4, abs=1 / rate)
    check_tags(tagger, result.tags, 3)
    assert [s.start for s in result.segments] == pytest.approx([0.0, 1.0])  # the 0.4-s tail joins [1, 2)
    assert result.segments[-1].end == pytest.approx(2.4, abs=1e-3)


def test_a_corrupt_file_is_an_audio_error(tagger, tmp_path):
    path = write_corrupt_audio(tmp_path / "bad.wav")
    with pytest.raises(AudioError, match="bad.wav"):
        tagger.tag_file(path)


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(SoundtagError, match="not a run folder"):
        Tagger.from_run(tmp_path)


def test_a_missing_checkpoint_is_refused(tiny_run):
    with pytest.raises(SoundtagError, match="checkpoint not found"):
        Tagger.from_run(tiny_run, checkpoint="nope.pt")


def edited_copy(tiny_run, tmp_path, keep_manifest: bool):
    """A copy of the run whose config asks for another model (with or without the run's manifest)."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["fc_dim"] = 48
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    if not keep_manifest:
        (run / "manifest.json").unlink()
    return run


def test_an_edited_config_is_refused_by_the_manifest(tiny_run, tmp_path):
    with pytest.raises(SoundtagError, match=r"config.yaml: changed after the run was written"):
        Tagger.from_run(edited_copy(tiny_run, tmp_path, keep_manifest=True))


def test_weights_that_do_not_fit_the_config_are_refused(tiny_run, tmp_path):
    with pytest.raises(SoundtagError, match="weights do not fit"):
        Tagger.from_run(edited_copy(tiny_run, tmp_path, keep_manifest=False))


@pytest.mark.parametrize("edit", ["rename", "drop"])
def test_an_edited_label_map_is_refused_naming_it(tiny_run, tmp_path, edit):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    labels = json.loads((run / "label_map.json").read_text())["labels"]
    labels = [labels[0] + "_renamed", *labels[1:]] if edit == "rename" else labels[:-1]
    (run / "label_map.json").write_text(json.dumps({"labels": labels}))
    with pytest.raises(SoundtagError, match=r"label_map.json: changed after the run was written"):
        Tagger.from_run(run)


def test_a_label_map_of_another_size_is_refused_without_a_digest(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    labels = json.loads((run / "label_map.json").read_text())["labels"]
    (run / "label_map.json").write_text(json.dumps({"labels": labels[:-1]}))
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["label_map_sha256"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SoundtagError, match=rf"label_map.json: lists {len(labels) - 1} labels but the model has "):
        Tagger.from_run(run)


def test_a_tagger_built_from_memory_matches_the_run(tagger):
    from_memory = Tagger(tagger.model, tagger.transform, tagger.labels, tagger.config, device="cpu")
    np.testing.assert_allclose(from_memory.tag_file(DEMO_FILE).tags[0][1], tagger.tag_file(DEMO_FILE).tags[0][1])
    assert from_memory.run_dir is None


def test_a_tagger_from_memory_needs_sorted_labels_and_a_matching_rate(tagger):
    with pytest.raises(SoundtagError, match="sorted and unique"):
        Tagger(tagger.model, tagger.transform, list(reversed(tagger.labels)), tagger.config)
    other = tagger.config.__class__(audio=tagger.config.audio.__class__(sample_rate=16000),
                                    features=tagger.config.features)
    with pytest.raises(SoundtagError, match="16000"):
        Tagger(tagger.model, tagger.transform, tagger.labels, other)


def test_a_checkpoint_name_may_not_leave_the_run(tiny_run):
    with pytest.raises(SoundtagError, match="inside"):
        Tagger.from_run(tiny_run, checkpoint="../best.pt")


def test_the_last_checkpoint_can_be_chosen(tiny_run):
    last = Tagger.from_run(tiny_run, checkpoint="last.pt", device="cpu")
    check_tags(last, last.tag_file(DEMO_FILE).tags, 3)


@pytest.fixture(scope="module")
def twenty_seconds(tmp_path_factory, long_signal):
    path = tmp_path_factory.mktemp("twenty") / "twenty.wav"
    sf.write(path, np.concatenate([long_signal, long_signal])[: 20 * SR], SR, subtype="FLOAT")
    return path


def test_file_level_tags_do_not_depend_on_the_segmentation(tagger, twenty_seconds):
    n = len(tagger.labels)
    runs = {"default": {}, "0.5/0.25": {"segment": 0.5, "hop": 0.25}, "3": {"segment": 3.0},
            "framewise": {"framewise": True}, "framewise 3/1": {"framewise": True, "segment": 3.0, "hop": 1.0}}
    tags = {name: as_dict(tagger.tag_file(twenty_seconds, k=n, **options).tags) for name, options in runs.items()}
    for name, got in tags.items():
        np.testing.assert_allclose([got[label] for label in tagger.labels],
                                   [tags["default"][label] for label in tagger.labels], rtol=0, atol=1e-6, err_msg=name)
    small = tagger.tag_file(twenty_seconds, segment=0.5, hop=0.25)
    assert len(small.segments) == 79 and small.segments[-1].end == pytest.approx(20.0)
    # the file-level answer of a waveform in memory is the same windows' mean
    signal = load_audio(twenty_seconds, SR)
    np.testing.assert_allclose(tagger.file_probabilities(signal), [tags["default"][label] for label in tagger.labels],
                               rtol=0, atol=1e-6)


def test_a_hop_longer_than_the_segment_is_refused(tagger, long_file):
    with pytest.raises(SoundtagError, match="longer than the segment"):
        tagger.tag_file(long_file, segment=1.0, hop=2.0)


# --- frame-wise tagging ---------------------------------------------------------------------------


def test_framewise_segments_cover_the_file_and_follow_the_frames(tagger, long_file, long_signal):
    framewise = tagger.tag_file(long_file, segment=2.0, hop=2.0, framewise=True)
    check_tags(tagger, framewise.tags, 3)
    assert [s.start for s in framewise.segments] == pytest.approx([0, 2, 4, 6, 8, 10, 12])
    assert framewise.segments[-1].end == pytest.approx(12.3)
    probs, centres = tagger.frame_probabilities(long_signal)
    assert probs.shape == (len(centres), len(tagger.labels))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(np.diff(centres) > 0) and centres[-1] < 12.3 + tagger.model.frame_hop * 0.02
    # the third segment's tags are the mean of the frames centred in [4, 6)
    inside = (centres >= 4.0) & (centres < 6.0)
    expected = tagger.top(probs[inside].mean(axis=0), 3)
    assert [label for label, _ in framewise.segments[2].tags] == [label for label, _ in expected]


def test_framewise_blocks_give_the_frames_of_one_pass(tagger, long_file):
    """Blocks of 4 s instead of 30 s change frames only near block edges (receptive field)."""
    whole = tagger.tag_file(long_file, segment=2.0, framewise=True)
    tagger.block_seconds = 4.0
    try:
        blocked = tagger.tag_file(long_file, segment=2.0, framewise=True)
    finally:
        tagger.block_seconds = 30.0
    assert [s.start for s in whole.segments] == [s.start for s in blocked.segments]
    agree = sum(a.tags[0][0] == b.tags[0][0] for a, b in zip(whole.segments, blocked.segments))
    assert agree >= len(whole.segments) - 2


def test_framewise_on_a_clip_shorter_than_one_output_frame(tagger, tmp_path, long_signal):
    path = tmp_path / "tiny.wav"
    sf.write(path, long_signal[:2000], SR)
    tags = tagger.tag_file(path, framewise=True)
    check_tags(tagger, tags.tags, 3)
    assert tags.segments == []


def test_framewise_cli(tiny_run, long_file, tmp_path):
    from soundtag.cli.main import main

    out = tmp_path / "tags.json"
    assert main(["tag", str(tiny_run), str(long_file), "--framewise", "--segment", "3", "-o", str(out), "--quiet"]) == 0
    (item,) = json.loads(out.read_text())["files"]
    assert [s["start"] for s in item["segments"]] == [0, 3, 6, 9, 12]


# --- thresholds: "nothing here" ------------------------------------------------------------------


def test_a_single_label_run_has_no_thresholds_and_tags_its_top_k(tagger, tiny_run):
    assert not tagger.multi_label and tagger.thresholds is None and tagger.cutoffs() is None
    assert not (tiny_run / "thresholds.json").exists()
    assert "multi_label" not in json.loads((tiny_run / "manifest.json").read_text())  # as before multi-label runs


def test_a_threshold_makes_a_single_label_run_tag_by_probability(tagger, long_file):
    everything = tagger.tag_file(long_file, k=11).tags
    for threshold in (0.0, 0.1, 0.2, 1.0):
        tags = tagger.tag_file(long_file, k=3, threshold=threshold)
        assert tags.tags == [t for t in everything if t[1] >= threshold][:3]
        assert all(p >= threshold for s in tags.segments for _, p in s.tags)
    assert tagger.tag_file(long_file, threshold=1.0).to_dict()["tags"] == []


def test_select_keeps_the_labels_at_or_above_their_thresholds_capped_by_k():
    from soundtag.inference.tagger import SegmentTagger

    tagger = SegmentTagger()
    tagger.labels, tagger.multi_label = ["a", "b", "c", "d"], True
    tagger.thresholds = np.array([0.5, 0.3, 0.9, 0.2])
    probs = np.array([0.5, 0.7, 0.8, 0.25])
    assert tagger.select(probs, 3) == [("b", pytest.approx(0.7)), ("a", 0.5), ("d", 0.25)]  # c: 0.8 < 0.9
    assert tagger.select(probs, 2) == tagger.select(probs, 3)[:2]
    assert tagger.select(np.array([0.1, 0.1, 0.1, 0.1]), 3) == []
    assert tagger.select(probs, 3, threshold=0.75) == [("c", pytest.approx(0.8))]
    tagger.thresholds = None  # a multi-label tagger without thresholds uses 0.5
    assert [label for label, _ in tagger.select(probs, 4)] == ["c", "b", "a"]
    nan = np.array([np.nan, 0.1, 0.1, 0.1])  # not finite: the top k as they are, for the caller to report
    assert len(tagger.select(nan, 2)) == 2


def test_tag_cli_threshold_option(tiny_run, long_file, tmp_path, capsys):
    from soundtag.cli.main import main

    assert main(["tag", str(tiny_run), str(long_file), "--threshold", "1", "--format", "csv", "--quiet"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["file", "level", "start", "end", "rank", "label", "probability", "error"]
    clip_rows = [r for r in rows[1:] if r[1] == "clip"]
    assert len(clip_rows) == 1 and clip_rows[0][4:7] == ["", "", ""]  # no label: one row, left empty
    assert len([r for r in rows[1:] if r[1] == "segment"]) == 12
    assert main(["tag", str(tiny_run), str(long_file), "--threshold", "0.05", "--quiet"]) == 0
    (item,) = json.loads(capsys.readouterr().out)["files"]
    assert all(t["probability"] >= 0.05 for t in item["tags"]) and len(item["tags"]) <= 3
    for bad in ("1.5", "-0.1", "nan"):
        assert main(["tag", str(tiny_run), str(long_file), "--threshold", bad, "--quiet"]) == 2
        assert f"--threshold {bad}: give a probability from 0 to 1" in capsys.readouterr().err


# --- on the device of ``pytest --device`` (cpu by default) ----------------------------------------


def test_a_tagger_on_the_device_gives_the_cpu_probabilities(device, tagger, long_file, long_signal):
    on_device = Tagger.from_run(tagger.run_dir, device=str(device))
    assert on_device.device.type == device.type
    assert all(p.device.type == device.type for p in on_device.model.parameters())
    assert all(p.device.type == "cpu" for p in tagger.model.parameters())  # the CPU tagger was left alone
    atol = 1e-5 if device.type == "cpu" else 2e-3  # TF32 convolutions on CUDA round to ~1e-3 relative
    features = extract_batch(tagger.transform, [long_signal[: 3 * SR], long_signal[SR : SR + SR // 2]])
    np.testing.assert_allclose(on_device.probabilities(features), tagger.probabilities(features), rtol=0, atol=atol)
    labels = tagger.labels
    expected, got = tagger.tag_file(long_file, k=len(labels)), on_device.tag_file(long_file, k=len(labels))
    assert [(s.start, s.end) for s in got.segments] == [(s.start, s.end) for s in expected.segments]
    for ours, theirs in zip([got, *got.segments], [expected, *expected.segments]):
        np.testing.assert_allclose([as_dict(ours.tags)[label] for label in labels],
                                   [as_dict(theirs.tags)[label] for label in labels], rtol=0, atol=atol)
    frames, centres = on_device.frame_probabilities(long_signal)
    expected_frames, expected_centres = tagger.frame_probabilities(long_signal)
    np.testing.assert_array_equal(centres, expected_centres)
    np.testing.assert_allclose(frames, expected_frames, rtol=0, atol=atol)


def floored(tagger: Tagger, floor_db: float | None) -> Tagger:
    """The tagger with ``tag.window_floor_db`` set to ``floor_db``."""
    import dataclasses

    tag = dataclasses.replace(tagger.config.tag, window_floor_db=floor_db)
    return Tagger(tagger.model, tagger.transform, tagger.labels, dataclasses.replace(tagger.config, tag=tag),
                  device="cpu")


def test_a_window_floor_leaves_silent_windows_out_of_the_file_tags(tagger, tmp_path, long_signal):
    sound = long_signal[: 3 * SR]
    path = tmp_path / "half-silent.wav"
    sf.write(path, np.concatenate([sound, np.zeros(3 * SR, np.float32)]), SR, subtype="FLOAT")
    quiet_aware = floored(tagger, 100.0)  # digital silence (-200 dB) is left out, the demo audio is not
    n = len(tagger.labels)
    expected = tagger.file_probabilities(sound)
    got = as_dict(quiet_aware.tag_file(path, k=n).tags)
    np.testing.assert_allclose([got[label] for label in tagger.labels], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(quiet_aware.file_probabilities(load_audio(path, SR)), expected, rtol=0, atol=1e-6)
    plain = as_dict(tagger.tag_file(path, k=n).tags)
    assert not np.allclose([plain[label] for label in tagger.labels], expected, atol=1e-3)
    assert quiet_aware.provenance()["window_floor_db"] == 100.0


def test_a_window_floor_gives_a_silent_file_its_plain_mean(tagger, tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(3 * SR, np.float32), SR, subtype="FLOAT")
    n = len(tagger.labels)
    floor, plain = floored(tagger, 10.0).tag_file(path, k=n), tagger.tag_file(path, k=n)
    assert floor.silent and floor.tags == plain.tags


# --- a run whose features are computed at each file's own rate (``features.resample: false``) ----

@pytest.fixture(scope="module")
def own_rate_tagger(tagger) -> Tagger:
    """The tiny run's model over log-mel at each file's own rate."""
    config = copy.deepcopy(tagger.config)
    config.features.resample = False
    return Tagger(tagger.model, build_transform(config.features, SR), tagger.labels, config, device="cpu")


@pytest.fixture(scope="module")
def files_at_four_rates(tmp_path_factory, long_signal) -> list[Path]:
    """2.5 s of the same audio at 44.1 kHz, 32 kHz, 22.05 kHz (the hop falls between samples there,
    so it is resampled) and 48 kHz, and a second 44.1 kHz file."""
    folder = tmp_path_factory.mktemp("rates")
    paths = []
    for name, rate, start in [("a", 44100, 0.0), ("b", SR, 0.0), ("c", 22050, 0.0), ("d", 48000, 0.0), ("e", 44100, 5.0)]:
        piece = long_signal[int(start * SR) : int((start + 2.5) * SR)]
        paths.append(folder / f"{name}-{rate}.wav")
        sf.write(paths[-1], soxr.resample(piece, SR, rate), rate, subtype="FLOAT")
    return paths


def test_a_file_is_tagged_at_its_own_rate(own_rate_tagger, tagger, files_at_four_rates):
    path = files_at_four_rates[0]
    own = own_rate_tagger.file_probabilities(load_audio(path), 44100)
    result = own_rate_tagger.tag_file(path, k=len(tagger.labels))
    np.testing.assert_allclose([p for _, p in sorted(result.tags)], own, rtol=0, atol=1e-6)
    resampled = tagger.file_probabilities(load_audio(path, SR))
    assert not np.allclose(own, resampled, rtol=0, atol=1e-7)  # another feature path...
    np.testing.assert_allclose(own, resampled, rtol=0, atol=0.05)  # ...within its tolerance


def test_files_at_several_rates_tag_together_as_each_alone(own_rate_tagger, files_at_four_rates):
    # the batches of one call mix files at 44.1, 32, 48 kHz: each batch must hold one rate
    together = list(own_rate_tagger.tag_files(files_at_four_rates, segment=0.5, k=5))
    for path, result in zip(files_at_four_rates, together):
        alone = own_rate_tagger.tag_file(path, segment=0.5, k=5)
        assert [label for label, _ in result.tags] == [label for label, _ in alone.tags]
        np.testing.assert_allclose([p for _, p in result.tags], [p for _, p in alone.tags], rtol=0, atol=1e-6)
        assert len(result.segments) == 5 and result.duration == pytest.approx(2.5, abs=1e-4)


def test_an_own_rate_tagger_decodes_where_its_hop_is_whole(own_rate_tagger):
    assert [own_rate_tagger.decode_rate(r) for r in (44100, 22050, 48000, 8000)] == [44100, SR, 48000, 8000]


def test_an_array_and_frames_at_their_own_rate(own_rate_tagger, files_at_four_rates):
    path = files_at_four_rates[3]
    signal, rate = sf.read(path, dtype="float32")
    from_array = own_rate_tagger.tag_array(signal, rate, k=5)
    from_file = own_rate_tagger.tag_file(path, k=5)
    np.testing.assert_allclose([p for _, p in from_array.tags], [p for _, p in from_file.tags], rtol=0, atol=1e-6)
    probs, centres = own_rate_tagger.frame_probabilities(signal, rate)
    resampled_probs, resampled_centres = own_rate_tagger.frame_probabilities(load_audio(path, SR))
    np.testing.assert_allclose(centres, resampled_centres)
    framewise = own_rate_tagger.tag_file(path, framewise=True, k=5)
    assert framewise.tags and len(probs) == len(resampled_probs)
