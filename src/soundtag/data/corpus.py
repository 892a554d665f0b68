"""Corpora: FSDKaggle2018 layout (train.csv, audio_train/, test.csv, audio_test/) or a plain folder."""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from soundtag.audio import is_audio_file
from soundtag.errors import CorpusError
from soundtag.fileio import atomic_write_text

TRAIN_CSV = "train.csv"
TEST_CSVS = ("test.csv", "test_post_competition.csv")
TRUTH_CSV = "train_truth.csv"
TRAIN_AUDIO = "audio_train"
TEST_AUDIO = "audio_test"


@dataclass(frozen=True)
class Clip:
    """One audio file and what the corpus says about it (label and verification may be unknown)."""

    fname: str
    path: Path
    label: str | None = None
    verified: bool | None = None


@dataclass
class Corpus:
    """A labelled corpus: train clips with possibly noisy labels, test clips, and the vocabulary."""

    root: Path
    train: list[Clip]
    test: list[Clip]
    labels: list[str]
    truth: dict[str, str] | None = field(default=None, repr=False)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """CSV rows left out, as (csv file, problem): e.g. a fname escaping its audio folder."""
    test_csv: Path | None = None
    """The test CSV that was read (None when the corpus has none)."""

    @property
    def clips(self) -> list[Clip]:
        """Every train and test clip."""
        return self.train + self.test


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


