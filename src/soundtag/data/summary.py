"""What a corpus holds, as read: layout, classes, clips per class and split, verified share, clips
with several labels or none, rows left out, and problems a run would meet (``soundtag corpus``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from soundtag.data.corpus import SPLITS, Corpus, describe_rejected, empty_split_reason

SHOWN = 3
"""Class names named in one problem line before "and N more"."""


@dataclass
class CorpusSummary:
    """The counts :func:`summarize_corpus` finds; :meth:`to_dict` is what ``soundtag corpus --json`` prints."""

    path: str
    layout: str
    multi_label: bool
    labels: list[str]
    clips: dict[str, int]
    """Clips per split."""
    per_class: dict[str, dict[str, int]]
    """Per class, clips per split (a clip with several labels counts in each of its classes)."""
    several_labels: dict[str, int]
    """Per split, clips with two or more labels."""
    no_label: dict[str, int]
    """Per split, clips with none (negatives of a multi-label corpus; unlabelled test clips of a single-label one)."""
    verified_share: float | None
    """Share of the train clips whose labels were checked (None without train clips)."""
    split_note: str = ""
    left_out: str = ""
    rejected: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return {"n_classes": len(self.labels), **asdict(self)}


def summarize_corpus(corpus: Corpus) -> CorpusSummary:
    """Count what ``corpus`` holds and list the problems it has."""
    per_class = {label: dict.fromkeys(SPLITS, 0) for label in corpus.labels}
    for name in SPLITS:
        for clip in corpus.split(name):
            for label in clip.labels:
                per_class.setdefault(label, dict.fromkeys(SPLITS, 0))[name] += 1
    known = [clip.verified for clip in corpus.train if clip.verified is not None]
    return CorpusSummary(
        path=str(corpus.root),
        layout=corpus.layout,
        multi_label=corpus.multi_label,
        labels=list(corpus.labels),
        clips={name: len(corpus.split(name)) for name in SPLITS},
        per_class=per_class,
        several_labels={name: sum(len(c.labels) > 1 for c in corpus.split(name)) for name in SPLITS},
        no_label={name: sum(not c.labels for c in corpus.split(name)) for name in SPLITS},
        verified_share=sum(known) / len(known) if known else None,
        split_note=corpus.split_note,
        left_out=describe_rejected(corpus.rejected),
        rejected=[{"source": source, "problem": problem} for source, problem in corpus.rejected],
        problems=corpus_problems(corpus, per_class),
    )


def corpus_problems(corpus: Corpus, per_class: dict[str, dict[str, int]]) -> list[str]:
    """Problems a run on ``corpus`` would meet, one line each: a split without clips, classes no train
    (or test) clip carries, several labels in the test clips of a single-label corpus."""
    problems = []
    for name in ("train", "test"):
        if not corpus.split(name):
            problems.append(empty_split_reason(corpus, name))
    if corpus.train:
        problems += _classes_without(per_class, "train", "a run never sees a positive example of them")
    if corpus.test:
        problems += _classes_without(per_class, "test", "their test scores cannot be measured")
    several = sum(len(c.labels) > 1 for c in corpus.test + corpus.val)
    if not corpus.multi_label and several:
        problems.append(f"{several} validation or test clip(s) have several labels, but every train clip has one: "
                        "train with train.multi_label=yes to learn and score the corpus as multi-label")
    return problems


def _classes_without(per_class: dict[str, dict[str, int]], split: str, consequence: str) -> list[str]:
    missing = [label for label, counts in per_class.items() if counts[split] == 0]
    if not missing:
        return []
    named = ", ".join(repr(label) for label in missing[:SHOWN])
    more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    return [f"{len(missing)} class(es) have no {split} clips ({named}{more}): {consequence}"]
