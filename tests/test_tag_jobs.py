"""Tagging large jobs: JSON lines streamed and resumed after a kill, provenance, formats from -o,
device/batch/thread options, ``soundtag embed``, and file-level tags that no segmentation changes."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
import soundfile as sf

from soundtag.audio import load_audio
from soundtag.errors import SoundtagError
from soundtag.inference import Tagger
from soundtag.inference.shards import read_shards
from soundtag.training import start_run
from tests.helpers import DEMO
from tests.test_crash_safety import kill_group, run_main, spawn, wait_until
from tests.training.tiny_run import shared_cache_dir, single_thread_torch, subprocess_env, tiny_config

SR = 32000


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("tag-jobs")


@pytest.fixture(scope="module")
def run_dir(workspace, tmp_path_factory):
    path = workspace / "run"
    start_run(tiny_config(shared_cache_dir(tmp_path_factory), "train.epochs=1"), path, progress=False)
    return path


@pytest.fixture(scope="module")
def folder(workspace):
    """Ten demo clips, three 40-s files (so a job takes seconds) and one file that is not audio."""
    root = workspace / "to-tag"
    root.mkdir()
    clips = sorted((DEMO / "audio_test").iterdir())[:10]
    for clip in clips:
        shutil.copy(clip, root / clip.name)
    signal = np.concatenate([load_audio(clip, 8000) for clip in clips])
    long = np.tile(signal, int(np.ceil(40 * 8000 / len(signal))))[: 40 * 8000]
    for index in range(3):
        sf.write(root / f"long-{index}.wav", np.roll(long, index * 8000), 8000, subtype="PCM_16")
    (root / "broken.wav").write_bytes(b"RIFF not really")
    return root


def lines_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def without_created(records):
    head, *rest = records
    return [{"soundtag": {k: v for k, v in head["soundtag"].items() if k != "created"}}, *rest]


@pytest.fixture(scope="module")
def reference(run_dir, folder, workspace):
    from soundtag.cli.main import main

    out = workspace / "reference.jsonl"
    assert main(["tag", str(run_dir), str(folder), "-o", str(out), "--quiet"]) == 1  # jsonl; broken.wav failed
    return out


def test_jsonl_starts_with_provenance_and_reports_failures_inline(reference, run_dir):
    head, *records = lines_of(reference)
    info = head["soundtag"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert info["run_digest"] == manifest["config_sha256"] and info["checkpoint"] == "best.pt"
    assert info["sample_rate"] == SR and info["segment"] == info["hop"] == 1.0 and info["framewise"] is False
    assert info["top_k"] == 3 and info["thresholds"] is None and info["created"] and info["version"]
    assert len(records) == 14
    (failed,) = [r for r in records if "error" in r]
    assert failed["file"].endswith("broken.wav") and failed["error"]
    assert [r["file"] for r in records] == sorted(r["file"] for r in records)  # failures in file order too


def test_a_killed_job_resumes_to_the_uninterrupted_output(run_dir, folder, workspace, reference, request, capfd):
    out = workspace / "killed.jsonl"
    expected = without_created(lines_of(reference))
    point = random.Random(request.node.name).randint(2, 10)
    proc = spawn(["tag", run_dir, folder, "-o", out, "--quiet"], subprocess_env(workspace / "xdg"),
                 workspace / "kill.log")
    wait_until(proc, lambda: out.exists() and out.read_bytes().count(b"\n") >= point + 1, f"{point} files")
    assert kill_group(proc), "tagging finished before it was killed"
    kept = out.read_text().splitlines()
    assert len(kept) < len(expected)
    code, _, err = run_main(capfd, ["tag", run_dir, folder, "-o", out, "--resume", "--quiet"])
    assert code == 1, err  # broken.wav failed, in this run or the killed one
    assert without_created(lines_of(out)) == expected
    assert out.read_text().splitlines()[0] == kept[0]  # the first run's provenance stays


def test_a_half_written_last_line_is_rewritten(run_dir, folder, workspace, reference, capfd):
    out = workspace / "half.jsonl"
    data = reference.read_bytes()
    cut = data.index(b"\n", data.index(b"\n", data.index(b"\n") + 1) + 1) + 40  # 2 records and 40 bytes
    out.write_bytes(data[:cut])
    code, _, err = run_main(capfd, ["tag", run_dir, folder, "-o", out, "--resume", "--quiet"])
    assert code == 1, err  # broken.wav failed
    assert "(2 already there)" in err
    assert without_created(lines_of(out)) == without_created(lines_of(reference))


@pytest.mark.parametrize("other", [["--segment", "2"], ["--framewise"], ["--top-k", "2"], ["--checkpoint", "last.pt"]])
def test_resume_refuses_other_settings(run_dir, folder, workspace, reference, capfd, other):
    out = workspace / "other.jsonl"
    shutil.copy(reference, out)
    code, _, err = run_main(capfd, ["tag", run_dir, folder, "-o", out, "--resume", "--quiet", *other])
    assert code == 2 and len(err.splitlines()) == 1 and "--resume continues only the same run" in err
    assert out.read_bytes() == reference.read_bytes()


def test_resume_needs_jsonl_and_merge_skips_provenance(run_dir, folder, workspace, reference, capfd):
    code, _, err = run_main(capfd, ["tag", run_dir, folder, "-o", workspace / "x.json", "--resume"])
    assert code == 2 and "--resume continues JSON lines" in err
    shard = workspace / "t.shard-1-of-1.jsonl"
    shutil.copy(reference, shard)
    assert len(read_shards([shard])) == 14


def test_json_has_provenance_and_formats_follow_the_extension(run_dir, workspace, capfd):
    clip = DEMO / "audio_test" / "01423593.flac"
    code, _, err = run_main(capfd, ["tag", run_dir, clip, "-o", workspace / "one.json", "--quiet"])
    data = json.loads((workspace / "one.json").read_text())
    assert code == 0 and data["provenance"]["segment"] == 1.0 and len(data["files"]) == 1
    code, _, _ = run_main(capfd, ["tag", run_dir, clip, "-o", workspace / "one.csv", "--quiet"])
    assert code == 0 and (workspace / "one.csv").read_text().startswith("file,level,")
    code, _, err = run_main(capfd, ["tag", run_dir, clip, "-o", workspace / "two.json", "--format", "csv"])
    assert code == 2 and len(err.splitlines()) == 1 and "--format csv contradicts" in err


@pytest.mark.parametrize(("option", "value"), [("--batch-size", "0"), ("--threads", "-1"), ("--device", "gpu")])
def test_device_batch_and_thread_options_are_checked(run_dir, capfd, option, value):
    with pytest.raises(SystemExit):
        run_main(capfd, ["tag", run_dir, DEMO / "audio_test" / "01423593.flac", option, value])


def test_batch_size_and_threads_do_not_change_the_tags(run_dir, workspace, capfd):
    clip = DEMO / "audio_test" / "01423593.flac"
    outputs = []
    for extra in ([], ["--batch-size", "1", "--threads", "1", "--device", "cpu"]):
        code, out, err = run_main(capfd, ["tag", run_dir, clip, "--quiet", *extra])
        assert code == 0, err
        outputs.append(json.loads(out)["files"])
    assert outputs[0] == outputs[1]


def test_hop_longer_than_segment_is_refused(run_dir, capfd):
    code, _, err = run_main(capfd, ["tag", run_dir, DEMO / "audio_test" / "01423593.flac", "--segment", "1",
                                    "--hop", "2"])
    assert code == 2 and "--hop 2 is longer than --segment 1" in err
    with pytest.raises(SoundtagError, match="longer than the segment"):
        Tagger.from_run(run_dir, device="cpu").tag_file(DEMO / "audio_test" / "01423593.flac", hop=1.5)


def test_embed_writes_clip_and_segment_embeddings(run_dir, folder, workspace, capfd):
    out = workspace / "emb.npz"
    code, _, err = run_main(capfd, ["embed", run_dir, folder, "-o", out, "--quiet"])
    assert code == 1, err  # broken.wav failed
    data = np.load(out)
    assert len(data["files"]) == 13 and list(data["failed"]) == [str(folder / "broken.wav")]
    assert data["clip"].shape[0] == 13 and data["segment"].shape[1] == data["clip"].shape[1]
    owner = data["segment_file"]
    long = int(np.flatnonzero([f.endswith("long-0.wav") for f in data["files"]])[0])
    spans = np.stack([data["segment_start"], data["segment_end"]], 1)[owner == long]
    assert spans[0].tolist() == [0.0, 1.0] and spans[-1].tolist() == [39.0, 40.0] and len(spans) == 40
    rows, lengths = data["segment"][owner == long], spans[:, 1] - spans[:, 0]
    np.testing.assert_allclose(data["clip"][long], (rows * lengths[:, None]).sum(0) / lengths.sum(), atol=1e-5)
    code, _, err = run_main(capfd, ["embed", run_dir, folder, "-o", workspace / "emb.parquet"])
    assert code == 2 and ".npz" in err
