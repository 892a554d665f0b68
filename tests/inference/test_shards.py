"""Sharded tagging: shards partition the file list (no overlap, no gap) and merge checks both."""

from __future__ import annotations

import json

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


def test_shard_path():
    assert shard_path("/x/out.jsonl", 2, 5).name == "out.shard-2-of-5.jsonl"


def write_shard(tmp_path, index, count, names):
    path = tmp_path / f"t.shard-{index}-of-{count}.jsonl"
    path.write_text("".join(json.dumps({"file": n, "tags": []}) + "\n" for n in names))
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
