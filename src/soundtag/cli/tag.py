"""``soundtag tag``: tag files and folders of audio with a trained run."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

from soundtag.cli.common import warn
from soundtag.errors import SoundtagError
from soundtag.runs import BEST_CHECKPOINT


SEGMENT_SECONDS = (0.01, 86400.0)
"""Bounds of ``--segment`` and ``--hop``: 10 ms (one frame of the usual 10 ms feature hop) to a day."""

CSV_HEADER = ["file", "level", "start", "end", "rank", "label", "probability", "error"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tag`` and ``merge`` subcommands."""
    parser = subparsers.add_parser(
        "tag", help="tag audio files and folders",
        description="Tag wav/flac/ogg/mp3 files (folders are searched recursively) with RUN_DIR's model; "
                    "files longer than one segment also get per-segment tags with times.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train, or a model file "
                        "written by soundtag export (.onnx, .pt)")
    parser.add_argument("paths", metavar="PATH", nargs="+", help="audio files or folders")
    parser.add_argument("--format", choices=("json", "jsonl", "csv"),
                        help="output format (default: json; sharded tagging always writes jsonl). A file that cannot "
                             "be tagged is a record with an error (a CSV row of level 'error'); CSV cells starting "
                             "with = + - @ get a leading ' so spreadsheets show them as text")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (atomically) instead of stdout; never one "
                        "of the inputs, and checked for writability before tagging starts")
    parser.add_argument("--top-k", type=int, metavar="K", help="labels per file and segment (default: 3); a "
                        "multi-label run gives those at or above their class's threshold, at most K, possibly none")
    parser.add_argument("--threshold", type=float, metavar="T",
                        help="give the labels whose probability is at least T (0 to 1), at most --top-k, possibly "
                             "none, in place of a multi-label run's per-class thresholds (thresholds.json); a "
                             "single-label run then tags by T too instead of always giving its top K")
    low, high = SEGMENT_SECONDS
    parser.add_argument("--segment", type=float, metavar="SECONDS",
                        help=f"segment length, {low:g} to {high:g} s (default: training window)")
    parser.add_argument("--hop", type=float, metavar="SECONDS",
                        help=f"segment hop, {low:g} to {high:g} s (default: the segment length)")
    parser.add_argument("--framewise", action="store_true", default=None,
                        help="one pass of the model over long blocks; segment tags from its frame-wise outputs "
                             "(default: the run's tag.framewise)")
    parser.add_argument("--checkpoint", default=BEST_CHECKPOINT,
                        help=f"checkpoint in RUN_DIR (default: {BEST_CHECKPOINT})")
    parser.add_argument("--shard", metavar="K/N", help="tag only shard K of N of the sorted file list and write "
                        "JSON lines to -o with .shard-K-of-N.jsonl in place of its extension, for soundtag merge "
                        "(automatic under torchrun)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)

    merge = subparsers.add_parser("merge", help="join the JSONL outputs of sharded tagging",
                                  description="Check that shards 1..N (the .shard-K-of-N.jsonl files of soundtag tag "
                                              "--shard) are all present with no file tagged twice, then write one "
                                              "output sorted by file.")
    merge.add_argument("shards", metavar="SHARD", nargs="+", help="files written by soundtag tag --shard")
    merge.add_argument("-o", "--output", metavar="FILE", required=True,
                       help="merged output (written atomically; never one of the shards)")
    merge.add_argument("--format", choices=("json", "jsonl", "csv"), default="jsonl",
                       help="output format (default: jsonl; see soundtag tag --help)")
    merge.set_defaults(run=run_merge)
    register_export(subparsers)


def shard_of(args: argparse.Namespace) -> tuple[int, int] | None:
    """The shard to tag: ``--shard K/N``, else rank+1 of world size under torchrun, else None."""
    import os

    from soundtag.inference.shards import parse_shard

    if args.shard:
        return parse_shard(args.shard)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")) + 1, world) if world > 1 else None


def seconds_option(value: float | None, option: str) -> float | None:
    """``--segment`` or ``--hop`` checked against :data:`SEGMENT_SECONDS` (NaN and infinity refused)."""
    low, high = SEGMENT_SECONDS
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise SoundtagError(f"{option} {value:g}: give a length from {low:g} to {high:g} seconds")
    return value


def run(args: argparse.Namespace) -> int:
    """Tag every file, list the ones that failed, and write the output in one go."""
    from tqdm.auto import tqdm

    from soundtag.audio import display_name, is_audio_file
    from soundtag.data import find_audio_files
    from soundtag.errors import AudioError
    from soundtag.fileio import atomic_write_text
    from soundtag.inference import Tagger
    from soundtag.outputs import NOT_FINITE, check_output, has_non_finite, run_files

    if args.top_k is not None and args.top_k <= 0:
        raise SoundtagError("--top-k must be positive")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:  # NaN fails too
        raise SoundtagError(f"--threshold {args.threshold:g}: give a probability from 0 to 1")
    segment, hop = seconds_option(args.segment, "--segment"), seconds_option(args.hop, "--hop")
    files = find_audio_files(args.paths)
    model_file = Path(args.run_dir).is_file()
    shard = shard_of(args)
    fmt = args.format or ("jsonl" if shard else "json")
    if shard:
        from soundtag.inference.shards import shard_items, shard_path

        if not args.output:
            raise SoundtagError("sharded tagging needs -o FILE (each shard writes FILE.shard-K-of-N.jsonl)")
        if fmt != "jsonl":
            raise SoundtagError(f"sharded tagging writes JSON lines for soundtag merge; give --format {fmt} to "
                                "soundtag merge instead")
        args.output = str(shard_path(args.output, *shard))
    if args.output:
        inputs = [*files, *([args.run_dir] if model_file else run_files(args.run_dir))]
        check_output(args.output, inputs=inputs, searched=[p for p in args.paths if Path(p).is_dir()],
                     reads=is_audio_file, option="-o")
    if model_file:
        from soundtag.inference.export import ExportedTagger

        tagger = ExportedTagger(args.run_dir)
    else:
        tagger = Tagger.from_run(args.run_dir, checkpoint=args.checkpoint)
    if shard:
        files = shard_items(files, *shard)
    results, failures = [], []
    hours = 0.0
    bar = tqdm(total=len(files), unit="file", desc="tagging", disable=args.quiet)
    framewise = tagger.default_framewise if args.framewise is None else args.framewise
    for tags in tagger.tag_files(files, segment, hop, args.top_k, framewise, args.threshold):
        bar.update()
        if isinstance(tags, AudioError):
            failures.append({"file": display_name(tags.path), "error": tags.problem})
            continue
        record = tags.to_dict()
        if has_non_finite(record):
            failures.append({"file": display_name(tags.path), "error": NOT_FINITE})
            continue
        results.append(record)
        hours += tags.duration / 3600
        bar.set_postfix(audio_h=f"{hours:.3f}", refresh=False)
    bar.close()
    text = render(results, failures, fmt)
    if args.output:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    for failure in failures:
        warn(f"could not tag {failure['file']}: {failure['error']}")
    for record in results:
        if record.get("silent"):
            warn(f"{record['file']}: silent (every sample is 0): its tags say nothing about it")
    if args.output:
        print(f"tagged {len(results)} file(s), {len(failures)} failed; wrote {args.output}", file=sys.stderr)
    return 0 if results or not files else 1


def render(results: list[dict], failures: list[dict], fmt: str) -> str:
    """The output text: one JSON document, JSON lines, or CSV rows (clip and segment level, and one
    row of level ``error`` per failed file; a clip or segment given no label, as a multi-label run may
    say, is one row with empty rank, label and probability). JSON never holds NaN or infinity (a record with them is
    refused here: the callers turn it into an error record first); CSV text cells never start a
    formula (:func:`soundtag.outputs.spreadsheet_cell`)."""
    from soundtag.outputs import spreadsheet_cell

    if fmt == "json":
        return json.dumps({"files": results, "failed": failures}, indent=1, allow_nan=False) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(item, allow_nan=False) + "\n" for item in results + failures)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    rows = []
    for item in results:
        spans = [("clip", 0.0, item["duration"], item["tags"])]
        spans += [("segment", s["start"], s["end"], s["tags"]) for s in item.get("segments", [])]
        for level, start, end, tags in spans:
            for rank, tag in enumerate(tags, 1):
                rows.append([item["file"], level, start, end, rank, tag["label"], tag["probability"], ""])
            if not tags:
                rows.append([item["file"], level, start, end, "", "", "", ""])
    rows += [[item["file"], "error", "", "", "", "", "", item["error"]] for item in failures]
    writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def register_export(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export", help="export a run as one waveform-to-probabilities graph",
        description="Write the run's feature front-end and CNN as one ONNX or TorchScript graph that takes "
                    "(batch, samples) waveforms at the run's sample rate; soundtag tag can run it.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="graph format")
    parser.add_argument("-o", "--output", metavar="FILE", required=True,
                        help="file to write (atomically; never a file of RUN_DIR)")
    parser.add_argument("--checkpoint", default=BEST_CHECKPOINT,
                        help=f"checkpoint in RUN_DIR (default: {BEST_CHECKPOINT})")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export and say where."""
    from soundtag.inference.export import export_run

    path = export_run(args.run_dir, args.format, args.output, args.checkpoint)
    print(f"wrote {args.format} model to {path}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """Join shard outputs into one file."""
    from soundtag.fileio import atomic_write_text
    from soundtag.inference.shards import read_shards
    from soundtag.outputs import check_output

    check_output(args.output, inputs=args.shards, option="-o")
    records = read_shards(args.shards)
    results = [r for r in records if "error" not in r]
    failures = [r for r in records if "error" in r]
    atomic_write_text(args.output, render(results, failures, args.format))
    print(f"merged {len(records)} record(s) from {len(args.shards)} shard(s) into {args.output}", file=sys.stderr)
    return 0
