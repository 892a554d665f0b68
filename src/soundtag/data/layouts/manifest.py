"""A manifest: one CSV, given as the corpus path itself, listing every clip as
``fname,labels[,verified][,split]``.

``labels`` are comma-separated (inside a quoted field: ``"Bark,Cough"``); an empty field is a clip
with none of the classes. ``fname`` is relative to the CSV's folder (subfolders allowed; absolute
names and names climbing out with ``..`` are left out, see :func:`~soundtag.data.corpus.safe_audio_path`).
``split`` is ``train``, ``val`` or ``test`` (empty or absent: ``train``); ``verified`` is 0 or 1
(empty or absent: 1). The vocabulary is every label the manifest names. ``scripts/make_soundscapes.py``
writes this format.
"""

from __future__ import annotations

import csv
from pathlib import Path

from soundtag.data.corpus import (
    SPLITS,
    Clip,
    Corpus,
    checked_path,
    parse_verified,
    read_csv,
    refuse_repeated_files,
    split_labels,
)
from soundtag.errors import CorpusError

REQUIRED = ("fname", "labels")
OPTIONAL = ("verified", "split")


def looks_like_manifest(path: Path) -> bool:
    """True when the first line of the file at ``path`` names the columns ``fname`` and ``labels``."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            header = next(csv.reader([handle.readline(4096)]), [])
    except OSError:
        return False
    return {"fname", "labels"} <= {column.strip() for column in header}


def read_manifest(path: Path, seed: int = 0) -> Corpus:
    """Read a manifest CSV (``seed`` is unused: the manifest gives every split it has)."""
    if not path.is_file():
        raise CorpusError(f"{path}: manifest not found")
    frame = read_csv(path, ("fname",), REQUIRED[1:] + OPTIONAL)
    if "labels" not in frame.columns:
        kaggle = " (an FSDKaggle2018 train.csv: give its folder as the corpus)" if "label" in frame.columns else ""
        raise CorpusError(f"{path}: missing column 'labels' (expected columns: fname, labels, [verified], "
                          f"[split]){kaggle}")
    rejected: list[tuple[str, str]] = []
    splits: dict[str, list[Clip]] = {name: [] for name in SPLITS}
    for row in frame.to_dict("records"):
        fname = row["fname"]
        split = row.get("split") or "train"
        if split not in SPLITS:
            raise CorpusError(f"{path}: split of {fname!r} is {split!r}, expected train, val or test")
        verified = parse_verified(row["verified"], path, fname, "verified") if row.get("verified") else True
        audio = checked_path(path.parent, fname, path, rejected)
        if audio is not None:
            splits[split].append(Clip(fname, audio, split_labels(row["labels"]), verified))
    clips = [clip for name in SPLITS for clip in splits[name]]
    refuse_repeated_files(clips, path)
    labels = sorted({label for clip in clips for label in clip.labels})
    return Corpus(path, splits["train"], splits["test"], labels, None, rejected, layout="manifest",
                  val=splits["val"], sources={name: path for name in SPLITS})
