"""FSD50K as distributed: ``FSD50K.ground_truth/{dev,eval,vocabulary}.csv``, ``FSD50K.dev_audio/`` and
``FSD50K.eval_audio/``.

``dev.csv`` has columns ``fname,labels,mids,split`` (labels comma-separated, split ``train`` or
``val``), ``eval.csv`` ``fname,labels,mids``; ``fname`` is the clip id, its audio ``<fname>.wav``.
``vocabulary.csv`` (rows ``index,label,mid``, no header) is the vocabulary. dev ``train`` clips are the
train split, dev ``val`` clips the validation split, eval the test split. FSD50K's labels were checked
by people, so every clip counts as verified.
"""

from __future__ import annotations

from pathlib import Path

from soundtag.data.corpus import Clip, Corpus, checked_path, read_csv, refuse_repeated_files, split_labels
from soundtag.errors import CorpusError

GROUND_TRUTH = "FSD50K.ground_truth"
DEV_AUDIO = "FSD50K.dev_audio"
EVAL_AUDIO = "FSD50K.eval_audio"
DEV_CSV = "dev.csv"
EVAL_CSV = "eval.csv"
VOCABULARY_CSV = "vocabulary.csv"
DEV_SPLITS = {"train": "train", "val": "val"}


def is_fsd50k(root: Path) -> bool:
    """True when ``root`` holds ``FSD50K.ground_truth/``."""
    return (root / GROUND_TRUTH).is_dir()


def read_fsd50k(root: Path, seed: int = 0) -> Corpus:
    """Read FSD50K (``seed`` is unused: FSD50K gives its splits)."""
    truth = root / GROUND_TRUTH
    for name in (VOCABULARY_CSV, DEV_CSV, EVAL_CSV):
        if not (truth / name).is_file():
            raise CorpusError(f"{truth / name}: file not found (FSD50K keeps {DEV_CSV}, {EVAL_CSV} and "
                              f"{VOCABULARY_CSV} in {GROUND_TRUTH}/)")
    for name in (DEV_AUDIO, EVAL_AUDIO):
        if not (root / name).is_dir():
            raise CorpusError(f"{root / name}: folder not found (FSD50K's audio is {DEV_AUDIO}/<fname>.wav and "
                              f"{EVAL_AUDIO}/<fname>.wav)")
    vocabulary = read_vocabulary(truth / VOCABULARY_CSV)
    rejected: list[tuple[str, str]] = []
    dev_csv, eval_csv = truth / DEV_CSV, truth / EVAL_CSV
    dev = read_clips(dev_csv, root / DEV_AUDIO, vocabulary, rejected, with_split=True)
    test = read_clips(eval_csv, root / EVAL_AUDIO, vocabulary, rejected, with_split=False)["test"]
    refuse_repeated_files(dev["train"] + dev["val"], dev_csv)
    refuse_repeated_files(test, eval_csv)
    return Corpus(root, dev["train"], test, sorted(vocabulary), None, rejected, layout="fsd50k", val=dev["val"],
                  sources={"train": dev_csv, "val": dev_csv, "test": eval_csv})


def read_vocabulary(path: Path) -> set[str]:
    """The class names of ``vocabulary.csv`` (rows ``index,label,mid``; a header row is tolerated)."""
    import pandas as pd  # here: listing a corpus of another layout should not pay for importing pandas

    try:
        frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if frame.shape[1] < 2:
        raise CorpusError(f"{path}: expected rows of index,label,mid")
    if not frame.iloc[0, 0].strip().isdigit():
        frame = frame.iloc[1:]  # a header row
    labels = {label.strip() for label in frame.iloc[:, 1] if label.strip()}
    if not labels:
        raise CorpusError(f"{path}: no labels (expected rows of index,label,mid)")
    return labels


def read_clips(csv_path: Path, audio: Path, vocabulary: set[str], rejected: list[tuple[str, str]],
               with_split: bool) -> dict[str, list[Clip]]:
    """The clips of ``dev.csv`` per split (``with_split``) or of ``eval.csv`` (all under ``test``)."""
    required = ("fname", "labels", "split") if with_split else ("fname", "labels")
    frame = read_csv(csv_path, required, ("mids",))
    clips: dict[str, list[Clip]] = {"train": [], "val": [], "test": []}
    for row in frame.to_dict("records"):
        fname, labels = row["fname"], split_labels(row["labels"])
        unknown = [label for label in labels if label not in vocabulary]
        if unknown:
            raise CorpusError(f"{csv_path}: label {unknown[0]!r} of {fname!r} is not in {VOCABULARY_CSV}")
        split = DEV_SPLITS.get(row["split"]) if with_split else "test"
        if split is None:
            raise CorpusError(f"{csv_path}: split of {fname!r} is {row['split']!r}, expected train or val")
        path = checked_path(audio, f"{fname}.wav", csv_path, rejected)
        if path is not None:
            clips[split].append(Clip(fname, path, labels, True))
    return clips
