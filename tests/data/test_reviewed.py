"""reviewed.csv as training reads it: rows, torn last lines, undo, and the labels it gives the train clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundtag.data import Clip, Corpus
from soundtag.data.reviewed import Decision, apply_review, count_review, read_decisions, standing_history
from soundtag.errors import CorpusError

HEADER = "fname,decision,label,time\n"


def corpus(multi_label: bool = False) -> Corpus:
    train = [Clip("a.wav", Path("a.wav"), ("Bark",), False), Clip("b.wav", Path("b.wav"), ("Cough",), False),
             Clip("c.wav", Path("c.wav"), ("Bark",), False), Clip("d.wav", Path("d.wav"), ("Cough",), True)]
    if multi_label:
        train.append(Clip("e.wav", Path("e.wav"), ("Bark", "Cough"), False))
    return Corpus(Path("corpus"), train, [], ["Bark", "Cough", "Flute"])


def write(tmp_path: Path, *lines: str, tail: str = "") -> Path:
    path = tmp_path / "reviewed.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines) + tail, encoding="utf-8")
    return path


def test_rows_are_read_in_order_and_a_torn_last_line_is_ignored(tmp_path):
    path = write(tmp_path, "a.wav,accept,Bark,2024-01-01T00:00:00Z", "b.wav,relabel,Flute,2024-01-01T00:00:01Z",
                 tail="c.wav,rel")
    assert [(d.fname, d.decision, d.label) for d in read_decisions(path)] == [
        ("a.wav", "accept", "Bark"), ("b.wav", "relabel", "Flute")]


def test_an_undo_row_takes_back_the_latest_standing_decision_on_its_clip():
    rows = [Decision("a", "accept", "Bark"), Decision("a", "relabel", "Flute"), Decision("b", "none"),
            Decision("a", "undo"), Decision("b", "undo"), Decision("b", "undo")]
    assert [(d.fname, d.decision) for d in standing_history(rows)] == [("a", "accept")]


def test_reviewed_labels_become_verified_none_is_left_out_and_skip_changes_nothing(tmp_path):
    path = write(tmp_path, "a.wav,accept,Bark,t", "b.wav,relabel,Flute,t", "c.wav,none,,t", "d.wav,skip,,t")
    train = {clip.fname: clip for clip in apply_review(corpus(), path).train}
    assert (train["a.wav"].labels, train["a.wav"].verified) == (("Bark",), True)
    assert (train["b.wav"].labels, train["b.wav"].verified) == (("Flute",), True)
    assert "c.wav" not in train
    assert (train["d.wav"].labels, train["d.wav"].verified) == (("Cough",), True)
    counts = count_review(corpus(), path)
    assert (counts.reviewed, counts.changed, counts.skipped) == (3, 2, 1)
    assert "3 labels reviewed" in counts.describe()


def test_a_multi_label_clip_of_none_of_the_classes_stays_as_a_verified_negative(tmp_path):
    path = write(tmp_path, "e.wav,none,,t", "a.wav,relabel,\"Bark,Flute\",t")
    train = {clip.fname: clip for clip in apply_review(corpus(multi_label=True), path).train}
    assert (train["e.wav"].labels, train["e.wav"].verified) == ((), True)
    assert train["a.wav"].labels == ("Bark", "Flute")


@pytest.mark.parametrize("line, words", [("z.wav,accept,Bark,t", "'z.wav' is not a train clip"),
                                          ("a.wav,relabel,Horn,t", "label 'Horn' of 'a.wav' is not in the vocabulary"),
                                          ("a.wav,relabel,,t", "without a label"),
                                          ("a.wav,maybe,,t", "line 2 is not fname,decision,label,time")])
def test_decisions_that_do_not_fit_the_corpus_are_refused_naming_the_file(tmp_path, line, words):
    path = write(tmp_path, line)
    with pytest.raises(CorpusError, match="reviewed.csv") as error:
        apply_review(corpus(), path)
    assert words in str(error.value)


def test_a_file_that_is_not_a_review_log_is_refused(tmp_path):
    path = tmp_path / "reviewed.csv"
    path.write_text("fname,label\na.wav,Bark\n")
    with pytest.raises(CorpusError, match="the first line must be fname,decision,label,time"):
        read_decisions(path)
    with pytest.raises(CorpusError, match="not found"):
        read_decisions(tmp_path / "missing.csv")
