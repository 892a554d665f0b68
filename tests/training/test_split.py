"""The validation split: verified clips only, stratified by label (a multi-label clip by its rarest
label), repeatable, never empties a label; and the splits a corpus layout gives or draws, as a run uses them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from soundtag.data import Clip, read_corpus
from soundtag.runs import SPLIT_FILE
from soundtag.training import prepare_training, start_run, validation_split
from tests.helpers import DEMO, read_rows
from tests.training.tiny_run import tiny_config


def clips_from(spec: list[tuple[str, bool]]) -> list[Clip]:
    return [Clip(f"{i:03d}.wav", Path(f"{i:03d}.wav"), (label,), verified) for i, (label, verified) in enumerate(spec)]


def expected_val(n_candidates: int, fraction: float) -> int:
    if n_candidates < 2:
        return 0
    return min(n_candidates - 1, max(1, round(fraction * n_candidates)))


MIXED = clips_from(
    [("dog", True)] * 10 + [("dog", False)] * 6
    + [("cat", True)] * 3 + [("cat", False)] * 4
    + [("owl", True)] * 1 + [("owl", False)] * 5
    + [("bee", False)] * 4
    + [("fox", True)] * 2
)


def test_validation_is_drawn_from_verified_clips_only():
    train, val = validation_split(MIXED, 0.3, seed=1)
    assert val and all(c.verified for c in val)
    assert [c for c in MIXED if c.label == "bee"] == [c for c in train if c.label == "bee"]


def test_counts_per_label_are_the_fraction_of_the_verified_clips():
    _, val = validation_split(MIXED, 0.3, seed=1)
    counts = Counter(c.label for c in val)
    # dog: 10 verified -> 3; cat: 3 -> round(0.9) = 1; owl: a single verified clip stays in train;
    # bee: none verified; fox: 2 -> round(0.6) = 1
    assert counts == {"dog": 3, "cat": 1, "fox": 1}


def test_every_label_keeps_a_training_clip():
    train, val = validation_split(MIXED, 0.9, seed=3)
    assert {c.label for c in train} == {c.label for c in MIXED}
    assert Counter(c.label for c in val) == {"dog": 9, "cat": 2, "fox": 1}


def test_split_is_a_partition_in_the_original_order():
    train, val = validation_split(MIXED, 0.3, seed=1)
    assert len(train) + len(val) == len(MIXED)
    assert set(train).isdisjoint(val)
    assert train == [c for c in MIXED if c in set(train)]
    assert val == [c for c in MIXED if c in set(val)]


def test_same_seed_same_split_and_other_seeds_differ():
    first = validation_split(MIXED, 0.3, seed=2018)
    assert validation_split(MIXED, 0.3, seed=2018) == first
    others = {tuple(c.fname for c in validation_split(MIXED, 0.3, seed=s)[1]) for s in range(10)}
    assert len(others) > 1


def test_from_all_draws_unverified_clips_too():
    _, val = validation_split(MIXED, 0.5, seed=0, from_verified=False)
    counts = Counter(c.label for c in val)
    assert counts == {"dog": 8, "cat": 4, "owl": 3, "bee": 2, "fox": 1}
    assert any(not c.verified for c in val)


def test_no_candidates_gives_an_empty_validation_set():
    clips = clips_from([("dog", False)] * 5 + [("cat", True)])
    train, val = validation_split(clips, 0.5, seed=0)
    assert val == [] and train == clips


@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.booleans()), max_size=60),
    st.floats(0.01, 0.99),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_split_properties(spec, fraction, seed, from_verified):
    clips = clips_from(spec)
    train, val = validation_split(clips, fraction, seed, from_verified)
    assert sorted(train + val, key=lambda c: c.fname) == clips
    assert {c.label for c in train} == {c.label for c in clips}
    counts = Counter(c.label for c in val)
    for label in {c.label for c in clips}:
        candidates = [c for c in clips if c.label == label and (c.verified or not from_verified)]
        assert counts[label] == expected_val(len(candidates), fraction)
    if from_verified:
        assert all(c.verified for c in val)
    assert validation_split(clips, fraction, seed, from_verified) == (train, val)


def test_the_demo_corpus_split():
    clips = read_corpus(DEMO).train
    train, val = validation_split(clips, 0.2, seed=2018)
    assert all(c.verified for c in val)
    verified = Counter(c.label for c in clips if c.verified)
    assert Counter(c.label for c in val) == {k: expected_val(n, 0.2) for k, n in verified.items()
                                             if expected_val(n, 0.2)}
    assert {c.label for c in train} == {c.label for c in clips}
    assert len(train) + len(val) == len(clips) == 79


def test_the_demo_split_is_the_one_earlier_versions_drew():
    """A resumed run draws its validation clips again: the single-label split must never change."""
    _, val = validation_split(read_corpus(DEMO).train, 0.2, seed=2018)
    assert [c.fname for c in val] == ["0df8ee3b.flac", "16a1516f.flac", "1f041b4a.flac", "2d96f206.flac",
                                      "3e01268a.flac", "4ae79d6a.flac", "69827e1a.flac", "6de0a6b6.flac",
                                      "852c8151.flac", "881de000.flac", "ef9c003a.flac"]


def multi(spec: list[tuple[str, ...]]) -> list[Clip]:
    return [Clip(f"{i:03d}.wav", Path(f"{i:03d}.wav"), labels, True) for i, labels in enumerate(spec)]


def test_multi_label_clips_are_stratified_by_their_rarest_label():
    clips = multi([("dog",)] * 8 + [("dog", "owl")] * 4 + [("owl",)] * 2 + [()] * 5 + [("dog", "bee")] * 2)
    train, val = validation_split(clips, 0.25, seed=0)
    strata = Counter(("bee" if "bee" in c.labels else "owl" if "owl" in c.labels else c.labels[0] if c.labels
                      else "none") for c in val)
    assert strata == {"dog": 2, "owl": 2, "none": 1, "bee": 1}  # owl: 6 clips carry it as their rarest label
    assert sorted(train + val, key=lambda c: c.fname) == clips
    assert validation_split(clips, 0.25, seed=0) == (train, val)


# --- a run on a layout that gives (or draws) its splits ---------------------------------------------------


def demo_folders(root: Path, with_val: bool) -> Path:
    """The demo as class folders (links): ROOT/<label>/<fname>, with ROOT/val/... too when ``with_val``
    (then train/ holds the train clips and val/ the first clip of each class)."""
    rows = read_rows(DEMO / "train.csv")
    firsts = {}
    for row in rows:
        firsts.setdefault(row["label"], row["fname"])
    for row in rows:
        split = ("val" if firsts[row["label"]] == row["fname"] else "train") if with_val else ""
        link = root / split / row["label"] / row["fname"]
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(DEMO / "audio_train" / row["fname"])
    if with_val:
        (root / "test" / "Cello").mkdir(parents=True)
        (root / "test" / "Cello" / "t.flac").symlink_to(next((DEMO / "audio_test").iterdir()))
    return root


def test_a_run_takes_the_validation_clips_the_layout_names(tmp_path, feature_cache_dir):
    root = demo_folders(tmp_path / "corpus", with_val=True)
    prepared = prepare_training(tiny_config(feature_cache_dir, f"data.corpus={root}"), progress=False)
    corpus = read_corpus(root)
    assert [e.fname for e in prepared.data.val] == [c.fname for c in corpus.val] and len(corpus.val) == 11
    assert [e.fname for e in prepared.data.train] == [c.fname for c in corpus.train]
    assert prepared.corpus is not None and prepared.corpus.split_note == ""


def test_a_run_on_class_folders_without_test_records_the_drawn_split(tmp_path, feature_cache_dir):
    root = demo_folders(tmp_path / "corpus", with_val=False)
    config = tiny_config(feature_cache_dir, f"data.corpus={root}", "train.epochs=1")
    _, prepared = start_run(config, tmp_path / "run", progress=False)
    corpus = read_corpus(root)
    rows = read_rows(tmp_path / "run" / SPLIT_FILE)
    assert rows == [{"fname": c.fname, "split": "train"} for c in corpus.train] + \
        [{"fname": c.fname, "split": "test"} for c in corpus.test]
    assert {e.fname for e in prepared.data.train + prepared.data.val} == {c.fname for c in corpus.train}
    assert corpus.split_note in (tmp_path / "run" / "train.log").read_text()


def test_a_run_on_a_layout_that_gives_its_test_split_writes_no_split_file(tmp_path, feature_cache_dir):
    _, prepared = start_run(tiny_config(feature_cache_dir, "train.epochs=1"), tmp_path / "run", progress=False)
    assert prepared.corpus.layout == "fsdkaggle2018" and not (tmp_path / "run" / SPLIT_FILE).exists()

