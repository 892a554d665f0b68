"""soundtag.data.layouts: class folders, manifests and FSD50K read into the same Corpus as FSDKaggle2018,
the drawn test split, the multi-label data model, and what single-label stages do with a multi-label corpus.
"""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import soundtag.data.splits
from soundtag.config import load_config
from soundtag.data import (
    Clip,
    Corpus,
    LabelMap,
    choose_training_clips,
    clips_of,
    describe_rejected,
    empty_split_reason,
    is_corpus,
    read_corpus,
    read_extra_labels,
    read_folder,
    write_split,
)
from soundtag.data.layouts import BACKGROUND_FOLDER, detect_layout
from soundtag.data.splits import TEST_FRACTION, draw_test_split, held_out_count
from soundtag.errors import CorpusError, SoundtagError
from tests.helpers import DEMO, REPO_ROOT, make_soundscapes, read_rows, sine, write_rows


def tone(path: Path, freq: float = 440.0) -> Path:
    """A 0.2-s 16 kHz WAV at ``path`` (folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, sine(freq, 0.2, 16000), 16000)
    return path


def class_tree(root: Path, spec: dict[str, int]) -> Path:
    """``root/<folder>/cNN.wav``: ``spec`` maps a folder (may hold slashes) to its number of clips."""
    for folder, count in spec.items():
        for i in range(count):
            tone(root / folder / f"c{i:02d}.wav")
    return root


# --- detection ----------------------------------------------------------------------------------------


def test_each_layout_is_detected(tmp_path):
    assert detect_layout(DEMO) == "fsdkaggle2018"
    assert detect_layout(class_tree(tmp_path / "folders", {"dog": 1})) == "class_folders"
    manifest = tmp_path / "m.csv"
    write_rows(manifest, ["fname", "labels"], [])
    assert detect_layout(manifest) == "manifest"
    (tmp_path / "fsd50k" / "FSD50K.ground_truth").mkdir(parents=True)
    assert detect_layout(tmp_path / "fsd50k") == "fsd50k"


def test_a_folder_of_no_layout_says_what_a_corpus_holds(tmp_path):
    (tmp_path / "empty-class").mkdir()
    tone(tmp_path / "loose.wav")
    write_rows(tmp_path / "notes.csv", ["name", "text"], [["loose.wav", "x"]])
    with pytest.raises(CorpusError) as info:
        read_corpus(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path}: not a corpus")
    for part in ("train.csv", "FSD50K.ground_truth/", "ROOT/<class>/*.wav", str(tmp_path / "notes.csv")):
        assert part in message
    assert "\n" not in message


def test_the_parent_of_a_corpus_is_not_read_as_class_folders(tmp_path):
    (tmp_path / "demo").symlink_to(DEMO, target_is_directory=True)
    with pytest.raises(CorpusError, match=f"demo/ is a corpus itself; give {tmp_path / 'demo'} as the corpus"):
        read_corpus(tmp_path)


def test_a_folder_holding_a_manifest_is_not_read_as_class_folders(tmp_path):
    """make_soundscapes.py's output: manifest.csv beside audio/{train,test}/ is never one class 'audio'."""
    tone(tmp_path / "audio" / "train" / "a.wav")
    write_rows(tmp_path / "manifest.csv", ["fname", "labels"], [["audio/train/a.wav", "x"]])
    with pytest.raises(CorpusError, match=f"holds the manifest manifest.csv; give the file itself as the corpus "
                                          f"\\({tmp_path / 'manifest.csv'}\\)"):
        read_corpus(tmp_path)
    assert read_corpus(tmp_path / "manifest.csv").layout == "manifest"
    with pytest.raises(CorpusError, match="not a manifest .csv"):
        read_corpus(tone(tmp_path / "x.wav"))
    with pytest.raises(CorpusError, match="manifest not found"):
        read_corpus(tmp_path / "missing.csv")


