"""The FSDKaggle2018 layout: ``train.csv`` (``fname,label,manually_verified``) with ``audio_train/``,
``test.csv`` or ``test_post_competition.csv`` (``fname[,label][,usage]``) with ``audio_test/``, and
optionally ``train_truth.csv`` (``fname,true_label``) to score label cleaning. One label per clip; the
vocabulary is the set of train labels, and a test label outside it is refused.
"""

from __future__ import annotations

from pathlib import Path

from soundtag.data.corpus import Clip, Corpus, checked_path, parse_verified, read_csv, refuse_repeated_files
from soundtag.errors import CorpusError

TRAIN_CSV = "train.csv"
TEST_CSVS = ("test.csv", "test_post_competition.csv")
TRUTH_CSV = "train_truth.csv"
TRAIN_AUDIO = "audio_train"
TEST_AUDIO = "audio_test"


def is_fsdkaggle2018(root: Path) -> bool:
    """True when ``root`` is a folder holding ``train.csv``."""
    return (root / TRAIN_CSV).is_file()


def read_fsdkaggle2018(root: Path, seed: int = 0) -> Corpus:
    """Read a corpus in FSDKaggle2018 layout (``seed`` is unused: the layout gives its test split)."""
    train_csv = root / TRAIN_CSV
    if not train_csv.is_file():
        raise CorpusError(f"{root}: not a corpus in FSDKaggle2018 layout (no {TRAIN_CSV})")
    frame = read_csv(train_csv, ("fname", "label", "manually_verified"))
    empty = frame["label"] == ""
    if empty.any():
        raise CorpusError(f"{train_csv}: empty label for {frame['fname'][empty].iloc[0]!r}")
    rejected: list[tuple[str, str]] = []
    train = []
    for row in frame.itertuples(index=False):
        path = checked_path(root / TRAIN_AUDIO, row.fname, train_csv, rejected)
        if path is not None:
            train.append(Clip(row.fname, path, (row.label,),
                              parse_verified(row.manually_verified, train_csv, row.fname)))
    refuse_repeated_files(train, train_csv)
    labels = sorted(set(frame["label"]))
    test_csv = find_test_csv(root)
    test = read_test(root, set(labels), rejected)
    sources = {"train": train_csv} | ({"test": test_csv} if test_csv is not None else {})
    return Corpus(root, train, test, labels, read_truth(root), rejected, layout="fsdkaggle2018", sources=sources)


def find_test_csv(root: Path) -> Path | None:
    """``test.csv`` or else ``test_post_competition.csv`` of a corpus, or None when neither exists."""
    return next((root / name for name in TEST_CSVS if (root / name).is_file()), None)


def read_test(root: Path, vocabulary: set[str], rejected: list[tuple[str, str]] | None = None) -> list[Clip]:
    """Test clips from ``test.csv`` or ``test_post_competition.csv`` (none when neither exists); a
    clip without a label has ``labels == ()`` (its label is unknown)."""
    rejected = [] if rejected is None else rejected
    path = find_test_csv(root)
    if path is None:
        return []
    frame = read_csv(path, ("fname",), ("label", "usage"))
    labels = frame["label"] if "label" in frame.columns else [""] * len(frame)
    unknown = sorted({lab for lab in labels if lab and lab not in vocabulary})
    if unknown:
        raise CorpusError(f"{path}: label {unknown[0]!r} does not occur in {TRAIN_CSV}")
    clips = []
    for fname, label in zip(frame["fname"], labels):
        audio = checked_path(root / TEST_AUDIO, fname, path, rejected)
        if audio is not None:
            clips.append(Clip(fname, audio, (label,) if label else ()))
    refuse_repeated_files(clips, path)
    return clips


def read_truth(root: Path) -> dict[str, str] | None:
    """True train labels from ``train_truth.csv``, for scoring label cleaning only."""
    path = root / TRUTH_CSV
    if not path.is_file():
        return None
    frame = read_csv(path, ("fname", "true_label"))
    return dict(zip(frame["fname"], frame["true_label"]))


def missing_split_reason(split: str) -> str:
    """Why an FSDKaggle2018 corpus has no clips of ``split``, when no file lists that split."""
    if split == "test":
        return f"no test CSV ({' or '.join(TEST_CSVS)})"
    return f"no {split} clips: the FSDKaggle2018 layout names none (a run draws its validation clips from {TRAIN_CSV})"
