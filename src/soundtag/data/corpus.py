"""Corpora: the data model every layout reads into (:class:`Clip`, :class:`Corpus`, :class:`LabelMap`),
the checks shared by the layouts (safe names, CSV columns, files listed twice, rows left out), and plain
folders of audio. Each layout's reader lives in :mod:`soundtag.data.layouts`; :func:`read_corpus`
finds which one a path is in.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from soundtag.audio import is_audio_file
from soundtag.errors import CorpusError
from soundtag.fileio import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

SPLITS = ("train", "val", "test")

#: The seed of the test split drawn for a layout that has none (class folders without ``test/``):
#: every command reads the corpus with it, so ``evaluate`` scores exactly the clips training left out.
DEFAULT_SPLIT_SEED = 2018


@dataclass(frozen=True)
class Clip:
    """One audio file and what the corpus says about it: its labels (a tuple of class names) and
    whether they were checked by a person (None: unknown).

    An empty ``labels`` is a clip with none of the classes (a negative) in a multi-label corpus, and
    a clip whose label is unknown in a single-label one (a Kaggle ``test.csv`` without answers, a
    plain folder of audio); see :attr:`Corpus.multi_label`.

    >>> Clip("a.wav", Path("a.wav"), ("Bark",)).label
    'Bark'
    >>> Clip("b.wav", Path("b.wav"), ("Bark", "Cough")).label is None
    True
    """

    fname: str
    path: Path
    labels: tuple[str, ...] = ()
    verified: bool | None = None

    def __post_init__(self) -> None:
        if isinstance(self.labels, str):
            raise TypeError(f"Clip.labels is a tuple of class names, not the string {self.labels!r}; "
                            "write (label,) for one label")
        if not isinstance(self.labels, tuple):
            object.__setattr__(self, "labels", tuple(self.labels))

    @property
    def label(self) -> str | None:
        """The clip's one label, or None when it has none or several."""
        return self.labels[0] if len(self.labels) == 1 else None