def read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV as strings (BOM and CRLF tolerated), checking its columns and fnames."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise CorpusError(f"{path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise CorpusError(f"{path}: missing column {', '.join(repr(c) for c in missing)}")
    frame = frame.apply(lambda col: col.str.strip())
    duplicated = frame["fname"][frame["fname"].duplicated()]
    if len(duplicated):
        raise CorpusError(f"{path}: duplicate fname {duplicated.iloc[0]!r}")
    return frame


def parse_verified(value: str, path: Path, fname: str) -> bool:
    """Read a ``manually_verified`` cell: 0/1, true/false, yes/no."""
    text = value.strip().lower()
    if text in ("1", "1.0", "true", "yes"):
        return True
    if text in ("0", "0.0", "false", "no", ""):
        return False
    raise CorpusError(f"{path}: manually_verified of {fname!r} is {value!r}, expected 0 or 1")


def read_corpus(root: str | Path) -> Corpus:
    """Read a corpus in FSDKaggle2018 layout; the vocabulary is the set of train labels.

    Rows whose fname cannot be used are left out and listed in ``rejected`` (see
    :func:`safe_audio_path` and :func:`describe_rejected`); a CSV that names one file twice, however
    spelled (``x.flac``, ``./x.flac``, two links to one file), is refused naming both rows.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus folder not found")
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
        path = _checked_path(root / TRAIN_AUDIO, row.fname, train_csv, rejected)
        if path is not None:
            train.append(Clip(row.fname, path, row.label, parse_verified(row.manually_verified, train_csv, row.fname)))
    refuse_repeated_files(train, train_csv)
    labels = sorted(set(frame["label"]))
    test_csv = find_test_csv(root)
    test = read_test(root, set(labels), rejected)
    return Corpus(root, train, test, labels, read_truth(root), rejected, test_csv)


def refuse_repeated_files(clips: list[Clip], csv_path: Path) -> None:
    """Refuse a CSV whose rows name one file twice under different spellings (``x.flac`` and
    ``./x.flac``, or two links to the same file): such a clip could land in two splits at once."""
    seen: dict[str, Clip] = {}
    for clip in clips:
        key = os.path.realpath(clip.path)
        if key in seen:
            first = seen[key]
            raise CorpusError(f"{csv_path}: rows {first.fname!r} and {clip.fname!r} name the same file ({key}); "
                              "keep one of them")
        seen[key] = clip


def _checked_path(folder: Path, fname: str, csv_path: Path, rejected: list[tuple[str, str]]) -> Path | None:
    """The audio path of a row, or None (and the row recorded as rejected) when it is unsafe."""
    try:
        return safe_audio_path(folder, fname, csv_path)
    except CorpusError as exc:
        rejected.append((str(csv_path), str(exc).split(": ", 1)[-1]))
        return None


def find_test_csv(root: Path) -> Path | None:
    """``test.csv`` or else ``test_post_competition.csv`` of a corpus, or None when neither exists."""
    return next((root / name for name in TEST_CSVS if (root / name).is_file()), None)


def read_test(root: Path, vocabulary: set[str], rejected: list[tuple[str, str]] | None = None) -> list[Clip]:
    """Test clips from ``test.csv`` or ``test_post_competition.csv`` (none when neither exists)."""
    rejected = [] if rejected is None else rejected
    path = find_test_csv(root)
    if path is None:
        return []
    frame = read_csv(path, ("fname",))
    labels = frame["label"] if "label" in frame.columns else [""] * len(frame)
    unknown = sorted({lab for lab in labels if lab and lab not in vocabulary})
    if unknown:
        raise CorpusError(f"{path}: label {unknown[0]!r} does not occur in {TRAIN_CSV}")
    clips = []
    for fname, label in zip(frame["fname"], labels):
        audio = _checked_path(root / TEST_AUDIO, fname, path, rejected)
        if audio is not None:
            clips.append(Clip(fname, audio, label or None))
    refuse_repeated_files(clips, path)
    return clips


def describe_rejected(rejected: list[tuple[str, str]], most: int = 3) -> str:
    """One line saying how many CSV rows were left out, from which files, and why, naming the first
    ``most`` (e.g. for a warning); '' when none were.

    >>> describe_rejected([("c/train.csv", "fname '../a.wav' escapes its audio folder c/audio_train")])
    "left out 1 CSV row (train.csv 1): fname '../a.wav' escapes its audio folder c/audio_train"
    """
    if not rejected:
        return ""
    per_file: dict[str, int] = {}
    for csv_path, _ in rejected:
        per_file[Path(csv_path).name] = per_file.get(Path(csv_path).name, 0) + 1
    counts = ", ".join(f"{name} {n}" for name, n in per_file.items())
    shown = "; ".join(problem for _, problem in rejected[:most])
    more = f"; and {len(rejected) - most} more" if len(rejected) > most else ""
    rows = "row" if len(rejected) == 1 else "rows"
    return f"left out {len(rejected)} CSV {rows} ({counts}): {shown}{more}"


def empty_split_reason(corpus: Corpus, split: str) -> str:
    """Why ``corpus`` has no ``split`` ("train" or "test") clips, in words for an error line."""
    csv_path = (corpus.root / TRAIN_CSV) if split == "train" else corpus.test_csv
    if csv_path is None:
        return f"no test CSV ({' or '.join(TEST_CSVS)})"
    left_out = [(path, problem) for path, problem in corpus.rejected if Path(path).name == csv_path.name]
    if left_out:
        return f"no usable {split} clips: every row of {csv_path.name} was left out: {describe_rejected(left_out)}"
    return f"no {split} clips: {csv_path.name} has no rows"


def read_truth(root: Path) -> dict[str, str] | None:
    """True train labels from ``train_truth.csv``, for scoring label cleaning only."""
    path = root / TRUTH_CSV
    if not path.is_file():
        return None
    frame = read_csv(path, ("fname", "true_label"))
    return dict(zip(frame["fname"], frame["true_label"]))


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
    """True when ``root`` is in FSDKaggle2018 layout."""
    return (Path(root) / TRAIN_CSV).is_file()


def clips_of(root: str | Path) -> tuple[list[Clip], list[tuple[str, str]]]:
    """The clips of a corpus folder (train then test) or of a plain folder of audio, and the CSV
    rows that were rejected.
    """
    if is_corpus(root):
        corpus = read_corpus(root)
        return corpus.clips, corpus.rejected
    return read_folder(root), []
