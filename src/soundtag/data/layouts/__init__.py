"""Corpus layouts: which one a path is in (:func:`detect_layout`), and one reader per layout, each
returning the same :class:`~soundtag.data.corpus.Corpus`.

- ``fsdkaggle2018``: a folder with ``train.csv`` (:mod:`.fsdkaggle2018`);
- ``fsd50k``: a folder with ``FSD50K.ground_truth/`` (:mod:`.fsd50k`);
- ``manifest``: a ``.csv`` file given as the corpus itself (:mod:`.manifest`);
- ``class_folders``: a folder whose subfolders hold audio (:mod:`.class_folders`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from soundtag.data.corpus import Corpus
from soundtag.data.layouts import class_folders, fsd50k, fsdkaggle2018, manifest
from soundtag.data.layouts.class_folders import BACKGROUND_FOLDER
from soundtag.errors import CorpusError

LAYOUTS: dict[str, Callable[[Path, int], Corpus]] = {
    "fsdkaggle2018": fsdkaggle2018.read_fsdkaggle2018,
    "class_folders": class_folders.read_class_folders,
    "manifest": manifest.read_manifest,
    "fsd50k": fsd50k.read_fsd50k,
}

#: Layouts described by CSV files (a folder of class folders is also a plain folder of audio).
CSV_LAYOUTS = ("fsdkaggle2018", "manifest", "fsd50k")


def detect_layout(path: Path) -> str:
    """The layout ``path`` is in, or a one-line error saying what a corpus must hold."""
    if not path.exists():
        what = "manifest" if path.suffix.lower() == ".csv" else "corpus folder"
        raise CorpusError(f"{path}: {what} not found")
    if not path.is_dir():
        if path.suffix.lower() == ".csv":
            return "manifest"
        raise CorpusError(f"{path}: not a corpus: a file that is not a manifest .csv "
                          "(columns fname,labels[,verified][,split])")
    if fsdkaggle2018.is_fsdkaggle2018(path):
        return "fsdkaggle2018"
    if fsd50k.is_fsd50k(path):
        return "fsd50k"
    manifests = [csv for csv in sorted(path.glob("*.csv")) if manifest.looks_like_manifest(csv)]
    if manifests:  # e.g. make_soundscapes.py's output folder: never read its audio/ as one class
        raise CorpusError(f"{path}: holds the manifest {manifests[0].name}; give the file itself as the corpus "
                          f"({manifests[0]})")
    if class_folders.is_class_folders(path):
        nested = next((child for child in class_folders.subfolders(path)
                       if fsdkaggle2018.is_fsdkaggle2018(child) or fsd50k.is_fsd50k(child)), None)
        if nested is not None:  # e.g. the parent of data/demo: never one class "demo"
            raise CorpusError(f"{path}: {nested.name}/ is a corpus itself; give {nested} as the corpus")
        return "class_folders"
    csvs = sorted(p.name for p in path.glob("*.csv"))
    hint = f"; to read a manifest, give the file itself ({path / csvs[0]})" if csvs else ""
    raise CorpusError(f"{path}: not a corpus: no {fsdkaggle2018.TRAIN_CSV} (FSDKaggle2018), no {fsd50k.GROUND_TRUTH}/ "
                      f"(FSD50K) and no class folders holding audio ({class_folders.EXPECTED}){hint}")


def read_layout(path: Path, seed: int) -> Corpus:
    """Read ``path`` with the reader of its layout."""
    return LAYOUTS[detect_layout(path)](path, seed)


def missing_split_reason(corpus: Corpus, split: str) -> str:
    """Why ``corpus`` has no ``split`` clips when its layout lists none (no file or folder for it)."""
    if corpus.layout == "class_folders":
        return class_folders.missing_split_reason(corpus, split)
    if corpus.layout == "fsdkaggle2018":
        return fsdkaggle2018.missing_split_reason(split)
    return f"no {split} clips"


__all__ = ["BACKGROUND_FOLDER", "CSV_LAYOUTS", "LAYOUTS", "detect_layout", "missing_split_reason", "read_layout"]
