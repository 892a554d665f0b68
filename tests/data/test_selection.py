"""Which clips a run learns from: all or verified labels, extra (promoted) labels, loss weights."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from soundtag.data import Clip, Corpus, LabelMap, choose_training_clips, examples_for, read_extra_labels
from soundtag.errors import CorpusError


@pytest.fixture
def corpus(tmp_path) -> Corpus:
    clips = [Clip("a.wav", tmp_path / "a.wav", ("dog",), True), Clip("b.wav", tmp_path / "b.wav", ("dog",), False),
             Clip("c.wav", tmp_path / "c.wav", ("cat",), False), Clip("d.wav", tmp_path / "d.wav", ("cat",), True)]
    return Corpus(tmp_path, clips, [], ["cat", "dog"])


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("fname,label\n" + "".join(f"{f},{label}\n" for f, label in rows))
    return path


def test_all_or_verified_labels(corpus):
    assert [c.fname for c in choose_training_clips(corpus, "all")] == ["a.wav", "b.wav", "c.wav", "d.wav"]
    assert [c.fname for c in choose_training_clips(corpus, "verified")] == ["a.wav", "d.wav"]


def test_extra_labels_join_verified_clips_as_unverified_with_their_new_label(corpus):
    clips = choose_training_clips(corpus, "verified", {"c.wav": "dog"})
    assert [(c.fname, c.label, c.verified) for c in clips] == [
        ("a.wav", "dog", True), ("d.wav", "cat", True), ("c.wav", "dog", False)]


def test_extra_labels_relabel_chosen_unverified_clips_but_never_verified_ones(corpus):
    clips = choose_training_clips(corpus, "all", {"b.wav": "cat", "a.wav": "cat"})
    assert [(c.fname, c.label) for c in clips] == [("a.wav", "dog"), ("b.wav", "cat"), ("c.wav", "cat"),
                                                   ("d.wav", "cat")]


def test_read_extra_labels_checks_names_and_vocabulary(corpus, tmp_path):
    assert read_extra_labels(write_csv(tmp_path / "ok.csv", [("b.wav", "cat")]), corpus) == {"b.wav": "cat"}
    with pytest.raises(CorpusError, match="'zz.wav' is not a train clip"):
        read_extra_labels(write_csv(tmp_path / "x.csv", [("zz.wav", "cat")]), corpus)
    with pytest.raises(CorpusError, match="label 'cow' of 'b.wav' is not in the vocabulary"):
        read_extra_labels(write_csv(tmp_path / "y.csv", [("b.wav", "cow")]), corpus)


def test_examples_weigh_unverified_clips_unless_trusted(corpus):
    examples = examples_for(corpus.train, LabelMap(corpus.labels), unverified_weight=0.5, trusted={"c.wav"})
    assert [(e.fname, e.target, e.weight) for e in examples] == [
        ("a.wav", 1, 1.0), ("b.wav", 1, 0.5), ("c.wav", 0, 1.0), ("d.wav", 0, 1.0)]


def test_examples_of_clips_with_several_labels_or_none(tmp_path):
    clips = [Clip("a.wav", tmp_path / "a.wav", ("dog", "cat")), Clip("b.wav", tmp_path / "b.wav", ()),
             Clip("c.wav", tmp_path / "c.wav", ("cat",), True)]
    examples = examples_for(clips, LabelMap(["cat", "dog"]), unverified_weight=0.5)
    assert [(e.fname, e.target, e.targets, e.weight) for e in examples] == [
        ("a.wav", -1, (1, 0), 0.5), ("b.wav", -1, (), 0.5), ("c.wav", 0, (0,), 1.0)]
    with pytest.raises(KeyError, match="owl"):
        examples_for([Clip("d.wav", tmp_path / "d.wav", ("cat", "owl"))], LabelMap(["cat"]))


def test_extra_labels_give_clips_one_label(corpus):
    clips = choose_training_clips(corpus, "all", {"b.wav": "cat"})
    assert clips[1].labels == ("cat",) and clips[1].label == "cat"


# --- a multi-label corpus: extra labels are label sets ------------------------------------------------


@pytest.fixture
def multi_corpus(tmp_path) -> Corpus:
    clips = [Clip("a.wav", tmp_path / "a.wav", ("dog", "cat"), True),
             Clip("b.wav", tmp_path / "b.wav", ("dog",), False), Clip("c.wav", tmp_path / "c.wav", (), False),
             Clip("d.wav", tmp_path / "d.wav", ("cat",), False)]
    return Corpus(tmp_path, clips, [], ["cat", "dog", "owl"])


def write_sets(path: Path, rows: list[tuple[str, str]]) -> Path:
    """``fname,labels`` as promoted.csv of a multi-label corpus writes it (a set in one quoted field)."""
    pd.DataFrame(rows, columns=["fname", "labels"]).to_csv(path, index=False)
    return path


def test_read_extra_labels_reads_label_sets_of_a_multi_label_corpus(multi_corpus, tmp_path):
    path = write_sets(tmp_path / "promoted.csv", [("b.wav", "dog,owl"), ("c.wav", ""), ("d.wav", " cat ")])
    assert '"dog,owl"' in path.read_text()
    assert read_extra_labels(path, multi_corpus) == {"b.wav": ("dog", "owl"), "c.wav": (), "d.wav": ("cat",)}
    with pytest.raises(CorpusError, match="'zz.wav' is not a train clip"):
        read_extra_labels(write_sets(tmp_path / "x.csv", [("zz.wav", "cat")]), multi_corpus)
    with pytest.raises(CorpusError, match="label 'cow' of 'b.wav' is not in the vocabulary"):
        read_extra_labels(write_sets(tmp_path / "y.csv", [("b.wav", "dog,cow")]), multi_corpus)


def test_extra_labels_column_follows_the_corpus(corpus, multi_corpus, tmp_path):
    with pytest.raises(CorpusError, match="missing column 'labels': extra labels of .*, a multi-label corpus, are "
                                          r"fname,labels \(comma-separated, empty for none\)"):
        read_extra_labels(write_csv(tmp_path / "one.csv", [("b.wav", "dog")]), multi_corpus)
    with pytest.raises(CorpusError, match="missing column 'label': extra labels of .*, a single-label corpus, are "
                                          "fname,label$"):
        read_extra_labels(write_sets(tmp_path / "sets.csv", [("b.wav", "cat")]), corpus)


def test_extra_label_sets_join_as_trusted_clips(multi_corpus, tmp_path):
    extra = read_extra_labels(write_sets(tmp_path / "p.csv", [("b.wav", "dog,owl"), ("c.wav", ""),
                                                              ("a.wav", "owl")]), multi_corpus)
    clips = choose_training_clips(multi_corpus, "verified", extra)
    # a verified clip keeps its own labels; promoted clips join unverified, with their extra sets
    assert [(c.fname, c.labels, c.verified) for c in clips] == [
        ("a.wav", ("dog", "cat"), True), ("b.wav", ("dog", "owl"), False), ("c.wav", (), False)]
    examples = examples_for(clips, LabelMap(multi_corpus.labels), unverified_weight=0.25, trusted=set(extra))
    assert [(e.fname, e.targets, e.weight) for e in examples] == [
        ("a.wav", (1, 0), 1.0), ("b.wav", (1, 2), 1.0), ("c.wav", (), 1.0)]
    everything = choose_training_clips(multi_corpus, "all", extra)
    assert [(c.fname, c.labels) for c in everything] == [
        ("a.wav", ("dog", "cat")), ("b.wav", ("dog", "owl")), ("c.wav", ()), ("d.wav", ("cat",))]
    weights = [e.weight for e in examples_for(everything, LabelMap(multi_corpus.labels), 0.25, set(extra))]
    assert weights == [1.0, 1.0, 1.0, 0.25]
