"""soundtag export --format hf and Tagger.from_pretrained: a model folder (safetensors weights,
config.json, a model card) that tags exactly as the run does, read from a local path only."""

from __future__ import annotations

import doctest
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

import soundtag
from soundtag.cli.main import main
from soundtag.errors import SoundtagError
import soundtag.inference.pretrained
from soundtag.inference import Tagger
from soundtag.inference.export import export_run
from soundtag.inference.pretrained import CARD_FILE, CONFIG_FILE, WEIGHTS_FILE, load_tagger
from soundtag.runs import RunFolder
from tests.helpers import DEMO, REPO_ROOT, Result, assert_user_error
from tests.training.tiny_run import single_thread_torch, subprocess_env

CLIPS = sorted((DEMO / "audio_test").glob("*.flac"))[:4] + [DEMO / "audio_test" / "98057a60.flac"]  # 4.4 s: segments


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """The tiny run exported as a model folder."""
    return export_run(tiny_run, "hf", tmp_path_factory.mktemp("hf") / "tiny-model")


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A copy of the tiny run to change (copytree keeps the files' times)."""
    return shutil.copytree(tiny_run, tmp_path / "run")


def tags_of(tagger, **settings) -> list[dict]:
    return [result.to_dict() for result in tagger.tag_files(CLIPS, **settings)]


def front_matter(card: str) -> dict:
    """The YAML between the card's two ``---`` lines."""
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def in_process(capsys, *args) -> Result:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return Result(code, out, err)


def test_the_module_examples_run():
    result = doctest.testmod(soundtag.inference.pretrained)
    assert result.attempted and not result.failed


def test_the_folder_holds_weights_config_and_card(exported):
    assert sorted(p.name for p in exported.iterdir()) == sorted([WEIGHTS_FILE, CONFIG_FILE, CARD_FILE])
    config = json.loads((exported / CONFIG_FILE).read_text())
    assert config["library_name"] == "soundtag" and config["soundtag_version"] == soundtag.__version__
    assert {"audio", "features", "model", "tag", "train"} == set(config["config"])
    assert config["origin"]["checkpoint"] == "best.pt" and len(config["origin"]["checkpoint_sha256"]) == 64
    assert config["multi_label"] is False and config["thresholds"] is None
    for name in (CONFIG_FILE, CARD_FILE):  # no path of this machine travels with a shared model
        assert str(REPO_ROOT) not in (exported / name).read_text()


def test_from_pretrained_tags_exactly_as_from_run(exported, tiny_run):
    with single_thread_torch():
        shared, run = Tagger.from_pretrained(exported), Tagger.from_run(tiny_run)
        assert tags_of(shared, segment=1.0) == tags_of(run, segment=1.0)
        assert tags_of(shared, framewise=True) == tags_of(run, framewise=True)
    assert shared.labels == run.labels and isinstance(soundtag.Tagger.from_pretrained(exported), Tagger)
    provenance = shared.provenance()
    assert provenance["run"] == str(exported) and len(provenance["run_digest"]) == 64


def test_a_multi_label_run_keeps_its_flag_and_thresholds(run_copy, tmp_path):
    folder = RunFolder(run_copy)
    labels = folder.read_label_map()
    folder.write_label_map(labels, multi_label=True)
    folder.write_thresholds({label: 0.05 + 0.01 * i for i, label in enumerate(labels.labels)})
    out = export_run(run_copy, "hf", tmp_path / "multi")
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["multi_label"] is True and config["thresholds"]["Cello"] == pytest.approx(0.06)
    with single_thread_torch():
        shared, run = Tagger.from_pretrained(out), Tagger.from_run(run_copy)
        assert shared.multi_label and list(shared.thresholds) == pytest.approx(list(run.thresholds))
        assert tags_of(shared) == tags_of(run)
    assert "threshold 0.060" in (out / CARD_FILE).read_text()


def test_the_card_reports_the_evaluation_metrics(run_copy, tmp_path):
    evaluation = RunFolder(run_copy).evaluation_dir("test")
    evaluation.mkdir(exist_ok=True)  # another test may have evaluated the shared tiny run
    (evaluation / "metrics.json").write_text(json.dumps({"split": "test", "corpus": str(DEMO), "map3": 0.61234,
                                                         "accuracy": 0.5, "n_clips": 34}))
    card = (export_run(run_copy, "hf", tmp_path / "card") / CARD_FILE).read_text()
    front = front_matter(card)
    assert front["library_name"] == "soundtag" and "audio-classification" in front["tags"]
    results = front["model-index"][0]["results"][0]
    assert results["dataset"] == {"name": "demo", "type": "demo", "split": "test"}
    assert {m["type"]: m["value"] for m in results["metrics"]} == {"map3": 0.6123, "accuracy": 0.5}
    assert "| MAP@3 | 0.612 |" in card and "(34 clips)" in card and "from_pretrained" in card
    assert str(DEMO) not in card


def test_metrics_older_than_the_checkpoint_are_left_out(run_copy, tmp_path):
    evaluation = RunFolder(run_copy).evaluation_dir("test")
    evaluation.mkdir(exist_ok=True)  # another test may have evaluated the shared tiny run
    (evaluation / "metrics.json").write_text(json.dumps({"map3": 0.9, "accuracy": 0.9, "n_clips": 34}))
    older = (run_copy / "best.pt").stat().st_mtime - 60
    os.utime(evaluation / "metrics.json", (older, older))
    card = (export_run(run_copy, "hf", tmp_path / "stale") / CARD_FILE).read_text()
    assert "model-index" not in front_matter(card) and "Not evaluated" in card


# --- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["org/no-such-model", "https://huggingface.co/org/model"])
def test_a_path_that_is_not_a_local_folder_is_never_downloaded(name):
    with pytest.raises(SoundtagError, match="soundtag never downloads"):
        Tagger.from_pretrained(name)


@pytest.mark.parametrize("missing", [WEIGHTS_FILE, CONFIG_FILE])
def test_a_folder_missing_a_file_is_refused(exported, tmp_path, missing):
    broken = shutil.copytree(exported, tmp_path / "broken")
    (broken / missing).unlink()
    with pytest.raises(SoundtagError, match=f"not a soundtag model folder \\(no {missing}\\)"):
        Tagger.from_pretrained(broken)


def test_a_run_folder_is_pointed_to_from_run(tiny_run):
    with pytest.raises(SoundtagError, match="use Tagger.from_run"):
        Tagger.from_pretrained(tiny_run)


def edited(exported, tmp_path, change) -> object:
    """A copy of the export whose config.json ``change`` edited."""
    copy = shutil.copytree(exported, tmp_path / "edited")
    config = json.loads((copy / CONFIG_FILE).read_text())
    change(config)
    (copy / CONFIG_FILE).write_text(json.dumps(config))
    return copy


def test_a_config_with_another_number_of_classes_than_the_weights_is_refused(exported, tmp_path):
    copy = edited(exported, tmp_path, lambda c: c.update(labels=c["labels"][:-1]))
    with pytest.raises(SoundtagError, match="weights do not fit the model of .*config.json with 10 labels"):
        Tagger.from_pretrained(copy)


@pytest.mark.parametrize("change,message", [
    (lambda c: c["config"]["model"].update(name="no_such_model"), "config.json: .*no_such_model"),
    (lambda c: c.update(labels=["b", "a"]), "sorted, unique"),
    (lambda c: c.update(thresholds={"Cello": 2.0}), "'thresholds' must hold"),
    (lambda c: c.update(format_version=99), "later soundtag"),
    (lambda c: c.pop("library_name"), "not a soundtag model config"),
])
def test_an_invalid_config_json_is_refused_naming_it(exported, tmp_path, change, message):
    with pytest.raises(SoundtagError, match=message):
        Tagger.from_pretrained(edited(exported, tmp_path, change))


def test_weights_changed_after_export_are_refused(exported, tmp_path):
    copy = shutil.copytree(exported, tmp_path / "tampered")
    data = bytearray((copy / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 1
    (copy / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(SoundtagError, match="changed after export"):
        Tagger.from_pretrained(copy)


def test_outputs_in_the_run_folder_or_over_other_files_are_refused(tiny_run, tmp_path, capsys):
    before = sorted(p.name for p in tiny_run.rglob("*"))
    for out in (tiny_run, tiny_run / "shared", tiny_run / "best.pt"):
        assert_user_error(in_process(capsys, "export", tiny_run, "--format", "hf", "-o", out), str(out))
    assert sorted(p.name for p in tiny_run.rglob("*")) == before
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert_user_error(in_process(capsys, "export", tiny_run, "--format", "hf", "-o", other), "notes.txt")
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


def test_an_earlier_export_is_replaced_whole(exported, tiny_run, tmp_path):
    again = shutil.copytree(exported, tmp_path / "again")
    (again / CARD_FILE).write_text("old card")
    export_run(tiny_run, "hf", again)
    for name in (WEIGHTS_FILE, CONFIG_FILE):  # byte for byte: an export is reproducible
        assert (again / name).read_bytes() == (exported / name).read_bytes()
    assert (again / CARD_FILE).read_text().startswith("---\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]  # no temporary folder left


def test_load_tagger_reads_each_kind_of_model(exported, tiny_run):
    assert type(load_tagger(exported)).__name__ == "PretrainedTagger"
    assert type(load_tagger(tiny_run)) is Tagger


@pytest.mark.e2e
def test_export_hf_then_tag_the_folder_from_the_command_line(tiny_run, tmp_path, capsys):
    """``soundtag export RUN --format hf -o DIR``, then the real program ``soundtag tag DIR FILE`` gives the
    run's own tags."""
    out = tmp_path / "shared"
    exported = in_process(capsys, "export", tiny_run, "--format", "hf", "-o", out)
    assert exported.returncode == 0 and f"to {out}" in exported.stderr and not exported.stdout
    tagged = subprocess.run([sys.executable, "-m", "soundtag", "tag", str(out), str(CLIPS[-1]), "--format", "json",
                             "--quiet"], env=subprocess_env(tmp_path / "xdg"), capture_output=True, text=True,
                            timeout=120)
    assert tagged.returncode == 0, tagged.stderr
    output = json.loads(tagged.stdout)
    with single_thread_torch():
        assert output["files"][0] == Tagger.from_run(tiny_run).tag_file(CLIPS[-1]).to_dict()


def test_embed_takes_an_exported_folder_as_it_takes_the_run(exported, tiny_run, tmp_path, capsys):
    import numpy as np

    clips = DEMO / "audio_test"
    with single_thread_torch():
        for name, source in (("run", tiny_run), ("shared", exported)):
            result = in_process(capsys, "embed", source, clips, "-o", tmp_path / f"{name}.npz", "--quiet")
            assert result.returncode == 0, result.stderr
    run, shared = np.load(tmp_path / "run.npz"), np.load(tmp_path / "shared.npz")
    assert list(shared["files"]) == list(run["files"]) and len(run["files"]) > 0
    np.testing.assert_array_equal(shared["clip"], run["clip"])
