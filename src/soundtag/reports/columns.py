"""What the report's table columns are called in words, what they mean and how their numbers are
written: one place for every column name the report shows.

>>> readable_frame(pd.DataFrame({"stage": ["promoted"], "map3": [0.54912], "promoted_pct": [34.88]}))
      stage test MAP@3 promoted %
0  promoted      0.549       34.9
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

FORMATS = {
    "score": "{:.3f}",  # MAP@3, accuracy, precision: 0 to 1
    "gain": "{:+.3f}",
    "pct": "{:.1f}",
    "seconds": "{:.1f}",
    "minutes": "{:.1f}",
    "count": "{:.0f}",
}


@dataclass(frozen=True)
class Column:
    """A column's name in words, its one-line meaning and its kind of number (a key of ``FORMATS``,
    or ``text``)."""

    name: str
    meaning: str
    kind: str = "text"


COLUMNS: dict[str, Column] = {
    # stages and ensembles
    "stage": Column("stage", "the model (or ensemble) and the labels it trained on"),
    "map3": Column("test MAP@3", "mean over test clips of 1/rank of the true label in the top 3 (else 0)", "score"),
    "map3_se": Column("± SE", "standard error of test MAP@3: std of per-clip AP@3 / √(test clips)", "score"),
    "map3_gain": Column("gain vs all labels", "test MAP@3 minus that of the model trained on all labels", "gain"),
    "accuracy": Column("test accuracy", "share of test clips whose top class is the true label", "score"),
    "val_map3": Column("val MAP@3", "MAP@3 on the validation clips at the best epoch (picks best.pt)", "score"),
    "best_epoch": Column("best epoch", "epoch whose weights are kept, of the epochs run"),
    "top_class_pct": Column("top class %", "share of test clips given the class predicted most often", "pct"),
    "seconds": Column("seconds", "wall-clock time of the stage", "seconds"),
    "verdict": Column("verdict", "why a model is flagged collapsed, or which runs an ensemble combines"),
    # recipes and label cleaners
    "recipe": Column("recipe", "the stages of the recipe"),
    "train_minutes": Column("training minutes", "wall-clock minutes of every epoch of every model trained", "minutes"),
    "cleaner": Column("cleaner", "how unverified labels were judged"),
    # label spreading
    "scheme": Column("scheme", "how classes are grouped before labels spread within each group"),
    "group": Column("group", "a group of classes spread together"),
    "groups": Column("groups", "number of class groups", "count"),
    "classes": Column("classes", "number of classes in the group", "count"),
    "clips": Column("clips", "training clips", "count"),
    "verified": Column("verified", "clips whose label a person verified", "count"),
    "verified_pct": Column("verified %", "share of the clips that are verified", "pct"),
    "promoted": Column("promoted", "unverified clips whose spread label equals their given label", "count"),
    "promoted_pct": Column("promoted %", "share of the unverified clips that are promoted", "pct"),
    "verified_after": Column("trusted after", "verified + promoted clips", "count"),
    "verified_after_pct": Column("trusted after %", "share of all clips verified or promoted", "pct"),
    "promoted_precision": Column("precision", "share of promoted labels that are right (train_truth.csv)", "score"),
    "wrong_labels": Column("wrong labels", "unverified clips whose given label is wrong", "count"),
    "wrong_caught_pct": Column("wrong labels caught %", "share of the wrong labels not promoted (recall)", "pct"),
    # self-training
    "round": Column("round", "self-training round", "count"),
    "lower": Column("lower bound", "least confidence for a test clip's prediction to join training", "score"),
    "epochs": Column("epochs", "epochs trained in the round", "count"),
    "clips_used": Column("clips used", "training clips of the round (labelled + added)", "count"),
    "added": Column("added", "clips added in the round from confident predictions", "count"),
    "train_acc": Column("train accuracy", "accuracy on the round's training clips at its best epoch", "score"),
    "val_acc": Column("val accuracy", "accuracy on the validation clips at the best epoch", "score"),
}


def column(key: str) -> Column:
    """The column of ``key``; a key not listed keeps its name with spaces for underscores."""
    return COLUMNS.get(key, Column(key.replace("_", " "), ""))


def format_value(value: object, kind: str) -> str:
    """``value`` written as its kind says: scores with 3 decimals, percentages and times with 1, counts
    whole; a missing value as a dash."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if kind in FORMATS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return FORMATS[kind].format(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def readable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its columns named in words and every value written as text in its column's format."""
    return pd.DataFrame({column(key).name: [format_value(v, column(key).kind) for v in frame[key].tolist()]
                         for key in frame.columns})


def definitions(columns: list[str]) -> list[tuple[str, str]]:
    """(name in words, meaning) of each of ``columns`` that has a meaning."""
    return [(column(key).name, column(key).meaning) for key in columns if column(key).meaning]
