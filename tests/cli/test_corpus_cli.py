"""``soundtag corpus``: what was understood of a corpus, as a table or one JSON object; errors in one line;
no torch imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import soundfile as sf

from soundtag.cli.main import main
from soundtag.data import read_corpus
from tests.helpers import DEMO, REPO_ROOT, Result, assert_user_error, read_rows, sine, write_rows


def corpus_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["corpus", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tone(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, sine(440, 0.1, 16000), 16000)


def test_the_demo_as_a_table(capsys):
    code, out, err = corpus_cli(capsys, DEMO)
    assert code == 0 and err == ""
    lines = out.splitlines()
    verified = sum(r["manually_verified"] == "1" for r in read_rows(DEMO / "train.csv")) / 79
    assert lines[0] == (f"{DEMO}: fsdkaggle2018 layout, 11 classes, single-label; "
                        f"{verified:.0%} of the train clips verified")
    assert lines[2].split() == ["split", "clips", "several", "labels", "no", "label"]
    assert lines[3].split() == ["train", "79", "0", "0"] and lines[5].split() == ["test", "34", "0", "0"]
    telephone = next(line for line in lines if line.startswith("Telephone "))
    train = sum(r["label"] == "Telephone" for r in read_rows(DEMO / "train.csv"))
    test = sum(r["label"] == "Telephone" for r in read_rows(DEMO / "test.csv"))
    assert telephone.split() == ["Telephone", str(train), "0", str(test)]
    assert "problems:" not in out


def test_json_of_a_manifest_with_several_labels_none_and_rows_left_out(tmp_path, capsys):
    rows = [["a.wav", "Bark", "1", "train"], ["b.wav", "Bark,Cough", "0", "train"], ["c.wav", "", "1", "train"],
            ["d.wav", "Meow", "1", "val"], ["e.wav", "Bark", "1", "test"], ["../f.wav", "Bark", "1", "test"]]
    write_rows(tmp_path / "m.csv", ["fname", "labels", "verified", "split"], rows)
    code, out, _ = corpus_cli(capsys, tmp_path / "m.csv", "--json")
    assert code == 0
    data = json.loads(out)
    assert out.count("\n") == 1
    assert data["layout"] == "manifest" and data["multi_label"] is True and data["n_classes"] == 3
    assert data["labels"] == ["Bark", "Cough", "Meow"]
    assert data["clips"] == {"train": 3, "val": 1, "test": 1}
    assert data["per_class"]["Bark"] == {"train": 2, "val": 0, "test": 1}
    assert data["several_labels"] == {"train": 1, "val": 0, "test": 0}
    assert data["no_label"] == {"train": 1, "val": 0, "test": 0}
    assert data["verified_share"] == 2 / 3
    assert data["left_out"].startswith("left out 1 CSV row (m.csv 1): fname '../f.wav' escapes")
    assert data["rejected"] == [{"source": str(tmp_path / "m.csv"),
                                 "problem": f"fname '../f.wav' escapes its audio folder {tmp_path}"}]
    assert data["problems"] == [
        "1 class(es) have no train clips ('Meow'): a run never sees a positive example of them",
        "2 class(es) have no test clips ('Cough', 'Meow'): their test scores cannot be measured"]


def test_class_folders_show_the_drawn_split_negatives_and_files_left_out(tmp_path, capsys):
    for folder, count in {"dog": 5, "cat": 5, "_background": 5}.items():
        for i in range(count):
            tone(tmp_path / "c" / folder / f"{i}.wav")
    tone(tmp_path / "c" / "loose.wav")
    code, out, _ = corpus_cli(capsys, tmp_path / "c")
    assert code == 0
    assert ": class_folders layout, 2 classes, multi-label; 100% of the train clips verified" in out
    assert next(line for line in out.splitlines() if line.startswith("(no label)")).split() == ["(no", "label)",
                                                                                             "4", "0", "1"]
    assert read_corpus(tmp_path / "c").split_note in out
    assert "left out 1 file (c 1): loose.wav lies in" in out


def test_a_path_that_is_no_corpus_is_one_line(tmp_path, capsys):
    code, out, err = corpus_cli(capsys, tmp_path / "missing")
    assert code == 2 and out == ""
    assert err == f"soundtag: error: {tmp_path / 'missing'}: corpus folder not found\n"
    (tmp_path / "c" / "test" / "dog").mkdir(parents=True)
    tone(tmp_path / "c" / "test" / "dog" / "a.wav")
    code, _, err = corpus_cli(capsys, tmp_path / "c")
    assert code == 2 and err.count("\n") == 1 and "has test/ but no train/ folder" in err


def test_the_program_reads_a_corpus_without_importing_torch(tmp_path):
    """Only CSVs and folders are read: the command starts without torch (or the feature stack)."""
    script = ("import sys\nfrom soundtag.cli.main import main\ncode = main(['corpus', sys.argv[1], '--json'])\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\nsys.exit(code)\n")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", script, str(DEMO)], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["clips"] == {"train": 79, "val": 0, "test": 34}
    proc = subprocess.run([sys.executable, "-m", "soundtag", "corpus", str(tmp_path / "nope.csv")], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert_user_error(result, "nope.csv: manifest not found", only_line=True)