# --- class folders ------------------------------------------------------------------------------------


def test_class_folders_labels_negatives_and_names(tmp_path):
    root = class_tree(tmp_path / "c", {"dog": 6, "dog/nested/deeper": 2, "cat": 5, BACKGROUND_FOLDER: 5,
                                       ".git": 1})
    (root / "cat" / "notes.txt").write_text("not audio")
    (root / "empty").mkdir()
    tone(root / "loose.wav")
    corpus = read_corpus(root)
    assert corpus.layout == "class_folders" and corpus.root == root
    assert corpus.labels == ["cat", "dog"]
    clips = corpus.train + corpus.test
    assert sorted(c.fname for c in clips) == sorted(
        [f"dog/c{i:02d}.wav" for i in range(6)] + ["dog/nested/deeper/c00.wav", "dog/nested/deeper/c01.wav"]
        + [f"cat/c{i:02d}.wav" for i in range(5)] + [f"{BACKGROUND_FOLDER}/c{i:02d}.wav" for i in range(5)])
    for clip in clips:
        assert clip.path == root / clip.fname and clip.verified is True
        folder = clip.fname.split("/")[0]
        assert clip.labels == (() if folder == BACKGROUND_FOLDER else (folder,))
    assert corpus.multi_label  # the negatives have no label
    assert corpus.val == []
    assert corpus.rejected == [(str(root), f"loose.wav lies in {root}, not inside a class folder")]
    assert describe_rejected(corpus.rejected).startswith("left out 1 file (c 1): loose.wav")
    assert not is_corpus(root)  # read by `soundtag features` as the plain folder of audio it also is
    assert {c.path for c in clips} < {c.path for c in clips_of(root)[0]}


def test_the_drawn_test_split_is_stratified_deterministic_and_recorded(tmp_path):
    root = class_tree(tmp_path / "c", {"dog": 10, "cat": 5, "owl": 1, BACKGROUND_FOLDER: 4})
    corpus = read_corpus(root)
    assert read_corpus(root) == corpus
    in_test = {label: sum(c.labels == label for c in corpus.test) for label in [("dog",), ("cat",), ("owl",), ()]}
    assert in_test == {("dog",): 2, ("cat",): 1, ("owl",): 0, (): 1}
    assert {c.fname for c in corpus.train}.isdisjoint(c.fname for c in corpus.test)
    assert len(corpus.train) + len(corpus.test) == 20
    assert [c.fname for c in corpus.train] == sorted(c.fname for c in corpus.train)  # the file order is kept
    assert corpus.split_note == (f"{root} has no test/ folder: 4 of its 20 clips were drawn as the test split "
                                 f"({TEST_FRACTION:.0%} of each class, seed 2018)")
    assert corpus.sources == {"train": root}
    others = {tuple(c.fname for c in read_corpus(root, seed=s).test) for s in range(6)}
    assert len(others) > 1


def test_the_drawn_split_does_not_depend_on_the_order_of_the_files():
    clips = [Clip(f"{label}/{i}.wav", Path(f"{i}.wav"), (label,)) for label in ("a", "b") for i in range(9)]
    train, test = draw_test_split(clips, seed=3)
    rtrain, rtest = draw_test_split(clips[::-1], seed=3)
    assert {c.fname for c in test} == {c.fname for c in rtest} and len(test) == 2 * held_out_count(9, TEST_FRACTION)
    # adding a clip moves at most one of the others across the line
    more_train, more_test = draw_test_split([*clips, Clip("a/new.wav", Path("new.wav"), ("a",))], seed=3)
    assert len({c.fname for c in test} - {c.fname for c in more_test}) <= 1


