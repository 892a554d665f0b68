"""Split a large collection across N taggers with no overlap and no gap, and join their outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from soundtag.errors import SoundtagError
from soundtag.fileio import describe_os_error
from soundtag.outputs import NOT_FINITE, has_non_finite

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
    """Where shard K of N of ``-o path`` goes: JSON lines, the format :func:`read_shards` joins.

    >>> shard_path("/x/out.json", 2, 5).name
    'out.shard-2-of-5.jsonl'
    """
    path = Path(path)
    return path.with_name(f"{path.stem}.shard-{index}-of-{count}.jsonl")


def read_shards(paths: Sequence[str | Path]) -> list[dict]:
    """Records of every shard file (JSON lines), checking that shards 1..N are all there once and
    that no file was tagged twice; sorted by file. The provenance line that starts a shard is skipped
    (:func:`shard_provenance` reads it). A record whose numbers are not finite becomes an error record; an unreadable file or a line that is not a tag record is one error naming it.
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
        for name, record in _shard_records(seen[index]):
            if name in records:
                raise SoundtagError(f"{seen[index]}: {name} was also tagged by another shard")
            records[name] = record
    return [records[name] for name in sorted(records)]


def _shard_records(path: Path) -> list[tuple[str, dict]]:
    """(file, record) of each line of one shard file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SoundtagError(f"{path}: cannot read the shard ({describe_os_error(exc)})") from None
    records = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SoundtagError(f"{path}:{number}: not UTF-8 text; is it a shard written by soundtag tag?") from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            raise SoundtagError(f"{path}:{number}: not a JSON line; is it a shard written by soundtag tag?") from None
        if number == 1 and is_provenance(record):
            continue  # the run and settings the shard was tagged with, not a file's record
        problem = record_problem(record)
        if problem:
            raise SoundtagError(f"{path}:{number}: not a soundtag tag record ({problem})")
        if has_non_finite(record):
            record = {"file": record["file"], "error": NOT_FINITE}
        records.append((record["file"], record))
    return records


def shard_provenance(paths: Sequence[str | Path]) -> dict | None:
    """The provenance the shards share (their first lines, ``created`` aside: the earliest is kept), for
    the merged output; None when no shard has one. Shards tagged with another run or other settings
    are refused: their records do not belong in one output."""
    found = []
    for path in map(Path, paths):
        first = _shard_records_head(path)
        if first is not None:
            found.append((path, first))
    if not found:
        return None
    settings = {k: v for k, v in found[0][1].items() if k != "created"}
    for path, provenance in found[1:]:
        if {k: v for k, v in provenance.items() if k != "created"} != settings:
            raise SoundtagError(f"{path}: tagged with another run or other settings than {found[0][0]}")
    created = [p["created"] for _, p in found if isinstance(p.get("created"), str)]
    return {**found[0][1], **({"created": min(created)} if created else {})}


def _shard_records_head(path: Path) -> dict | None:
    """The provenance record on the first line of a shard, if it has one."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
        record = json.loads(first.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None  # read_shards names the problem
    return record["soundtag"] if is_provenance(record) else None


def is_provenance(record: object) -> bool:
    """Whether ``record`` is the provenance line that starts the JSON lines of ``soundtag tag -o``
    (``{"soundtag": {...}}``)."""
    return isinstance(record, dict) and set(record) == {"soundtag"} and isinstance(record["soundtag"], dict)


def record_problem(record: object) -> str | None:
    """What keeps ``record`` from being a tag record (``file`` with ``duration``, ``tags`` and maybe
    ``segments``, or ``file`` with ``error``), or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if not isinstance(record.get("file"), str):
        return "no 'file' name"
    if "error" in record:
        return None if isinstance(record["error"], str) else "'error' is not text"
    if not _is_number(record.get("duration")):
        return "no 'duration' in seconds"
    if not _is_tag_list(record.get("tags")):
        return "'tags' is not a list of labels with probabilities"
    segments = record.get("segments", [])
    if not isinstance(segments, list):
        return "'segments' is not a list"
    for span in segments:
        if not (isinstance(span, dict) and _is_number(span.get("start")) and _is_number(span.get("end"))):
            return "a segment without 'start' and 'end'"
        if not _is_tag_list(span.get("tags")):
            return "a segment's 'tags' is not a list of labels with probabilities"
    return None


def _is_tag_list(tags: object) -> bool:
    return isinstance(tags, list) and all(
        isinstance(t, dict) and isinstance(t.get("label"), str) and _is_number(t.get("probability")) for t in tags)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
