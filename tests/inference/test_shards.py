"""Sharded tagging: shards partition the file list (no overlap, no gap) and merge checks both."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soundtag.errors import SoundtagError
from soundtag.inference.shards import parse_shard, read_shards, shard_items, shard_path


@given(st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=60), st.integers(1, 9))
def test_shards_partition_the_items(items, count):
    items = sorted(items)
    shards = [shard_items(items, k, count) for k in range(1, count + 1)]
    flat = [x for shard in shards for x in shard]
    assert sorted(flat) == items and len(flat) == len(set(flat))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_parse_shard():
    assert parse_shard("3/8") == (3, 8)
    for bad in ("0/2", "3/2", "a/b", "2", ""):
        with pytest.raises(SoundtagError):
            parse_shard(bad)


def test_shard_path_is_always_json_lines():
    assert shard_path("/x/out.jsonl", 2, 5).name == "out.shard-2-of-5.jsonl"
    assert shard_path("/x/out.json", 1, 2).name == "out.shard-1-of-2.jsonl"
    assert shard_path("/x/out.csv", 1, 2).name == "out.shard-1-of-2.jsonl"


def record(name, probability=0.5):
    return {"file": name, "duration": 1.0, "tags": [{"label": "Bark", "probability": probability}]}


def write_shard(tmp_path, index, count, names):
    path = tmp_path / f"t.shard-{index}-of-{count}.jsonl"
    path.write_text("".join(json.dumps(record(n)) + "\n" for n in names))
    return path


def test_merge_joins_sorted_and_detects_gaps_and_overlaps(tmp_path):
    a = write_shard(tmp_path, 1, 2, ["b.wav", "d.wav"])
    b = write_shard(tmp_path, 2, 2, ["a.wav", "c.wav"])
    assert [r["file"] for r in read_shards([a, b])] == ["a.wav", "b.wav", "c.wav", "d.wav"]
    with pytest.raises(SoundtagError, match="missing"):
        read_shards([a])
    overlap = write_shard(tmp_path / "..", 2, 2, ["b.wav"])
    with pytest.raises(SoundtagError, match="also tagged"):
        read_shards([a, overlap])
    with pytest.raises(SoundtagError, match="not a shard"):
        read_shards([tmp_path / "plain.jsonl"])


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"tags": []}', "no 'file' name"),
        ('{"file": 5, "duration": 1, "tags": []}', "no 'file' name"),
        ('{"file": "a.wav", "tags": []}', "no 'duration' in seconds"),
        ('{"file": "a.wav", "duration": 1, "tags": [{"label": "x"}]}', "'tags' is not a list"),
        ('{"file": "a.wav", "duration": 1, "tags": [], "segments": [{"tags": []}]}', "a segment without"),
        ('{"file": "a.wav", "error": 3}', "'error' is not text"),
    ],
)
def test_a_malformed_record_is_named_with_its_line(tmp_path, line, problem):
    path = tmp_path / "t.shard-1-of-1.jsonl"
    path.write_text(json.dumps(record("ok.wav")) + "\n\n" + line + "\n")
    expected = rf"t\.shard-1-of-1\.jsonl:3: not a soundtag tag record \({re.escape(problem)}"
    with pytest.raises(SoundtagError, match=expected):
        read_shards([path])


def test_unreadable_shards_are_one_error_naming_the_file(tmp_path):
    missing = tmp_path / "t.shard-1-of-1.jsonl"
    with pytest.raises(SoundtagError, match="t.shard-1-of-1.jsonl: cannot read the shard .no such file"):
        read_shards([missing])
    missing.mkdir()
    with pytest.raises(SoundtagError, match="cannot read the shard .is a directory"):
        read_shards([missing])
    binary = tmp_path / "b.shard-1-of-1.jsonl"
    binary.write_bytes(json.dumps(record("a.wav")).encode() + b"\n\xff\xfe\x00\x81")
    with pytest.raises(SoundtagError, match=r"b\.shard-1-of-1\.jsonl:2: not UTF-8 text"):
        read_shards([binary])
    garbage = tmp_path / "g.shard-1-of-1.jsonl"
    garbage.write_text("{not json\n")
    with pytest.raises(SoundtagError, match=r"g\.shard-1-of-1\.jsonl:1: not a JSON line"):
        read_shards([garbage])


def test_a_record_with_non_finite_numbers_becomes_an_error_record(tmp_path):
    path = tmp_path / "t.shard-1-of-1.jsonl"
    path.write_text(json.dumps(record("a.wav", float("nan"))) + "\n" + json.dumps(record("b.wav")) + "\n")
    assert read_shards([path]) == [{"file": "a.wav", "error": "model output is not finite"}, record("b.wav")]


def test_the_merged_output_keeps_the_provenance_the_shards_share(tmp_path):
    from soundtag.errors import SoundtagError
    from soundtag.inference.shards import shard_provenance

    def shard(k, **settings):
        path = tmp_path / f"t.shard-{k}-of-2.jsonl"
        head = {"soundtag": {"run": "r", "segment": 1.0, **settings}}
        path.write_text(json.dumps(head) + "\n" + json.dumps({"file": f"{k}.wav", "error": "x"}) + "\n")
        return path

    first, second = shard(1, created="2026-01-02"), shard(2, created="2026-01-01")
    assert shard_provenance([first, second]) == {"run": "r", "segment": 1.0, "created": "2026-01-01"}
    with pytest.raises(SoundtagError, match="another run or other settings"):
        shard_provenance([first, shard(2, created="2026-01-01", segment=2.0)])
    plain = tmp_path / "p.shard-1-of-1.jsonl"
    plain.write_text(json.dumps({"file": "a.wav", "error": "x"}) + "\n")
    assert shard_provenance([plain]) is None