@dataclass
class Corpus:
    """A corpus in any layout: train clips with possibly noisy labels, validation clips where the
    layout names them, test clips, and the vocabulary."""

    root: Path
    """The path it was read from: a folder, or the manifest CSV itself."""
    train: list[Clip]
    test: list[Clip]
    labels: list[str]
    truth: dict[str, str] | None = field(default=None, repr=False)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """Rows (or files) left out, as (the CSV or folder, problem): e.g. a fname escaping its audio folder."""
    layout: str = "fsdkaggle2018"
    """``fsdkaggle2018``, ``class_folders``, ``manifest`` or ``fsd50k``."""
    val: list[Clip] = field(default_factory=list)
    """Validation clips the layout names (manifest ``split=val``, FSD50K dev ``split=val``, a class-folder
    ``val/``); empty when a run draws its own from the train clips."""
    split_note: str = ""
    """How the test split was drawn where the layout gives none (empty when it was given)."""
    sources: dict[str, Path] = field(default_factory=dict)
    """Per split (``train``, ``val``, ``test``), the CSV or folder its clips were listed in."""

    @property
    def clips(self) -> list[Clip]:
        """Every train, validation and test clip."""
        return self.train + self.val + self.test

    @property
    def multi_label(self) -> bool:
        """True when any train clip has a number of labels other than one (several, or none: a negative)."""
        return any(len(clip.labels) != 1 for clip in self.train)

    def split(self, name: str) -> list[Clip]:
        """The clips of split ``name`` (``train``, ``val`` or ``test``)."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {name!r}")
        return getattr(self, name)


class LabelMap:
    """A stable label <-> index map, saved as JSON next to a run's outputs.

    >>> LabelMap(["Cough", "Bark"]).index("Cough")
    1
    """

    def __init__(self, labels: list[str]) -> None:
        self.labels = sorted(set(labels))
        self._index = {label: i for i, label in enumerate(self.labels)}

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label: object) -> bool:
        return label in self._index

    def index(self, label: str) -> int:
        """Index of ``label``; a KeyError names the unknown label."""
        try:
            return self._index[label]
        except KeyError:
            raise KeyError(f"unknown label {label!r}") from None

    def label(self, index: int) -> str:
        """Label at ``index``."""
        return self.labels[index]

    def save(self, path: str | Path) -> None:
        """Write ``{"labels": [...]}`` atomically."""
        atomic_write_text(path, json.dumps({"labels": self.labels}, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LabelMap:
        """Read a map written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(list(data["labels"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorpusError(f"{path}: not a label map ({exc})") from None


def safe_audio_path(folder: Path, fname: str, csv_path: Path) -> Path:
    """``folder/fname`` with ``fname`` normalised, refusing names that are absolute, that climb out of
    ``folder`` (``../x.wav``, ``a/../../x.wav``) or that name something other than a regular file.

    The rule is about the NAME in the CSV: a symbolic link inside the folder (the corpus owner's own,
    e.g. ``audio_train/x.wav -> /elsewhere/x.wav``) is followed to the file it points to. The name is
    normalised without following links (``./x.wav`` and ``sub/../x.wav`` are ``x.wav``), so ``..``
    never walks out through a linked folder. A file that does not exist yet is left for decoding to
    report.

    >>> safe_audio_path(Path("audio_train"), "./sub/../x.wav", Path("train.csv")).as_posix()
    'audio_train/x.wav'
    """
    if not fname or fname != fname.strip() or "\x00" in fname:
        raise CorpusError(f"{csv_path}: invalid fname {fname!r}")
    if os.path.isabs(fname) or Path(fname).is_absolute() or fname.startswith(("/", "\\")):
        raise CorpusError(f"{csv_path}: fname {fname!r} is an absolute path; it must stay inside {folder}")
    normal = posixpath.normpath(fname)
    if normal == ".." or normal.startswith("../"):
        raise CorpusError(f"{csv_path}: fname {fname!r} escapes its audio folder {folder}")
    if normal == ".":
        raise CorpusError(f"{csv_path}: fname {fname!r} names the audio folder {folder} itself, not a file")
    path = folder / normal
    try:
        odd = path.exists() and not path.is_file()
    except OSError:  # unreadable: decoding reports it with the reason
        odd = False
    if odd:
        kind = "a folder" if path.is_dir() else "not a regular file"
        target = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise CorpusError(f"{csv_path}: fname {fname!r} is {kind}{target}")
    return path


def read_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV as strings (BOM and CRLF tolerated), checking its columns and fnames; a missing
    column is named together with the columns the file should have. (pandas is imported here: tagging
    and other commands that list files but read no CSV start without it.)"""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise CorpusError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a folder, not a CSV file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        expected = ", ".join([*required, *(f"[{c}]" for c in optional)])
        raise CorpusError(f"{path}: missing column {', '.join(repr(c) for c in missing)} "
                          f"(expected columns: {expected})")
    frame = frame.apply(lambda col: col.str.strip())
    duplicated = frame["fname"][frame["fname"].duplicated()]
    if len(duplicated):
        raise CorpusError(f"{path}: duplicate fname {duplicated.iloc[0]!r}")
    return frame


def parse_verified(value: str, path: Path, fname: str, column: str = "manually_verified") -> bool:
    """Read a ``manually_verified`` (or ``column``) cell: 0/1, true/false, yes/no; empty is 0."""
    text = value.strip().lower()
    if text in ("1", "1.0", "true", "yes"):
        return True
    if text in ("0", "0.0", "false", "no", ""):
        return False
    raise CorpusError(f"{path}: {column} of {fname!r} is {value!r}, expected 0 or 1")


def split_labels(cell: str) -> tuple[str, ...]:
    """The labels of a comma-separated cell, stripped, without empty pieces or repeats, in order.

    >>> split_labels(" Bark, Cough,,Bark ")
    ('Bark', 'Cough')
    >>> split_labels("")
    ()
    """
    return tuple(dict.fromkeys(piece.strip() for piece in cell.split(",") if piece.strip()))


def read_corpus(path: str | Path, seed: int = DEFAULT_SPLIT_SEED) -> Corpus:
    """Read a corpus in any layout, found by :func:`soundtag.data.layouts.detect_layout`:
    FSDKaggle2018 (``train.csv``, ``audio_train/``, ...), class folders (``ROOT/<class>/*.wav``, or
    ``ROOT/train/<class>/`` beside ``test/`` and ``val/``), a manifest CSV (the file itself) or FSD50K.
    ``seed`` draws the test split of a layout that has none (see :mod:`soundtag.data.splits`).

    Rows whose fname cannot be used are left out and listed in ``rejected`` (see
    :func:`safe_audio_path` and :func:`describe_rejected`); a CSV that names one file twice, however
    spelled (``x.flac``, ``./x.flac``, two links to one file), is refused naming both rows.
    """
    from soundtag.data.layouts import read_layout  # the layouts build on this module

    return read_layout(Path(path), seed)


def refuse_repeated_files(clips: list[Clip], source: Path, what: str = "rows") -> None:
    """Refuse a CSV whose rows (or a folder whose files) name one file twice under different spellings
    (``x.flac`` and ``./x.flac``, or two links to the same file): such a clip could land in two splits
    at once."""
    seen: dict[str, Clip] = {}
    for clip in clips:
        key = os.path.realpath(clip.path)
        if key in seen:
            first = seen[key]
            raise CorpusError(f"{source}: {what} {first.fname!r} and {clip.fname!r} name the same file ({key}); "
                              "keep one of them")
        seen[key] = clip


def checked_path(folder: Path, fname: str, csv_path: Path, rejected: list[tuple[str, str]]) -> Path | None:
    """The audio path of a row, or None (and the row recorded as rejected) when it is unsafe."""
    try:
        return safe_audio_path(folder, fname, csv_path)
    except CorpusError as exc:
        rejected.append((str(csv_path), str(exc).split(": ", 1)[-1]))
        return None


def describe_rejected(rejected: list[tuple[str, str]], most: int = 3) -> str:
    """One line saying how many CSV rows (or files of a class-folder corpus) were left out, from which
    CSV files or folders, and why, naming the first ``most`` (e.g. for a warning); '' when none were.

    >>> describe_rejected([("c/train.csv", "fname '../a.wav' escapes its audio folder c/audio_train")])
    "left out 1 CSV row (train.csv 1): fname '../a.wav' escapes its audio folder c/audio_train"
    >>> describe_rejected([("c/train", "x.wav is not inside a class folder")])
    'left out 1 file (train 1): x.wav is not inside a class folder'
    """
    if not rejected:
        return ""
    per_source: dict[str, int] = {}
    for source, _ in rejected:
        per_source[Path(source).name] = per_source.get(Path(source).name, 0) + 1
    counts = ", ".join(f"{name} {n}" for name, n in per_source.items())
    shown = "; ".join(problem for _, problem in rejected[:most])
    more = f"; and {len(rejected) - most} more" if len(rejected) > most else ""
    from_csv = all(source.lower().endswith(".csv") for source, _ in rejected)
    noun = ("CSV row" if from_csv else "file") + ("" if len(rejected) == 1 else "s")
    return f"left out {len(rejected)} {noun} ({counts}): {shown}{more}"


def empty_split_reason(corpus: Corpus, split: str) -> str:
    """Why ``corpus`` has no ``split`` ("train", "val" or "test") clips, in words for an error line."""
    source = corpus.sources.get(split)
    if source is None:
        from soundtag.data.layouts import missing_split_reason  # the layouts build on this module

        return missing_split_reason(corpus, split)
    left_out = [(path, problem) for path, problem in corpus.rejected if Path(path) == source]
    if list(corpus.sources.values()).count(source) > 1:  # one CSV lists several splits (a manifest, FSD50K dev)
        more = f" ({describe_rejected(left_out)})" if left_out else ""
        return f"no {split} clips: {source.name} has no usable rows with split={split}{more}"
    if left_out:
        return f"no usable {split} clips: every row of {source.name} was left out: {describe_rejected(left_out)}"
    if source.is_dir():
        return f"no {split} clips: {source} holds no audio in class folders"
    return f"no {split} clips: {source.name} has no rows"


def find_audio_files(paths: list[str | Path]) -> list[Path]:
    """Audio files named or found recursively under folders, sorted, without duplicates. Every entry
    with an audio extension that is not a folder is returned, so that one that cannot be read (a
    broken link, a named pipe) is reported when it is decoded rather than left out without a word.
    """
    found: dict[Path, None] = {}
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if is_audio_file(child) and not child.is_dir():
                    found[child] = None
        elif path.exists() or path.is_symlink():
            found[path] = None
        else:
            raise CorpusError(f"{path}: no such file or folder")
    return list(found)


def read_folder(root: str | Path) -> list[Clip]:
    """Every audio file under ``root`` as an unlabelled clip named by its path relative to ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: folder not found")
    return [Clip(path.relative_to(root).as_posix(), path) for path in find_audio_files([root])]


def is_corpus(root: str | Path) -> bool:
    """True when ``root`` is a corpus described by CSV files: FSDKaggle2018, FSD50K or a manifest.

    A folder of class folders is read as a plain folder of audio by :func:`clips_of`: every clip of the
    corpus and any audio beside (loose files, hidden folders), never failing on how folders are arranged.
    """
    from soundtag.data.layouts import CSV_LAYOUTS, detect_layout

    try:
        return detect_layout(Path(root)) in CSV_LAYOUTS
    except CorpusError:
        return False


def clips_of(root: str | Path) -> tuple[list[Clip], list[tuple[str, str]]]:
    """The clips of a corpus (train, validation, then test) or of a plain folder of audio, and the
    CSV rows that were rejected.
    """
    if is_corpus(root):
        corpus = read_corpus(root)
        return corpus.clips, corpus.rejected
    return read_folder(root), []

