"""Class folders: ``ROOT/<class>/**/*.wav`` (any audio extension, any depth inside the class folder),
or ``ROOT/train/<class>/`` beside ``ROOT/test/<class>/`` and optionally ``ROOT/val/<class>/``.

A clip's label is the name of its class folder; the clips of a folder named :data:`BACKGROUND_FOLDER`
have none (negatives: ``labels == ()``). Every clip counts as verified: putting a file in a folder is
the corpus owner's own check. Clips are named by their path relative to ROOT (``dog/x.wav``,
``train/dog/x.wav``). Without a ``test/`` folder, a test split of :data:`~soundtag.data.splits.TEST_FRACTION`
of each class is drawn from the seed (:func:`~soundtag.data.splits.draw_test_split`) and described in
:attr:`Corpus.split_note`; a training run records it in its ``split.csv``. The vocabulary is every
class folder that holds audio, in any split. Audio lying beside the class folders is left out and
listed; folders whose names start with ``.`` are skipped; a file found twice (two links to it, in two
classes or two splits) is refused.
"""

from __future__ import annotations

from pathlib import Path

from soundtag.audio import is_audio_file
from soundtag.data.corpus import SPLITS, Clip, Corpus, find_audio_files, refuse_repeated_files
from soundtag.data.splits import TEST_FRACTION, draw_test_split
from soundtag.errors import CorpusError

#: The folder (beside the class folders) whose clips have none of the classes.
BACKGROUND_FOLDER = "_background"

EXPECTED = "ROOT/<class>/*.wav, or ROOT/train/<class>/ and ROOT/test/<class>/"


def subfolders(root: Path) -> list[Path]:
    """The folders directly inside ``root`` (links to folders included), sorted, without hidden ones."""
    return [child for child in sorted(root.iterdir()) if not child.name.startswith(".") and child.is_dir()]


def holds_audio(folder: Path) -> bool:
    """True when an audio file lies anywhere under ``folder``."""
    return any(is_audio_file(path) and not path.is_dir() for path in folder.rglob("*"))


def is_class_folders(root: Path) -> bool:
    """True when a folder directly inside ``root`` holds audio (at any depth)."""
    return any(holds_audio(child) for child in subfolders(root))


def read_class_folders(root: Path, seed: int) -> Corpus:
    """Read a corpus of class folders; ``seed`` draws the test split when there is no ``test/``."""
    rejected: list[tuple[str, str]] = []
    given = {name: root / name for name in SPLITS if (root / name).is_dir()}
    if given and "train" not in given:
        named = " and ".join(f"{name}/" for name in given)
        raise CorpusError(f"{root}: has {named} but no train/ folder (expected {EXPECTED}[, ROOT/val/<class>/])")
    if given:
        stray = [child for child in subfolders(root) if child.name not in SPLITS and holds_audio(child)]
        if stray:
            raise CorpusError(f"{stray[0]}: a folder of audio beside train/; with split folders the class folders "
                              f"go inside {root / 'train'} (and test/, val/)")
        _leave_out_loose_audio(root, rejected)
        splits = {name: read_classes(folder, root, rejected) for name, folder in given.items()}
    else:
        splits = {"train": read_classes(root, root, rejected)}
    if not splits["train"]:
        raise CorpusError(f"{given.get('train', root)}: no audio in class folders (expected {EXPECTED})")
    note = ""
    if "test" not in splits:
        everything = splits["train"]
        splits["train"], splits["test"] = draw_test_split(everything, seed)
        note = (f"{root} has no test/ folder: {len(splits['test'])} of its {len(everything)} clips were drawn as "
                f"the test split ({TEST_FRACTION:.0%} of each class, seed {seed})")
    clips = [clip for name in SPLITS for clip in splits.get(name, [])]
    refuse_repeated_files(clips, root, "files")
    labels = sorted({label for clip in clips for label in clip.labels})
    sources = {name: folder for name, folder in given.items()} if given else {"train": root}
    return Corpus(root, splits["train"], splits["test"], labels, None, rejected, layout="class_folders",
                  val=splits.get("val", []), split_note=note, sources=sources)


def read_classes(folder: Path, root: Path, rejected: list[tuple[str, str]]) -> list[Clip]:
    """The clips of the class folders inside ``folder``, named relative to ``root``; audio lying in
    ``folder`` itself is left out (recorded in ``rejected``)."""
    clips = []
    for child in subfolders(folder):
        labels = () if child.name == BACKGROUND_FOLDER else (child.name,)
        clips += [Clip(path.relative_to(root).as_posix(), path, labels, True) for path in find_audio_files([child])]
    _leave_out_loose_audio(folder, rejected)
    return clips


def _leave_out_loose_audio(folder: Path, rejected: list[tuple[str, str]]) -> None:
    for child in sorted(folder.iterdir()):
        if is_audio_file(child) and not child.is_dir():
            rejected.append((str(folder), f"{child.name} lies in {folder}, not inside a class folder"))


def missing_split_reason(corpus: Corpus, split: str) -> str:
    """Why a class-folder corpus has no clips of ``split``, when no folder gives that split."""
    if split == "test" and corpus.split_note:
        return f"no test clips: {corpus.split_note} (a class needs two clips to give one to the test split)"
    return f"no {split} clips: {corpus.root} has no {split}/ folder"
