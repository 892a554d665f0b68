"""The run folder's owner: resume-or-refuse, foreign folders, the writer's lock and the manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from soundtag.config import RunConfig, load_config
from soundtag.data import LabelMap
from soundtag.errors import SoundtagError
from soundtag.runs import (
    LOCK_FILE,
    RunFolder,
    RunLockedError,
    check_extension,
    differing_keys,
    hold_lock,
    open_run,
)
from tests.helpers import REPO_ROOT


def a_run(path, config: RunConfig | None = None, labels=("a", "b")) -> RunFolder:
    """A run folder with a config and label map written through :func:`open_run`."""
    with open_run(path, config or load_config(None)) as (folder, _, _):
        folder.write_label_map(LabelMap(list(labels)))
    return folder


def test_a_new_folder_starts_a_run_and_the_same_config_resumes_it(tmp_path):
    with open_run(tmp_path / "run", load_config(None)) as (folder, _, resuming):
        assert not resuming and (folder.path / LOCK_FILE).is_file()
    assert not (folder.path / LOCK_FILE).exists()
    with open_run(tmp_path / "run", load_config(None)) as (_, _, resuming):
        assert resuming


def test_another_config_is_refused_naming_the_first_keys_that_differ(tmp_path):
    a_run(tmp_path / "run")
    other = load_config(None, ["train.lr=0.01", "model.dropout=0.1"])
    with pytest.raises(SoundtagError, match=r"another config \(model.dropout, train.lr differ\)"):
        with open_run(tmp_path / "run", other):
            pass


def test_differing_keys_follow_config_order_and_cover_nested_sections():
    other = load_config(None, ["train.augment.mixup_alpha=0.2", "seed=1"])
    assert differing_keys(load_config(None), other) == ["seed", "train.augment.mixup_alpha"]


@pytest.mark.parametrize("files", [{"notes.txt": "mine"}, {"config.yaml": "title: mine\n", "metrics.csv": "x\n"}])
def test_a_folder_of_other_files_is_refused_and_not_written(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SoundtagError, match="not a soundtag run|no soundtag run"):
        with open_run(tmp_path, load_config(None)):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(SoundtagError, match="not a folder"):
        with open_run(tmp_path / "run", load_config(None)):
            pass


def test_resuming_without_a_config_reads_the_folders_own(tmp_path):
    a_run(tmp_path / "run", load_config(None, ["train.epochs=5"]))
    with open_run(tmp_path / "run") as (_, config, resuming):
        assert resuming and config.train.epochs == 5


def test_resuming_may_extend_epochs_and_patience_only(tmp_path):
    folder = a_run(tmp_path / "run")
    with open_run(folder.path, extend=["train.epochs=50", "train.patience=20"]) as (_, config, _):
        assert (config.train.epochs, config.train.patience) == (50, 20)
    assert folder.read_config().train.epochs == 50  # saved, and the manifest follows it
    with pytest.raises(SoundtagError, match=r"model.channels, train.lr would change the model"):
        with open_run(folder.path, extend=["train.lr=0.5", "model.channels=[4]"]):
            pass


def test_check_extension_allows_tag_settings():
    check_extension(load_config(None), load_config(None, ["tag.top_k=5", "train.device=cpu"]), REPO_ROOT)


def test_a_missing_or_empty_folder_cannot_be_resumed(tmp_path):
    with pytest.raises(SoundtagError, match=r"not a run folder \(no such folder\)"):
        with open_run(tmp_path / "nothing"):
            pass
    with pytest.raises(SoundtagError, match="not a run folder"):
        with open_run(tmp_path):
            pass
    assert not (tmp_path / "nothing").exists()


def test_the_manifest_records_version_digests_and_outputs(tmp_path):
    folder = a_run(tmp_path / "run", labels=("x", "y", "z"))
    manifest = json.loads(folder.manifest_path.read_text())
    assert set(manifest) == {"soundtag_version", "config_sha256", "label_map_sha256", "n_outputs"}
    assert manifest["n_outputs"] == 3
    assert folder.read_label_map().labels == ["x", "y", "z"]


@pytest.mark.parametrize("name", ["config.yaml", "label_map.json"])
def test_an_edited_file_is_refused_naming_it(tmp_path, name):
    folder = a_run(tmp_path / "run")
    path = folder.path / name
    path.write_text(path.read_text().replace('"b"', '"c"').replace("seed: 2018", "seed: 1"))
    with pytest.raises(SoundtagError, match=rf"{name}: changed after the run was written"):
        folder.read_label_map() if name == "label_map.json" else folder.read_config()


def test_a_run_without_manifest_from_an_earlier_version_still_reads(tmp_path):
    folder = a_run(tmp_path / "run")
    folder.manifest_path.unlink()
    assert folder.read_config() == load_config(None) and len(folder.read_label_map()) == 2


HOLDER = textwrap.dedent("""
    import sys, time
    from soundtag.runs import RunFolder, hold_lock
    with hold_lock(RunFolder(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_second_writer_is_refused_while_the_first_lives(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=rf"in use by process {holder.pid} on "):
            with open_run(tmp_path, load_config(None)):
                pass
    finally:
        holder.kill()
        holder.wait()
    with open_run(tmp_path, load_config(None)) as (_, _, resuming):  # its owner is dead: the lock is taken over
        assert not resuming


def test_a_stale_lock_file_of_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 2**22 + 7, "host": os.uname().nodename}))
    with hold_lock(RunFolder(tmp_path)):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_checkpoint_name_must_stay_inside_the_run(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.checkpoint_path("last.pt") == tmp_path / "last.pt"
    for name in ("../x.pt", "/etc/passwd", "", "..", "sub/best.pt"):
        with pytest.raises(SoundtagError, match="inside"):
            folder.checkpoint_path(name)


def test_sections_that_may_change_resume_and_record_the_new_config(tmp_path):
    folder = a_run(tmp_path / "run")
    with_recipe = load_config(None, ["recipe.members=2"])
    with open_run(folder.path, with_recipe, may_change=("recipe",)) as (_, _, resuming):
        assert resuming
    assert folder.read_config().recipe.members == 2
    with pytest.raises(SoundtagError, match=r"\(train.lr differ\)"):
        with open_run(folder.path, load_config(None, ["recipe.members=2", "train.lr=0.5"]), may_change=("recipe",)):
            pass