def test_split_folders_give_train_val_and_test(tmp_path):
    root = class_tree(tmp_path / "c", {"train/dog": 3, "train/cat": 2, "train/_background": 1,
                                       "val/dog": 1, "test/dog": 2, "test/cat": 1, "test/fox": 1})
    corpus = read_corpus(root)
    assert corpus.split_note == ""
    assert [c.fname for c in corpus.val] == ["val/dog/c00.wav"]
    assert sorted(c.fname for c in corpus.test) == ["test/cat/c00.wav", "test/dog/c00.wav", "test/dog/c01.wav",
                                                   "test/fox/c00.wav"]
    assert len(corpus.train) == 6 and corpus.clips == corpus.train + corpus.val + corpus.test
    assert corpus.labels == ["cat", "dog", "fox"]  # every class folder, in any split
    assert corpus.sources == {"train": root / "train", "val": root / "val", "test": root / "test"}


@pytest.mark.parametrize(("spec", "fragment"), [
    ({"test/dog": 1}, "has test/ but no train/ folder (expected ROOT/<class>/*.wav"),
    ({"val/dog": 1, "test/dog": 1}, "has val/ and test/ but no train/ folder"),
    ({"train/dog": 1, "dogs": 1}, "dogs: a folder of audio beside train/"),
    ({"train": 1, "train/empty": 0}, "train: no audio in class folders (expected ROOT/<class>/*.wav"),
])
def test_class_folder_mistakes_are_one_line(tmp_path, spec, fragment):
    root = class_tree(tmp_path / "c", spec)  # {"train": 1}: audio lying in train/ itself, beside no class folder
    for folder in (f for f, n in spec.items() if n == 0):
        (root / folder).mkdir(parents=True)
    with pytest.raises(CorpusError) as info:
        read_corpus(root)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_one_file_in_two_class_folders_is_refused(tmp_path):
    root = class_tree(tmp_path / "c", {"train/dog": 2, "test/dog": 1})
    (root / "test" / "dog" / "again.wav").symlink_to(root / "train" / "dog" / "c00.wav")
    with pytest.raises(CorpusError, match="files 'train/dog/c00.wav' and 'test/dog/again.wav' name the same file"):
        read_corpus(root)


def test_a_class_folder_copy_of_the_demo_reads_as_the_demo(tmp_path, demo_root):
    """ROOT/train/<given label>/<fname> and ROOT/test/<label>/<fname>, linked to data/demo's clips, give
    the same clips with the same labels as the FSDKaggle2018 layout."""
    root = tmp_path / "demo-folders"
    for split, csv_name, audio in (("train", "train.csv", "audio_train"), ("test", "test.csv", "audio_test")):
        for row in read_rows(demo_root / csv_name):
            link = root / split / row["label"] / row["fname"]
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(demo_root / audio / row["fname"])
    folders, kaggle = read_corpus(root), read_corpus(demo_root)

    def seen(clips: list[Clip]) -> set[tuple[str, tuple[str, ...]]]:
        return {(os.path.realpath(c.path), c.labels) for c in clips}

    assert folders.layout == "class_folders" and kaggle.layout == "fsdkaggle2018"
    assert seen(folders.train) == seen(kaggle.train) and len(folders.train) == len(kaggle.train)
    assert seen(folders.test) == seen(kaggle.test) and len(folders.test) == len(kaggle.test)
    assert folders.labels == kaggle.labels
    assert not folders.multi_label and not kaggle.multi_label
    assert all(c.verified for c in folders.train)


# --- manifests ----------------------------------------------------------------------------------------


MANIFEST_ROWS = [
    ["audio/a.wav", "Bark", "1", "train"],
    ["audio/b.wav", "Bark,Cough", "0", "train"],
    ["audio/sub/c.wav", "", "", "train"],
    ["audio/d.wav", "Cough", "1", ""],
    ["audio/e.wav", "Meow", "1", "val"],
    ["audio/f.wav", "Bark, Cough ,Bark", "1", "test"],
    ["/abs/g.wav", "Bark", "1", "train"],
    ["../h.wav", "Bark", "1", "test"],
]


