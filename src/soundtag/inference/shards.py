"""Split a large collection across N taggers with no overlap and no gap, and join their outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from soundtag.errors import SoundtagError

T = TypeVar("T")
SHARD_NAME = re.compile(r"\.shard-(\d+)-of-(\d+)(\.[^.]*)?$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), with 1 <= K <= N.

    >>> parse_shard("2/4")
    (2, 4)
    """
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise SoundtagError(f"--shard expects K/N with 1 <= K <= N, got {text!r}")
    return int(match[1]), int(match[2])


def shard_items(items: Sequence[T], index: int, count: int) -> list[T]:
    """Shard ``index`` (1-based) of ``count``: every count-th item of the sorted list from index-1."""
    return list(items[index - 1 :: count])


def shard_path(path: str | Path, index: int, count: int) -> Path:
    """``out.jsonl`` -> ``out.shard-K-of-N.jsonl``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.shard-{index}-of-{count}{path.suffix}")


def read_shards(paths: Sequence[str | Path]) -> list[dict]:
    """Records of every shard file (JSON lines), checking that shards 1..N are all there once and
    that no file was tagged twice; sorted by file.
    """
    seen: dict[int, Path] = {}
    counts = set()
    for path in map(Path, paths):
        match = SHARD_NAME.search(path.name)
        if not match:
            raise SoundtagError(f"{path}: not a shard output (expected a name like out.shard-1-of-4.jsonl)")
        index, count = int(match[1]), int(match[2])
        if index in seen:
            raise SoundtagError(f"{path}: shard {index} given twice ({seen[index]})")
        seen[index] = path
        counts.add(count)
    if len(counts) != 1:
        raise SoundtagError("shard files come from different splits (N differs)")
    count = counts.pop()
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise SoundtagError(f"shard {missing[0]} of {count} is missing: the merge would have a gap")
    records: dict[str, dict] = {}
    for index in sorted(seen):
        for number, line in enumerate(seen[index].read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                name = record["file"]
            except (ValueError, KeyError, TypeError):
                raise SoundtagError(f"{seen[index]}:{number}: not a soundtag tag record") from None
            if name in records:
                raise SoundtagError(f"{seen[index]}: {name} was also tagged by another shard")
            records[name] = record
    return [records[name] for name in sorted(records)]
