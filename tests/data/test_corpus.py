"""soundtag.data.corpus: FSDKaggle2018 corpora, plain folders, label maps, and hostile CSVs."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import soundtag.data.corpus
from soundtag.data import (
    Clip,
    LabelMap,
    clips_of,
    find_audio_files,
    is_corpus,
    read_corpus,
    read_folder,
    safe_audio_path,
)
from soundtag.errors import CorpusError, SoundtagError
from tests.helpers import read_rows, write_rows

TRAIN_HEADER = ["fname", "label", "manually_verified"]


def make_layout(
    root: Path, train: list[list[str]], test: list[list[str]] | None = None, test_header=("fname", "label")
) -> Path:
    """A corpus folder with the given CSV rows (audio files are not needed to read a corpus)."""
    (root / "audio_train").mkdir(parents=True)
    (root / "audio_test").mkdir()
    write_rows(root / "train.csv", TRAIN_HEADER, train)
    if test is not None:
        write_rows(root / "test.csv", list(test_header), test)
    return root


# --- the real corpora -----------------------------------------------------------------------------


def check_against_csvs(root: Path) -> None:
    corpus = read_corpus(root)
    train_rows = read_rows(root / "train.csv")
    test_rows = read_rows(root / "test.csv")

    assert corpus.root == root
    assert len(corpus.train) == len(train_rows) > 0
    assert len(corpus.test) == len(test_rows) > 0
    assert corpus.clips == corpus.train + corpus.test
    assert [c.fname for c in corpus.train] == [r["fname"] for r in train_rows]
    assert [c.label for c in corpus.train] == [r["label"] for r in train_rows]
    assert [c.verified for c in corpus.train] == [r["manually_verified"] == "1" for r in train_rows]
    assert any(c.verified for c in corpus.train) and not all(c.verified for c in corpus.train)
    assert corpus.labels == sorted({r["label"] for r in train_rows})
    for clip in corpus.train:
        assert clip.path == root / "audio_train" / clip.fname
        assert clip.path.is_file()
    for clip, row in zip(corpus.test, test_rows):
        assert clip.path == root / "audio_test" / row["fname"]
        assert clip.path.is_file()
        assert clip.verified is None
        assert clip.label == (row.get("label") or None)
        assert clip.label is None or clip.label in corpus.labels
    truth = {r["fname"]: r["true_label"] for r in read_rows(root / "train_truth.csv")}
    assert corpus.truth == truth
    assert set(truth) == {c.fname for c in corpus.train}


def test_demo_corpus_matches_its_csvs(demo_root):
    check_against_csvs(demo_root)


def test_fsd_mini_matches_its_csvs(fsd_mini_root):
    check_against_csvs(fsd_mini_root)


def test_demo_corpus_is_a_corpus_and_clips_of_lists_train_then_test(demo_root):
    assert is_corpus(demo_root)
    corpus = read_corpus(demo_root)
    assert clips_of(demo_root) == (corpus.train + corpus.test, [])


# --- CSV details ----------------------------------------------------------------------------------


def test_csv_with_bom_and_crlf(tmp_path):
    root = make_layout(tmp_path / "c", [])
    (root / "train.csv").write_bytes(
        b"\xef\xbb\xbffname,label,manually_verified\r\na.wav,Bark,1\r\nb.wav,Cough,0\r\nc.wav,Bark,true\r\n"
    )
    (root / "test.csv").write_bytes(b"\xef\xbb\xbffname,label\r\nt.wav,Cough\r\nu.wav,\r\n")
    corpus = read_corpus(root)
    assert [c.fname for c in corpus.train] == ["a.wav", "b.wav", "c.wav"]
    assert [c.label for c in corpus.train] == ["Bark", "Cough", "Bark"]
    assert [c.verified for c in corpus.train] == [True, False, True]
    assert corpus.labels == ["Bark", "Cough"]
    assert [(c.fname, c.label) for c in corpus.test] == [("t.wav", "Cough"), ("u.wav", None)]
    assert corpus.truth is None


def test_values_are_read_as_strings_and_stripped(tmp_path):
    root = make_layout(tmp_path / "c", [["001.wav", " 1 ", "1"], ["nan.wav", "NA", "0"]])
    corpus = read_corpus(root)
    assert [c.fname for c in corpus.train] == ["001.wav", "nan.wav"]
    assert [c.label for c in corpus.train] == ["1", "NA"]  # no numeric or NaN parsing


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("0", False), ("true", True), ("False", False), ("yes", True), ("no", False), ("1.0", True), ("", False)],
)
def test_verified_flag_spellings(tmp_path, value, expected):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", value]])
    assert read_corpus(root).train[0].verified is expected


def test_bad_verified_flag_names_the_file_and_clip(tmp_path):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "maybe"]])
    with pytest.raises(CorpusError, match="maybe") as info:
        read_corpus(root)
    assert "train.csv" in str(info.value) and "a.wav" in str(info.value)


@pytest.mark.parametrize(
    ("csv_name", "header", "missing"),
    [
        ("train.csv", ["fname", "label"], "manually_verified"),
        ("train.csv", ["fname", "manually_verified"], "label"),
        ("train.csv", ["name", "label", "manually_verified"], "fname"),
        ("test.csv", ["file", "label"], "fname"),
        ("train_truth.csv", ["fname", "label"], "true_label"),
    ],
)
def test_missing_column_names_the_file_and_the_column(tmp_path, csv_name, header, missing):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"]], [["t.wav", "Bark"]])
    write_rows(root / csv_name, header, [["a.wav", "x"]])
    with pytest.raises(CorpusError) as info:
        read_corpus(root)
    message = str(info.value)
    assert str(root / csv_name) in message
    assert f"'{missing}'" in message


def test_duplicate_fname_is_an_error(tmp_path):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"], ["b.wav", "Cough", "0"], ["a.wav", "Cough", "1"]])
    with pytest.raises(CorpusError, match="duplicate") as info:
        read_corpus(root)
    assert "'a.wav'" in str(info.value)


def test_duplicate_fname_in_test_csv_is_an_error(tmp_path):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"]], [["t.wav", "Bark"], ["t.wav", "Bark"]])
    with pytest.raises(CorpusError, match="duplicate.*t.wav"):
        read_corpus(root)


def test_unknown_test_label_is_an_error(tmp_path):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"]], [["t.wav", "Bark"], ["u.wav", "Meow"]])
    with pytest.raises(CorpusError) as info:
        read_corpus(root)
    assert "'Meow'" in str(info.value)
    assert "test.csv" in str(info.value)


def test_empty_train_label_is_an_error(tmp_path):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"], ["b.wav", "", "1"]])
    with pytest.raises(CorpusError, match="empty label.*b.wav"):
        read_corpus(root)


def test_test_csv_without_labels_and_the_post_competition_name(tmp_path):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"]])
    write_rows(root / "test_post_competition.csv", ["fname", "usage"], [["t.wav", "Private"], ["u.wav", "Public"]])
    corpus = read_corpus(root)
    assert [(c.fname, c.label) for c in corpus.test] == [("t.wav", None), ("u.wav", None)]
    assert corpus.test[0].path == root / "audio_test" / "t.wav"


def test_corpus_without_test_csv_has_no_test_clips(tmp_path):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"]])
    corpus = read_corpus(root)
    assert corpus.test == []
    assert corpus.truth is None


@pytest.mark.parametrize(
    "content", [b"", b"\xff\xfe\x00garbage\x00\xff", b'fname,label,manually_verified\n"a.wav,Bark,1\n']
)
def test_unreadable_csv_is_a_corpus_error(tmp_path, content):
    root = make_layout(tmp_path / "c", [])
    (root / "train.csv").write_bytes(content)
    with pytest.raises(CorpusError, match="train.csv"):
        read_corpus(root)


# --- fnames that escape the audio folder ----------------------------------------------------------


@pytest.mark.parametrize(
    "fname", ["../x.wav", "/etc/passwd", "a/../../x.wav", "..", "../../../../etc/passwd", "./../x.wav"]
)
@pytest.mark.parametrize("csv_name", ["train.csv", "test.csv"])
def test_fname_path_traversal_is_refused(tmp_path, fname, csv_name):
    """The unsafe row is left out and reported (naming the CSV and the fname); the rest is read."""
    train = [["a.wav", "Bark", "1"]]
    test = [["t.wav", "Bark"]]
    if csv_name == "train.csv":
        train.append([fname, "Bark", "0"])
    else:
        test.append([fname, "Bark"])
    root = make_layout(tmp_path / "c", train, test)
    corpus = read_corpus(root)
    assert [c.fname for c in corpus.train] == ["a.wav"] and [c.fname for c in corpus.test] == ["t.wav"]
    assert len(corpus.rejected) == 1
    csv_path, problem = corpus.rejected[0]
    assert csv_path.endswith(csv_name)
    assert repr(fname) in problem


def test_a_link_inside_the_folder_is_followed_wherever_it_points(tmp_path):
    """The rule is about the NAME in the CSV: a per-file link the corpus owner made (the usual way to
    lay out ESC-50 and friends without copying) is read where it points."""
    outside = tmp_path / "elsewhere" / "x.wav"
    outside.parent.mkdir()
    outside.write_bytes(b"RIFF")
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"], ["link.wav", "Bark", "0"]], [["t.wav", "Bark"]])
    (root / "audio_train" / "link.wav").symlink_to(outside)
    (root / "audio_test" / "t.wav").symlink_to(outside.parent / "t.wav")  # dangling: decoding reports it
    corpus = read_corpus(root)
    assert [c.fname for c in corpus.train] == ["a.wav", "link.wav"]
    assert corpus.train[1].path == root / "audio_train" / "link.wav" and corpus.train[1].path.resolve() == outside
    assert [c.fname for c in corpus.test] == ["t.wav"]
    assert corpus.rejected == []


def test_a_whole_linked_audio_folder_is_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.wav").write_bytes(b"RIFF")
    root = tmp_path / "c"
    root.mkdir()
    (root / "audio_train").symlink_to(elsewhere, target_is_directory=True)
    write_rows(root / "train.csv", TRAIN_HEADER, [["a.wav", "Bark", "1"]])
    assert [c.path.resolve() for c in read_corpus(root).train] == [elsewhere / "a.wav"]


def test_dot_dot_never_climbs_out_through_a_linked_folder(tmp_path):
    """``sub/../x.wav`` is normalised to ``x.wav`` by name, not by following ``sub``."""
    elsewhere = tmp_path / "elsewhere" / "deep"
    elsewhere.mkdir(parents=True)
    root = make_layout(tmp_path / "c", [["sub/../x.wav", "Bark", "1"], ["sub/../../x.wav", "Bark", "0"]])
    (root / "audio_train" / "sub").symlink_to(elsewhere, target_is_directory=True)
    corpus = read_corpus(root)
    assert [c.path for c in corpus.train] == [root / "audio_train" / "x.wav"]
    assert "escapes its audio folder" in corpus.rejected[0][1]


@pytest.mark.parametrize("kind", ["folder", "link to a folder", "the folder itself"])
def test_a_row_naming_something_other_than_a_file_is_left_out(tmp_path, kind):
    root = make_layout(tmp_path / "c", [["a.wav", "Bark", "1"], ["odd.wav" if kind != "the folder itself" else ".",
                                                                 "Bark", "0"]])
    if kind == "folder":
        (root / "audio_train" / "odd.wav").mkdir()
    elif kind == "link to a folder":
        (root / "audio_train" / "odd.wav").symlink_to(tmp_path, target_is_directory=True)
    corpus = read_corpus(root)
    assert [c.fname for c in corpus.train] == ["a.wav"]
    assert len(corpus.rejected) == 1 and ("folder" in corpus.rejected[0][1])


def test_fnames_that_stay_inside_are_allowed_and_normalised(tmp_path):
    root = make_layout(tmp_path / "c", [["sub/a.wav", "Bark", "1"], ["sub/../b.wav", "Bark", "0"],
                                        ["./c.wav", "Bark", "0"]])
    corpus = read_corpus(root)
    assert [c.fname for c in corpus.train] == ["sub/a.wav", "sub/../b.wav", "./c.wav"]
    assert [c.path for c in corpus.train] == [root / "audio_train" / "sub/a.wav", root / "audio_train" / "b.wav",
                                              root / "audio_train" / "c.wav"]


@pytest.mark.parametrize("fname", ["", " a.wav", "a\x00.wav", "\\\\server\\share.wav"])
def test_safe_audio_path_refuses_odd_names(tmp_path, fname):
    with pytest.raises(CorpusError):
        safe_audio_path(tmp_path, fname, tmp_path / "train.csv")


def test_safe_audio_path_accepts_a_plain_name(tmp_path):
    assert safe_audio_path(tmp_path, "a.wav", tmp_path / "train.csv") == tmp_path / "a.wav"


# --- missing folders ------------------------------------------------------------------------------


def test_missing_corpus_folder(tmp_path):
    with pytest.raises(CorpusError, match="not found") as info:
        read_corpus(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)
    assert issubclass(CorpusError, SoundtagError)


def test_folder_without_train_csv_is_not_a_corpus(tmp_path):
    with pytest.raises(CorpusError, match="train.csv"):
        read_corpus(tmp_path)
    assert not is_corpus(tmp_path)


def test_clips_of_missing_folder(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        clips_of(tmp_path / "nope")


# --- plain folders --------------------------------------------------------------------------------


def test_read_folder_is_recursive_sorted_and_unlabelled(tmp_path):
    root = tmp_path / "audio"
    for name in ["b.wav", "a.FLAC", "sub/c.mp3", "sub/deeper/d.ogg", "notes.txt", "sub/e.npy", "sub/f.wav"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    (root / "empty-dir").mkdir()
    clips = read_folder(root)
    assert [c.fname for c in clips] == ["a.FLAC", "b.wav", "sub/c.mp3", "sub/deeper/d.ogg", "sub/f.wav"]
    assert all(c.path == root / c.fname for c in clips)
    assert all(c.label is None and c.verified is None for c in clips)
    assert clips_of(root) == (clips, [])
    assert not is_corpus(root)


def test_read_folder_missing(tmp_path):
    with pytest.raises(CorpusError, match="folder not found"):
        read_folder(tmp_path / "nope")


def test_find_audio_files_mixes_files_and_folders_without_duplicates(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ["d/a.wav", "d/b.wav", "x.mp3"]:
        (tmp_path / name).write_bytes(b"x")
    found = find_audio_files([tmp_path / "d", tmp_path / "d" / "a.wav", tmp_path / "x.mp3"])
    assert found == [tmp_path / "d" / "a.wav", tmp_path / "d" / "b.wav", tmp_path / "x.mp3"]
    with pytest.raises(CorpusError, match="no such file"):
        find_audio_files([tmp_path / "missing.wav"])


def test_demo_audio_folder_as_plain_folder(demo_root):
    clips = read_folder(demo_root / "audio_test")
    assert len(clips) == len(read_rows(demo_root / "test.csv"))
    assert all(isinstance(c, Clip) for c in clips)


# --- label maps -----------------------------------------------------------------------------------


def test_label_map_is_sorted_and_unique():
    labels = LabelMap(["Cough", "Bark", "Cough", "Applause"])
    assert labels.labels == ["Applause", "Bark", "Cough"]
    assert len(labels) == 3
    assert [labels.index(x) for x in labels.labels] == [0, 1, 2]
    assert [labels.label(i) for i in range(3)] == labels.labels
    assert "Bark" in labels and "Meow" not in labels
    with pytest.raises(KeyError, match="Meow"):
        labels.index("Meow")


def test_label_map_save_load_round_trip(tmp_path, demo_root):
    labels = LabelMap(read_corpus(demo_root).labels)
    path = tmp_path / "run" / "labels.json"
    labels.save(path)
    loaded = LabelMap.load(path)
    assert loaded.labels == labels.labels
    assert all(loaded.index(x) == labels.index(x) for x in labels.labels)
    assert sorted(p.name for p in path.parent.iterdir()) == ["labels.json"]


@pytest.mark.parametrize("content", ["not json", '{"names": []}', "[1, 2]", '{"labels": 5}'])
def test_label_map_load_of_a_bad_file(tmp_path, content):
    path = tmp_path / "labels.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match="label map"):
        LabelMap.load(path)


def test_label_map_load_of_a_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="label map"):
        LabelMap.load(tmp_path / "missing.json")


def test_docstring_examples_run():
    result = doctest.testmod(soundtag.data.corpus, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