def write_manifest(folder: Path, rows: list[list[str]] = MANIFEST_ROWS,
                   header: tuple[str, ...] = ("fname", "labels", "verified", "split")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_rows(folder / "manifest.csv", list(header), rows)
    return folder / "manifest.csv"


def test_a_manifest_with_several_labels_none_and_every_split(tmp_path):
    path = write_manifest(tmp_path / "m")
    corpus = read_corpus(path)
    assert corpus.layout == "manifest" and corpus.root == path
    assert [(c.fname, c.labels, c.verified) for c in corpus.train] == [
        ("audio/a.wav", ("Bark",), True), ("audio/b.wav", ("Bark", "Cough"), False),
        ("audio/sub/c.wav", (), True), ("audio/d.wav", ("Cough",), True)]
    assert [(c.fname, c.labels) for c in corpus.val] == [("audio/e.wav", ("Meow",))]
    assert [(c.fname, c.labels) for c in corpus.test] == [("audio/f.wav", ("Bark", "Cough"))]
    assert corpus.train[2].path == tmp_path / "m" / "audio" / "sub" / "c.wav"
    assert corpus.labels == ["Bark", "Cough", "Meow"]
    assert corpus.multi_label
    assert [c.label for c in corpus.train] == ["Bark", None, None, "Cough"]
    assert [problem for _, problem in corpus.rejected] == [
        "fname '/abs/g.wav' is an absolute path; it must stay inside " + str(tmp_path / "m"),
        "fname '../h.wav' escapes its audio folder " + str(tmp_path / "m")]
    assert describe_rejected(corpus.rejected).startswith("left out 2 CSV rows (manifest.csv 2)")
    assert is_corpus(path) and clips_of(path) == (corpus.clips, corpus.rejected)


def test_a_manifest_needs_only_fname_and_labels(tmp_path):
    path = write_manifest(tmp_path / "m", [["a.wav", "Bark"], ["b.wav", "Cough"]], ("fname", "labels"))
    corpus = read_corpus(path)
    assert [(c.fname, c.labels, c.verified) for c in corpus.train] == [("a.wav", ("Bark",), True),
                                                                       ("b.wav", ("Cough",), True)]
    assert corpus.test == [] and corpus.val == [] and not corpus.multi_label
    assert empty_split_reason(corpus, "test") == "no test clips: manifest.csv has no usable rows with split=test"


@pytest.mark.parametrize(("header", "rows", "fragment"), [
    (("fname", "label"), [["a.wav", "Bark"]],
     "missing column 'labels' (expected columns: fname, labels, [verified], [split])"),
    (("name", "labels"), [["a.wav", "Bark"]], "missing column 'fname'"),
    (("fname", "labels", "split"), [["a.wav", "Bark", "dev"]],
     "split of 'a.wav' is 'dev', expected train, val or test"),
    (("fname", "labels", "verified"), [["a.wav", "Bark", "maybe"]], "verified of 'a.wav' is 'maybe', expected 0 or 1"),
    (("fname", "labels"), [["a.wav", "Bark"], ["a.wav", "Cough"]], "duplicate fname 'a.wav'"),
    (("fname", "label", "manually_verified"), [["a.wav", "Bark", "1"]], "an FSDKaggle2018 train.csv: give its folder"),
])
def test_manifest_mistakes_name_the_file_and_the_problem(tmp_path, header, rows, fragment):
    path = write_manifest(tmp_path / "m", rows, header)
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    assert str(info.value).startswith(str(path)) and fragment in str(info.value)


def test_a_manifest_naming_one_file_twice_is_refused(tmp_path):
    path = write_manifest(tmp_path / "m", [["a.wav", "Bark", "1", "train"], ["./a.wav", "Bark", "1", "test"]])
    with pytest.raises(CorpusError, match="rows 'a.wav' and './a.wav' name the same file"):
        read_corpus(path)


@pytest.fixture(scope="module")
def soundscapes(tmp_path_factory) -> Path:
    """A tiny soundscape set made by scripts/make_soundscapes.py from the demo corpus."""
    return make_soundscapes(tmp_path_factory.mktemp("soundscapes") / "set", "--train", "6", "--test", "3",
                            "--seconds", "2", "--sample-rate", "16000")


def test_the_soundscapes_script_writes_a_manifest_soundtag_reads(soundscapes, demo_root):
    corpus = read_corpus(soundscapes / "manifest.csv")
    rows = read_rows(soundscapes / "manifest.csv")
    assert corpus.layout == "manifest" and corpus.rejected == []
    assert [c.fname for c in corpus.train] == [r["fname"] for r in rows if r["split"] == "train"]
    assert len(corpus.train) == 6 and len(corpus.test) == 3 and corpus.val == []
    for clip, row in zip(corpus.train + corpus.test, rows):
        assert clip.labels == tuple(label for label in row["labels"].split(",") if label)
        assert clip.verified is (row["verified"] == "1")
        assert clip.path.is_file() and clip.path == soundscapes / row["fname"]
    assert set(corpus.labels) <= set(read_corpus(demo_root).labels)
    assert corpus.multi_label == any(len(c.labels) != 1 for c in corpus.train)


# --- FSD50K -------------------------------------------------------------------------------------------


FSD50K_VOCABULARY = [["0", "Bark", "/m/05tny_"], ["1", "Dog", "/m/0bt9lr"], ["2", "Cello", "/m/01xqw"]]
FSD50K_DEV = [["101", "Bark,Dog", "/m/05tny_,/m/0bt9lr", "train"], ["102", "Cello", "/m/01xqw", "train"],
              ["103", "Dog", "/m/0bt9lr", "val"], ["104", "../x", "", "train"]]
FSD50K_EVAL = [["201", "Cello,Dog", "/m/01xqw,/m/0bt9lr"], ["202", "Bark", "/m/05tny_"]]


def make_fsd50k(root: Path, demo_train_files: list[Path], dev=FSD50K_DEV, eval_rows=FSD50K_EVAL,
                vocabulary=FSD50K_VOCABULARY) -> Path:
    """A tiny FSD50K: its ground truth CSVs, and demo clips written as ``<fname>.wav``."""
    truth = root / "FSD50K.ground_truth"
    truth.mkdir(parents=True)
    with open(truth / "vocabulary.csv", "w", encoding="utf-8") as handle:
        handle.writelines(",".join(row) + "\n" for row in vocabulary)
    write_rows(truth / "dev.csv", ["fname", "labels", "mids", "split"], dev)
    write_rows(truth / "eval.csv", ["fname", "labels", "mids"], eval_rows)
    sources = iter(demo_train_files)
    for folder, rows in (("FSD50K.dev_audio", dev), ("FSD50K.eval_audio", eval_rows)):
        (root / folder).mkdir()
        for row in rows:
            data, rate = sf.read(next(sources), dtype="float32")
            sf.write(root / folder / f"{row[0]}.wav", data, rate)
    return root


def test_fsd50k_splits_labels_and_audio(tmp_path, demo_train_files):
    dev = FSD50K_DEV[:3]
    root = make_fsd50k(tmp_path / "FSD50K", demo_train_files, dev)
    corpus = read_corpus(root)
    assert corpus.layout == "fsd50k" and corpus.labels == ["Bark", "Cello", "Dog"]
    assert [(c.fname, c.labels) for c in corpus.train] == [("101", ("Bark", "Dog")), ("102", ("Cello",))]
    assert [(c.fname, c.labels) for c in corpus.val] == [("103", ("Dog",))]
    assert [(c.fname, c.labels) for c in corpus.test] == [("201", ("Cello", "Dog")), ("202", ("Bark",))]
    assert all(c.verified is True and c.path.is_file() for c in corpus.clips)
    assert corpus.train[0].path == root / "FSD50K.dev_audio" / "101.wav"
    assert corpus.test[1].path == root / "FSD50K.eval_audio" / "202.wav"
    assert sf.info(corpus.test[1].path).format == "WAV"
    assert corpus.multi_label and corpus.rejected == []
    assert is_corpus(root) and clips_of(root)[0] == corpus.clips


def test_fsd50k_vocabulary_with_a_header_row(tmp_path, demo_train_files):
    root = make_fsd50k(tmp_path / "FSD50K", demo_train_files, FSD50K_DEV[:3],
                       vocabulary=[["index", "label", "mid"], *FSD50K_VOCABULARY])
    assert read_corpus(root).labels == ["Bark", "Cello", "Dog"]


@pytest.mark.parametrize(("damage", "fragment"), [
    ("rm FSD50K.ground_truth/vocabulary.csv", "vocabulary.csv: file not found (FSD50K keeps dev.csv, eval.csv"),
    ("rm FSD50K.ground_truth/eval.csv", "eval.csv: file not found"),
    ("rmdir FSD50K.eval_audio", "FSD50K.eval_audio: folder not found (FSD50K's audio is FSD50K.dev_audio/<fname>.wav"),
    ("dev without split", "dev.csv: missing column 'split' (expected columns: fname, labels, split, [mids])"),
    ("unknown label", "dev.csv: label 'Meow' of '101' is not in vocabulary.csv"),
    ("bad split", "dev.csv: split of '101' is 'test', expected train or val"),
])
def test_fsd50k_missing_parts_are_named(tmp_path, damage, fragment):
    dev = [row[:] for row in FSD50K_DEV[:3]]
    if damage == "unknown label":
        dev[0][1] = "Bark,Meow"
    if damage == "bad split":
        dev[0][3] = "test"
    root = make_fsd50k(tmp_path / "FSD50K", [], [], [])
    write_rows(root / "FSD50K.ground_truth" / "dev.csv", ["fname", "labels", "mids", "split"], dev)
    if damage.startswith("rm "):
        target = root / damage.split()[1]
        target.unlink()
    elif damage.startswith("rmdir "):
        (root / damage.split()[1]).rmdir()
    elif damage == "dev without split":
        write_rows(root / "FSD50K.ground_truth" / "dev.csv", ["fname", "labels", "mids"], [r[:3] for r in dev])
    with pytest.raises(CorpusError) as info:
        read_corpus(root)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_fsd50k_rows_escaping_the_audio_folder_are_left_out(tmp_path, demo_train_files):
    root = make_fsd50k(tmp_path / "FSD50K", demo_train_files[:5], FSD50K_DEV[:3], FSD50K_EVAL)
    write_rows(root / "FSD50K.ground_truth" / "dev.csv", ["fname", "labels", "mids", "split"],
               [*FSD50K_DEV[:3], ["../../x", "Bark", "", "train"]])
    corpus = read_corpus(root)
    assert len(corpus.train) == 2 and corpus.rejected == [
        (str(root / "FSD50K.ground_truth" / "dev.csv"),
         f"fname '../../x.wav' escapes its audio folder {root / 'FSD50K.dev_audio'}")]


# --- the data model -----------------------------------------------------------------------------------


def test_clip_labels_are_a_tuple_and_label_is_the_single_one():
    assert Clip("a", Path("a"), ["x", "y"]).labels == ("x", "y")
    assert Clip("a", Path("a"), ("x",)).label == "x"
    assert Clip("a", Path("a")).label is None and Clip("a", Path("a")).labels == ()
    assert Clip("a", Path("a"), ("x", "y")).label is None
    with pytest.raises(TypeError, match="write \\(label,\\)"):
        Clip("a", Path("a"), "dog")
    with pytest.raises(AttributeError):
        Clip("a", Path("a"), ("x",)).labels = ("y",)  # frozen


def test_corpus_multi_label_looks_at_the_train_clips_only(tmp_path):
    one, two, none = (Clip(n, Path(n), labels) for n, labels in (("a", ("x",)), ("b", ("x", "y")), ("c", ())))
    assert not Corpus(tmp_path, [one], [none, two], ["x", "y"]).multi_label  # e.g. a test.csv without answers
    assert Corpus(tmp_path, [one, two], [], ["x", "y"]).multi_label
    assert Corpus(tmp_path, [one, none], [], ["x"]).multi_label
    corpus = Corpus(tmp_path, [one], [two], ["x", "y"], val=[none])
    assert corpus.clips == [one, none, two] and corpus.split("val") == [none]
    assert read_corpus(DEMO).layout == "fsdkaggle2018" and read_corpus(DEMO).val == []


def test_write_split_records_every_clip(tmp_path):
    root = class_tree(tmp_path / "c", {"dog": 5, "cat": 5})
    corpus = read_corpus(root)
    write_split(corpus, tmp_path / "out" / "split.csv")
    rows = read_rows(tmp_path / "out" / "split.csv")
    assert rows == [{"fname": c.fname, "split": "train"} for c in corpus.train] + \
        [{"fname": c.fname, "split": "test"} for c in corpus.test]


def test_empty_split_reasons_of_each_layout(tmp_path):
    root = class_tree(tmp_path / "c", {"dog": 1})
    corpus = read_corpus(root)
    assert corpus.test == [] and empty_split_reason(corpus, "test").startswith(
        f"no test clips: {root} has no test/ folder: 0 of its 1 clips")
    assert empty_split_reason(corpus, "val") == f"no val clips: {root} has no val/ folder"
    split_root = class_tree(tmp_path / "s", {"train/dog": 1, "test/.hidden": 1})
    assert empty_split_reason(read_corpus(split_root), "test") == \
        f"no test clips: {split_root / 'test'} holds no audio in class folders"
    assert empty_split_reason(read_corpus(DEMO), "val").startswith("no val clips: the FSDKaggle2018 layout names none")


def test_docstring_examples_run():
    result = doctest.testmod(soundtag.data.splits, verbose=False)
    assert result.attempted > 0 and result.failed == 0


# --- single-label stages and a multi-label corpus -----------------------------------------------------


def test_extra_labels_of_a_multi_label_corpus_are_label_sets(tmp_path):
    path = write_manifest(tmp_path / "m")
    extra = tmp_path / "extra.csv"
    write_rows(extra, ["fname", "label"], [["audio/b.wav", "Bark"]])
    with pytest.raises(CorpusError, match="missing column 'labels': extra labels of .*, a multi-label corpus, are "
                                          "fname,labels"):
        read_extra_labels(extra, read_corpus(path))
    assert [c.labels for c in choose_training_clips(read_corpus(path), "verified")] == [("Bark",), (), ("Cough",)]


def test_label_spreading_refuses_a_multi_label_corpus(tmp_path):
    from soundtag.labels.cleaning import spreading_embeddings

    path = write_manifest(tmp_path / "m")
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", [f"data.corpus={path}", "clean.embedding=mfcc_stats"])
    with pytest.raises(SoundtagError, match="label spreading is single-label; use clean.method: confident"):
        spreading_embeddings(config, None, progress=False)


def test_label_maps_and_examples_of_a_multi_label_corpus(tmp_path):
    from soundtag.data import examples_for

    corpus = read_corpus(write_manifest(tmp_path / "m"))
    examples = examples_for(corpus.train, LabelMap(corpus.labels))
    assert [(e.target, e.targets) for e in examples] == [(0, (0,)), (-1, (0, 1)), (-1, ()), (1, (1,))]
    assert np.all([e.fname for e in examples] == np.array([c.fname for c in corpus.train]))


def test_read_folder_still_gives_unlabelled_clips(tmp_path):
    root = class_tree(tmp_path / "c", {"dog": 2})
    assert all(c.labels == () and c.verified is None for c in read_folder(root))
