"""Labels a person reviewed (``soundtag review``): the ``reviewed.csv`` log and what training makes of it.

The log is ``fname,decision,label,time``, one row a decision, appended in the order they were made and
never rewritten. ``decision`` is ``accept`` (the given label is right), ``relabel`` (``label`` is the
right one), ``none`` (none of the classes), ``skip`` (unsure: nothing changes) or ``undo`` (takes back
the latest decision still standing on that clip). ``label`` is the label accepted or chosen (a label
set, comma-separated, in a multi-label corpus) and empty for the others; ``time`` is UTC, ISO 8601.
A last line without its newline is a decision whose write was cut off (a kill, a power cut): it is
ignored, so a crash loses at most the decision being written.

Training (``data.reviewed``, or ``soundtag train --reviewed FILE``) applies the decisions still
standing to the corpus's train clips (:func:`apply_review`): accepted and relabelled clips become
verified with that label, a clip of none of the classes is left out (a multi-label corpus keeps it as
a verified negative, with no label), and skipped clips stay as they were.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

from soundtag.data.corpus import Corpus, split_labels
from soundtag.errors import CorpusError

COLUMNS = ("fname", "decision", "label", "time")
DECISIONS = ("accept", "relabel", "none", "skip")
UNDO = "undo"
LABELLED = ("accept", "relabel")
"""Decisions whose ``label`` column holds the clip's label."""


@dataclass(frozen=True)
class Decision:
    """One row of ``reviewed.csv``."""

    fname: str
    decision: str
    label: str = ""
    time: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        """The label set of an accepted or relabelled clip (empty for the other decisions)."""
        return split_labels(self.label) if self.decision in LABELLED else ()

    def csv_line(self) -> str:
        """The row as one CSV line, newline included."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow([self.fname, self.decision, self.label, self.time])
        return buffer.getvalue()


def header_line() -> str:
    """The first line of ``reviewed.csv``."""
    return ",".join(COLUMNS) + "\n"


def complete_text(data: bytes) -> str:
    """The complete lines of a log's bytes: a last line cut off before its newline is dropped."""
    return data[: data.rfind(b"\n") + 1].decode("utf-8")


def read_decisions(path: str | Path) -> list[Decision]:
    """Every complete row of ``reviewed.csv``, in order (a torn last line is ignored; see the module)."""
    path = Path(path)
    try:
        text = complete_text(path.read_bytes())
    except FileNotFoundError:
        raise CorpusError(f"{path}: reviewed-labels file not found") from None
    except UnicodeDecodeError:
        raise CorpusError(f"{path}: not a reviewed-labels file (not UTF-8 text)") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    if tuple(cell.strip() for cell in rows[0]) != COLUMNS:
        raise CorpusError(f"{path}: not a reviewed-labels file: the first line must be {','.join(COLUMNS)}")
    decisions = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(COLUMNS) or row[1] not in (*DECISIONS, UNDO):
            raise CorpusError(f"{path}: line {number} is not fname,decision,label,time with a decision of "
                              f"{', '.join((*DECISIONS, UNDO))}: {','.join(row)!r}")
        decisions.append(Decision(*row))
    return decisions


def standing_history(decisions: list[Decision]) -> list[Decision]:
    """The decisions still standing, oldest first: each ``undo`` row takes back the latest standing
    decision on its clip.

    >>> rows = [Decision("a", "skip"), Decision("a", "accept", "Bark"), Decision("b", "none"), Decision("a", "undo")]
    >>> [(d.fname, d.decision) for d in standing_history(rows)]
    [('a', 'skip'), ('b', 'none')]
    """
    history: list[Decision] = []
    for decision in decisions:
        if decision.decision != UNDO:
            history.append(decision)
            continue
        for index in range(len(history) - 1, -1, -1):
            if history[index].fname == decision.fname:
                del history[index]
                break
    return history


def final_decisions(decisions: list[Decision]) -> dict[str, Decision]:
    """Each reviewed clip's decision still standing (its latest, after undos)."""
    return {decision.fname: decision for decision in standing_history(decisions)}


def apply_review(corpus: Corpus, path: str | Path) -> Corpus:
    """``corpus`` with the decisions of ``reviewed.csv`` at ``path`` applied to its train clips (see the
    module); a clip that is not a train clip of the corpus, or a label outside its vocabulary, is
    refused in one line naming the file."""
    decisions = final_decisions(read_decisions(path))
    check_decisions(decisions, corpus, Path(path))
    train = []
    for clip in corpus.train:
        decision = decisions.get(clip.fname)
        if decision is None or decision.decision == "skip":
            train.append(clip)
        elif decision.decision == "none":
            if corpus.multi_label:
                train.append(replace(clip, labels=(), verified=True))
        else:
            train.append(replace(clip, labels=decision.labels, verified=True))
    return replace(corpus, train=train)


def check_decisions(decisions: dict[str, Decision], corpus: Corpus, path: Path) -> None:
    """Refuse decisions on clips that are not train clips of ``corpus``, or with labels it does not know."""
    known = {clip.fname for clip in corpus.train}
    vocabulary = set(corpus.labels)
    for decision in decisions.values():
        if decision.fname not in known:
            raise CorpusError(f"{path}: {decision.fname!r} is not a train clip of {corpus.root}; "
                              "was it reviewed on another corpus?")
        unknown = [label for label in decision.labels if label not in vocabulary]
        if unknown:
            raise CorpusError(f"{path}: label {unknown[0]!r} of {decision.fname!r} is not in the vocabulary of "
                              f"{corpus.root}")
        if decision.decision in LABELLED and not decision.labels:
            raise CorpusError(f"{path}: {decision.fname!r} is marked {decision.decision} without a label")


@dataclass(frozen=True)
class ReviewCounts:
    """How many train clips a review decided, and how many labels it changed."""

    accepted: int
    relabelled: int
    none: int
    skipped: int

    @property
    def reviewed(self) -> int:
        """Clips with a decision other than skip."""
        return self.accepted + self.relabelled + self.none

    @property
    def changed(self) -> int:
        """Clips whose label changed (relabelled, or none of the classes)."""
        return self.relabelled + self.none

    def describe(self) -> str:
        """One sentence for a report or a log."""
        return (f"{self.reviewed} labels reviewed by a person ({self.accepted} accepted, {self.relabelled} "
                f"relabelled, {self.none} none of the classes: {self.changed} changed); {self.skipped} skipped")


def count_review(corpus: Corpus, path: str | Path) -> ReviewCounts:
    """What ``reviewed.csv`` at ``path`` decided on ``corpus``'s train clips; an accepted label that is no
    longer the corpus's (the corpus changed since) counts as relabelled."""
    decisions = final_decisions(read_decisions(path))
    check_decisions(decisions, corpus, Path(path))
    given = {clip.fname: clip.labels for clip in corpus.train}
    kinds = [(("relabel" if d.labels != given[d.fname] else "accept") if d.decision in LABELLED else d.decision)
             for d in decisions.values()]
    return ReviewCounts(kinds.count("accept"), kinds.count("relabel"), kinds.count("none"), kinds.count("skip"))
