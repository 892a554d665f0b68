"""Sound events: frame-wise probabilities to events (hysteresis, shortest event, merged gaps, per-class
thresholds), the tagger's events of whole files, and ``soundtag tag --events`` with its Audacity and
Raven outputs on real audio."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from soundtag.audio import load_audio
from soundtag.cli.main import main
from soundtag.config import EventsConfig, config_from_dict
from soundtag.errors import AudioError, ConfigError, SoundtagError
from soundtag.inference import Tagger
from soundtag.inference.events import (
    RAVEN_COLUMNS,
    Event,
    audacity_labels,
    detect_events,
    frame_runs,
    hysteresis_runs,
    raven_selections,
)
from soundtag.inference.segments import SegmentTagger
from soundtag.outputs import NOT_FINITE
from tests.helpers import make_soundscapes

HOP = 0.5


def events_of(column: list[float], **settings) -> list[tuple[float, float, float]]:
    """(onset, offset, peak) of the events of one class whose frames are HOP apart from 0 s."""
    probs = np.asarray(column, dtype=float)[:, None]
    times = HOP / 2 + HOP * np.arange(len(probs))
    settings.setdefault("thresholds", 0.5)
    return [(e.onset, e.offset, e.probability) for e in detect_events(probs, ["a"], times, HOP, **settings)]


# --- frames to events -----------------------------------------------------------------------------

def test_the_module_examples_hold():
    import doctest

    from soundtag.inference import events

    assert doctest.testmod(events).failed == 0


def test_frame_runs_finds_every_run_with_exclusive_ends():
    assert frame_runs(np.array([1, 1, 0, 0, 1, 0, 1], dtype=bool)).tolist() == [[0, 2], [4, 5], [6, 7]]
    assert frame_runs(np.zeros(0, dtype=bool)).shape == (0, 2)


def test_hysteresis_starts_high_and_continues_low_both_ways():
    column = [0.1, 0.3, 0.6, 0.3, 0.1, 0.45, 0.45, 0.1]
    assert hysteresis_runs(np.array(column), 0.5, 0.25).tolist() == [[1, 4]]  # the 0.45 run never reaches 0.5
    assert events_of(column, hysteresis=0.5) == [(0.5, 2.0, 0.6)]
    assert events_of(column, hysteresis=1.0) == [(1.0, 1.5, 0.6)]


def test_a_threshold_is_reached_at_equality():
    assert events_of([0.0, 0.5, 0.0], hysteresis=1.0) == [(0.5, 1.0, 0.5)]


def test_events_shorter_than_the_shortest_are_dropped():
    column = [0.9, 0.0, 0.9, 0.9, 0.0, 0.9, 0.9, 0.9]
    assert [e[:2] for e in events_of(column, min_duration=1.0)] == [(1.0, 2.0), (2.5, 4.0)]
    assert [e[:2] for e in events_of(column, min_duration=1.01)] == [(2.5, 4.0)]


def test_events_of_one_class_closer_than_the_gap_merge():
    column = [0.9, 0.0, 0.7, 0.0, 0.0, 0.8]
    assert events_of(column, merge_gap=0.5) == [(0.0, 1.5, 0.9), (2.5, 3.0, 0.8)]
    assert events_of(column, merge_gap=1.0) == [(0.0, 3.0, 0.9)]
    assert len(events_of(column, merge_gap=0.49)) == 3


def test_merging_comes_before_the_shortest_event_rule():
    """Two short blips with a short gap make one event long enough to keep."""
    assert events_of([0.9, 0.0, 0.9], merge_gap=0.5, min_duration=1.5) == [(0.0, 1.5, 0.9)]


def test_per_class_thresholds_and_the_order_of_events():
    probs = np.array([[0.6, 0.0], [0.6, 0.35], [0.0, 0.35], [0.0, 0.0]])
    times = HOP / 2 + HOP * np.arange(4)
    events = detect_events(probs, ["b", "a"], times, HOP, thresholds=[0.7, 0.3])
    assert events == [Event("a", 0.5, 1.5, 0.35)]
    events = detect_events(probs, ["b", "a"], times, HOP, thresholds=[0.5, 0.3])
    assert [(e.label, e.onset) for e in events] == [("b", 0.0), ("a", 0.5)]
    same_onset = detect_events(probs[1:], ["b", "a"], times[1:], HOP, thresholds=0.3)
    assert [(e.label, e.onset) for e in same_onset] == [("a", 0.5), ("b", 0.5)]


def test_events_are_clipped_to_the_file_and_run_to_its_end():
    probs = np.array([[0.9], [0.1], [0.9], [0.9]])
    times = np.array([0.1, 0.6, 1.1, 1.6])  # the first frame starts before 0, the last ends after 1.7
    events = detect_events(probs, ["a"], times, HOP, 0.5, end=1.7)
    assert [(e.onset, e.offset) for e in events] == [(0.0, pytest.approx(0.35)), (pytest.approx(0.85), 1.7)]
    assert detect_events(probs, ["a"], times, HOP, 0.5)[-1].offset == pytest.approx(1.85)


def test_frames_unevenly_spaced_at_block_edges_keep_their_own_times():
    times = np.array([0.25, 0.75, 1.25, 1.6, 2.1])
    events = detect_events(np.array([[0.0], [0.0], [0.0], [0.9], [0.9]]), ["a"], times, HOP, 0.5)
    assert [(e.onset, e.offset) for e in events] == [(pytest.approx(1.35), pytest.approx(2.35))]


def test_no_frames_and_no_activity_give_no_events():
    assert detect_events(np.zeros((0, 2)), ["a", "b"], np.zeros(0), HOP, 0.5) == []
    assert detect_events(np.full((5, 2), 0.2), ["a", "b"], HOP * np.arange(5), HOP, 0.5) == []


def test_a_threshold_of_zero_makes_the_whole_file_one_event():
    assert events_of([0.0, 0.0, 0.0], thresholds=0.0) == [(0.0, 1.5, 0.0)]


@pytest.mark.parametrize("probs, message", [
    (np.full((4, 1), np.nan), "not finite"),
    (np.array([[0.5], [np.inf]]), "not finite"),
    (np.zeros((4, 2)), "not \\(frames, 1 classes\\)"),
    (np.zeros(4), "not \\(frames, 1 classes\\)"),
])
def test_unusable_probabilities_are_refused(probs, message):
    with pytest.raises(ValueError, match=message):
        detect_events(probs, ["a"], HOP * np.arange(len(probs)), HOP, 0.5)


@pytest.mark.parametrize("settings, message", [
    ({"thresholds": 1.5}, "thresholds must lie in \\[0, 1\\]"),
    ({"thresholds": [0.5, 0.5]}, "2 thresholds given for 1 classes"),
    ({"thresholds": 0.5, "hysteresis": 0.0}, "hysteresis in \\(0, 1\\]"),
    ({"thresholds": 0.5, "min_duration": -1.0}, "min_duration >= 0"),
    ({"thresholds": 0.5, "merge_gap": float("nan")}, "merge_gap >= 0"),
])
def test_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        detect_events(np.zeros((2, 1)), ["a"], np.array([0.0, 0.5]), HOP, **settings)


# --- the settings and the output formats ----------------------------------------------------------

def test_events_config_is_validated_by_name():
    events = config_from_dict({"tag": {"events": {"threshold": 0.3, "thresholds": {"Bark": 1}}}}).tag.events
    assert events.threshold == 0.3 and events.thresholds == {"Bark": 1.0} and events.hysteresis == 0.5
    for bad, key in [({"hysteresis": 1.5}, "tag.events.hysteresis"), ({"min_duration": -0.1}, "tag.events.min_duration"),
                     ({"threshold": 2}, "tag.events.threshold"), ({"thresholds": {"Bark": -1}}, "tag.events.thresholds"),
                     ({"merge_gap": "1"}, "tag.events.merge_gap")]:
        with pytest.raises(ConfigError, match=key):
            config_from_dict({"tag": {"events": bad}})


def test_audacity_labels_and_raven_selections_are_tab_separated_tables():
    events = [Event("Bark", 1.25, 2.0, 0.875), Event("odd\tname", 3.0, 3.5, 0.5)]
    assert audacity_labels(events) == "1.250000\t2.000000\tBark\n3.000000\t3.500000\todd name\n"
    assert audacity_labels([]) == ""
    rows = list(csv.DictReader(raven_selections(events, "/data/a.wav", 16000).splitlines(), delimiter="\t"))
    assert list(rows[0]) == list(RAVEN_COLUMNS)
    assert rows[1] == {"Selection": "2", "View": "Spectrogram 1", "Channel": "1", "Begin Time (s)": "3.000",
                       "End Time (s)": "3.500", "Low Freq (Hz)": "0", "High Freq (Hz)": "16000",
                       "Annotation": "odd name", "Probability": "0.5000", "Begin Path": "/data/a.wav",
                       "File Offset (s)": "3.000"}
    assert raven_selections([], "a.wav", 8000) == "\t".join(RAVEN_COLUMNS) + "\n"


# --- events of whole files ------------------------------------------------------------------------

class LoudnessTagger(SegmentTagger):
    """A model-free tagger whose one class, "sound", has the probability min(1, 10 * RMS) per 0.1-s frame."""

    labels = ["sound"]
    sample_rate = 8000
    default_segment = 1.0
    frame_seconds = 0.1

    def segment_probabilities(self, segments, sample_rate=None):
        return np.array([[min(1.0, 10 * float(np.sqrt(np.mean(s**2))))] for s in segments])

    def frame_probabilities(self, signal, sample_rate=None):
        step = int(self.frame_seconds * self.sample_rate)
        frames = [signal[i : i + step] for i in range(0, len(signal), step)]
        return self.segment_probabilities(frames), self.frame_seconds * (np.arange(len(frames)) + 0.5)


@pytest.fixture
def tone_file(tmp_path):
    """4.05 s at 8 kHz: silence, a tone from 1.0 to 2.0 s and from 3.2 s to the end."""
    t = np.arange(int(4.05 * 8000)) / 8000
    signal = np.where(((t >= 1.0) & (t < 2.0)) | (t >= 3.2), 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
    path = tmp_path / "tone.wav"
    sf.write(path, signal.astype(np.float32), 8000)
    return path


@pytest.mark.parametrize("framewise", [False, True])
def test_a_file_gets_the_events_of_its_frames_in_the_same_pass(tone_file, framewise):
    tagger = LoudnessTagger()
    tagger.block_seconds = 1.5  # several blocks, the last one joined to the one before it
    (tags,) = tagger.tag_files([tone_file], framewise=framewise, events=EventsConfig(min_duration=0.3))
    assert [(e.label, e.onset, e.offset) for e in tags.events] == [
        ("sound", pytest.approx(1.0), pytest.approx(2.0)), ("sound", pytest.approx(3.2), pytest.approx(4.05))]
    assert tags.to_dict()["events"][1] == {"label": "sound", "onset": 3.2, "offset": 4.05, "probability": 1.0}
    (plain,) = tagger.tag_files([tone_file], framewise=framewise)
    assert plain.events is None and "events" not in plain.to_dict()
    assert plain.tags == tags.tags and plain.segments == tags.segments


def test_non_finite_frames_make_the_file_fail(tone_file):
    class Broken(LoudnessTagger):
        def frame_probabilities(self, signal, sample_rate=None):
            probs, times = super().frame_probabilities(signal, sample_rate)
            return probs * np.nan, times

    (result,) = Broken().tag_files([tone_file], events=EventsConfig())
    assert isinstance(result, AudioError) and result.problem == NOT_FINITE


def test_event_thresholds_come_from_the_classes_the_settings_or_the_run():
    tagger = LoudnessTagger()
    tagger.labels = ["a", "b", "c"]
    assert tagger.event_cutoffs(EventsConfig()).tolist() == [0.5, 0.5, 0.5]
    tagger.multi_label, tagger.thresholds = True, np.array([0.2, 0.3, 0.4])
    assert tagger.event_cutoffs(EventsConfig()).tolist() == [0.2, 0.3, 0.4]
    assert tagger.event_cutoffs(EventsConfig(threshold=0.6, thresholds={"c": 0.1})).tolist() == [0.6, 0.6, 0.1]
    assert tagger.thresholds.tolist() == [0.2, 0.3, 0.4]
    with pytest.raises(SoundtagError, match="1 label\\(s\\) the model does not have: dog"):
        tagger.event_cutoffs(EventsConfig(thresholds={"dog": 0.5}))


def test_a_tagger_without_frames_refuses_events():
    tagger = LoudnessTagger()
    tagger.frame_seconds = None
    with pytest.raises(SoundtagError, match="--events: frame-wise tagging needs"):
        tagger.event_reader(EventsConfig())


def test_a_run_reads_the_events_of_its_frame_wise_outputs(tiny_run, tone_file):
    tagger = Tagger.from_run(tiny_run, device="cpu")
    assert tagger.frame_seconds == pytest.approx(tagger.model.frame_hop * tagger.transform.frame_hop / 32000)
    settings = EventsConfig(threshold=0.2, hysteresis=0.5)
    (tags,) = tagger.tag_files([tone_file], events=settings)
    probs, times = tagger.frame_probabilities(load_audio(tone_file, tagger.sample_rate))
    frames, centres = tagger.file_frames(tone_file)  # the frames centred in the file, streamed
    inside = times < tags.duration
    assert np.allclose(frames, probs[inside], atol=1e-5) and np.array_equal(centres, times[inside])
    expected = detect_events(probs, tagger.labels, times, tagger.frame_seconds, 0.2, 0.5, end=tags.duration)
    assert tags.events == expected


# --- the command line -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def soundscapes(tmp_path_factory):
    """Two test soundscapes of 4 s made from the demo corpus."""
    out = make_soundscapes(tmp_path_factory.mktemp("event-scapes") / "set", "--train", "1", "--test", "2",
                           "--seconds", "4")
    return sorted((out / "audio" / "test").glob("*.flac"))


@pytest.mark.e2e
def test_tag_events_as_json_lines_csv_audacity_and_raven(tiny_run, soundscapes, tmp_path, capsys):
    """Real soundscapes, a threshold low enough to get events: JSON lines records carry them (and the
    provenance the settings), CSV rows of level 'event', one Audacity track or Raven table per file."""
    common = ["tag", str(tiny_run), *map(str, soundscapes), "--quiet", "--event-threshold", "0.05",
              "--min-duration", "0.2"]
    assert main([*common, "--events", "-o", str(tmp_path / "tags.jsonl")]) == 0
    head, *records = [json.loads(line) for line in (tmp_path / "tags.jsonl").read_text().splitlines()]
    assert head["soundtag"]["events"]["min_duration"] == 0.2
    assert len(records) == 2 and all(r["events"] for r in records)
    for record in records:
        for event in record["events"]:
            assert set(event) == {"label", "onset", "offset", "probability"}
            assert 0 <= event["onset"] < event["offset"] <= record["duration"]
            assert event["offset"] - event["onset"] >= 0.2 and 0.05 <= event["probability"] <= 1
    assert main([*common, "--format", "audacity", "--out-dir", str(tmp_path / "tracks")]) == 0
    assert main([*common, "--format", "raven", "--out-dir", str(tmp_path / "tables")]) == 0
    for path, record in zip(soundscapes, records):
        lines = (tmp_path / "tracks" / f"{path.stem}.labels.txt").read_text().splitlines()
        assert [line.split("\t") for line in lines] == [
            [f"{e['onset']:.6f}", f"{e['offset']:.6f}", e["label"]] for e in record["events"]]
        rows = read_rows_tab(tmp_path / "tables" / f"{path.stem}.selections.txt")
        assert [(float(r["Begin Time (s)"]), r["Annotation"], float(r["Probability"])) for r in rows] == [
            (e["onset"], e["label"], pytest.approx(e["probability"], abs=1e-4)) for e in record["events"]]
        assert {r["Begin Path"] for r in rows} == {str(path.resolve())}
    assert main([*common[:3], "--format", "csv", "--events", "--quiet", "--event-threshold", "0.05",
                 "--min-duration", "0.2"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [(float(r["start"]), r["label"]) for r in rows if r["level"] == "event"] == [
        (e["onset"], e["label"]) for e in records[0]["events"]]


@pytest.mark.e2e
def test_one_track_to_stdout_or_a_file_and_failures_reported(tiny_run, soundscapes, tmp_path, capsys):
    run = ["tag", str(tiny_run), "--quiet", "--format", "audacity", "--event-threshold", "0.05"]
    assert main([*run, str(soundscapes[0])]) == 0
    shown = capsys.readouterr().out
    assert shown and all(len(line.split("\t")) == 3 for line in shown.splitlines())
    assert main([*run, str(soundscapes[0]), "-o", str(tmp_path / "one.txt")]) == 0
    assert (tmp_path / "one.txt").read_text() == shown
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF junk")
    assert main([*run, str(soundscapes[0]), str(broken), "--out-dir", str(tmp_path / "out")]) == 1
    assert f"could not tag {broken}" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{soundscapes[0].stem}.labels.txt"]
    assert main([*run, *map(str, soundscapes)]) == 2
    assert "give --out-dir DIR for 2 files" in capsys.readouterr().err
    assert main(["tag", str(tiny_run), str(soundscapes[0]), "--quiet", "--out-dir", str(tmp_path)]) == 2
    assert main([*run, str(soundscapes[0]), "--hysteresis", "0"]) == 2
    assert "soundtag: error: --hysteresis must be in (0, 1]" in capsys.readouterr().err  # the option, not the key
    label = json.loads((tiny_run / "label_map.json").read_text())["labels"][0]
    (tmp_path / "th.json").write_text(json.dumps({"thresholds": {label: 3}}))
    assert main([*run, str(soundscapes[0]), "--event-thresholds", str(tmp_path / "th.json")]) == 2
    assert f"--event-thresholds {tmp_path / 'th.json'}: " in capsys.readouterr().err
    plain = ["tag", str(tiny_run), str(soundscapes[0]), "--quiet"]
    assert main([*plain, "--hysteresis", "0.5", "--min-duration", "1"]) == 2  # not dropped without a word
    assert "--hysteresis, --min-duration: event options apply to events; add --events" in capsys.readouterr().err


def read_rows_tab(path) -> list[dict[str, str]]:
    """Rows of a tab-separated table with a header, read with the csv module."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_an_array_gets_the_events_its_file_gets(tone_file):
    tagger = LoudnessTagger()
    tagger.block_seconds = 1.5
    settings = EventsConfig(min_duration=0.3)
    (from_file,) = tagger.tag_files([tone_file], events=settings)
    signal, rate = sf.read(tone_file, dtype="float32")
    from_array = tagger.tag_array(signal, rate, events=settings)
    assert from_array.events == from_file.events and len(from_array.events) == 2
    assert tagger.tag_array(signal, rate).events is None
