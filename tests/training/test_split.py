"""The validation split: verified clips only, stratified by label, repeatable, never empties a label."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from soundtag.data import Clip, read_corpus
from soundtag.training import validation_split
from tests.helpers import DEMO


def clips_from(spec: list[tuple[str, bool]]) -> list[Clip]:
    return [Clip(f"{i:03d}.wav", Path(f"{i:03d}.wav"), label, verified) for i, (label, verified) in enumerate(spec)]


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
