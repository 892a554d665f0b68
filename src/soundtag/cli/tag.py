"""``soundtag tag``: tag files and folders of audio with a trained run."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys

from soundtag.cli.common import warn
from soundtag.errors import SoundtagError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tag`` subcommand."""
    parser = subparsers.add_parser(
        "tag", help="tag audio files and folders",
        description="Tag wav/flac/ogg/mp3 files (folders are searched recursively) with RUN_DIR's model; "
                    "files longer than one segment also get per-segment tags with times.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train")
    parser.add_argument("paths", metavar="PATH", nargs="+", help="audio files or folders")
    parser.add_argument("--format", choices=("json", "jsonl", "csv"), default="json", help="output format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (atomically) instead of stdout")
    parser.add_argument("--top-k", type=int, metavar="K", help="labels per file and segment (default: 3)")
    parser.add_argument("--segment", type=float, metavar="SECONDS", help="segment length (default: training window)")
    parser.add_argument("--hop", type=float, metavar="SECONDS", help="segment hop (default: the segment length)")
    parser.add_argument("--checkpoint", default="best.pt", help="checkpoint in RUN_DIR (default: best.pt)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Tag every file, list the ones that failed, and write the output in one go."""
    from tqdm.auto import tqdm

    from soundtag.data import find_audio_files
    from soundtag.errors import AudioError
    from soundtag.fileio import atomic_write_text
    from soundtag.inference import Tagger

    for value, name in ((args.top_k, "--top-k"), (args.segment, "--segment"), (args.hop, "--hop")):
        if value is not None and value <= 0:
            raise SoundtagError(f"{name} must be positive")
    tagger = Tagger(args.run_dir, checkpoint=args.checkpoint)
    files = find_audio_files(args.paths)
    results, failures = [], []
    hours = 0.0
    bar = tqdm(files, unit="file", desc="tagging", disable=args.quiet)
    for path in bar:
        try:
            tags = tagger.tag_file(path, args.segment, args.hop, args.top_k)
        except AudioError as exc:
            failures.append({"file": str(path), "error": exc.problem})
            continue
        results.append(tags.to_dict())
        hours += tags.duration / 3600
        bar.set_postfix(audio_h=f"{hours:.3f}", refresh=False)
    bar.close()
    text = render(results, failures, args.format)
    if args.output:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    for failure in failures:
        warn(f"could not tag {failure['file']}: {failure['error']}")
    if args.output:
        print(f"tagged {len(results)} file(s), {len(failures)} failed; wrote {args.output}", file=sys.stderr)
    return 0 if results or not files else 1


def render(results: list[dict], failures: list[dict], fmt: str) -> str:
    """The output text: one JSON document, JSON lines, or CSV rows (clip and segment level)."""
    if fmt == "json":
        return json.dumps({"files": results, "failed": failures}, indent=1) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(item) + "\n" for item in results + failures)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "level", "start", "end", "rank", "label", "probability"])
    for item in results:
        spans = [("clip", 0.0, item["duration"], item["tags"])]
        spans += [("segment", s["start"], s["end"], s["tags"]) for s in item.get("segments", [])]
        for level, start, end, tags in spans:
            for rank, tag in enumerate(tags, 1):
                writer.writerow([item["file"], level, start, end, rank, tag["label"], tag["probability"]])
    return buffer.getvalue()
