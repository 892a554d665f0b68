"""``soundtag tag``: tag files and folders of audio with a trained run."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from soundtag.cli.common import (
    InputsFailed,
    add_out_dir,
    add_quiet_option,
    add_strict_option,
    add_threads_option,
    exit_status,
    positive_int,
    resolved_threads,
    use_threads,
    warn,
)
from soundtag.errors import ConfigError, SoundtagError
from soundtag.runs import BEST_CHECKPOINT

if TYPE_CHECKING:
    from soundtag.config import EventsConfig
    from soundtag.inference.segments import SegmentTagger


SEGMENT_SECONDS = (0.01, 86400.0)
"""Bounds of ``--segment`` and ``--hop``: 10 ms (one frame of the usual 10 ms feature hop) to a day."""

CSV_HEADER = ["file", "level", "start", "end", "rank", "label", "probability", "error"]
TRACK_FORMATS = {"audacity": ".labels.txt", "raven": ".selections.txt"}
"""The formats written as one file per input (Audacity label tracks, Raven Pro selection tables), each
with the ending that replaces its input's extension; they imply ``--events``."""
FORMATS = ("json", "jsonl", "csv", *TRACK_FORMATS)
EVENT_OPTIONS = {"threshold": "event_threshold", "hysteresis": "hysteresis", "min_duration": "min_duration",
                 "merge_gap": "merge_gap"}
"""The ``tag.events`` settings that options override: field -> option's destination."""
PROVENANCE_KEY = "soundtag"
"""The key of the provenance record that starts a JSON lines output (``{"soundtag": {...}}``)."""
RESUME_KEYS = ("run_digest", "checkpoint", "sample_rate", "segment", "hop", "framewise", "file_window", "top_k",
               "window_floor_db", "thresholds", "events")
"""The provenance fields that ``--resume`` requires to be the same (the run and its settings)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tag`` and ``merge`` subcommands."""
    parser = subparsers.add_parser(
        "tag", help="tag audio files and folders",
        description="Tag wav/flac/ogg/mp3 files (folders are searched recursively) with RUN_DIR's model; "
                    "files longer than one segment also get per-segment tags with times.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train, a model file "
                        "written by soundtag export (.onnx, .pt), or a model folder written by soundtag export "
                        "--format hf")
    parser.add_argument("paths", metavar="PATH", nargs="+", help="audio files or folders")
    parser.add_argument("--format", choices=FORMATS,
                        help="output format (default: from -o's extension .json, .jsonl or .csv, else json; sharded "
                             "tagging always writes jsonl). A file that cannot be tagged is a record with an error "
                             "(a CSV row of level 'error'); CSV cells starting with = + - @ get a leading ' so "
                             "spreadsheets show them as text. audacity (label tracks, NAME.labels.txt) and raven "
                             "(Raven Pro selection tables, NAME.selections.txt) write each file's events (they "
                             "imply --events): to -o FILE or stdout for one input, else one file per input in "
                             "--out-dir DIR")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout; never one of the inputs, "
                        "and checked for writability before tagging starts. JSON and CSV are written atomically "
                        "when every file is tagged; JSON lines are appended and flushed file by file (a killed "
                        "job keeps every finished file), after a first line with the run and settings")
    parser.add_argument("--resume", action="store_true", help="continue the JSON lines of -o FILE.jsonl: skip the "
                        "files it records (tagged or failed), rewrite a half-written last line, append the rest; "
                        "refused when FILE was written with another run or other settings")
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
    parser.add_argument("--events", action="store_true",
                        help="add each file's sound events (label, onset, offset, peak probability in 'events'; CSV "
                             "rows of level 'event'), read off the model's frame-wise outputs with the run's "
                             "tag.events settings and the options below")
    parser.add_argument("--event-threshold", type=float, metavar="T",
                        help="an event starts where its class's probability reaches T, 0 to 1, for every class "
                             "(default: tag.events.threshold, else a multi-label run's per-class thresholds, else 0.5)")
    parser.add_argument("--event-thresholds", metavar="FILE",
                        help="JSON of per-class event thresholds, {label: T} or a thresholds.json's "
                             "{\"thresholds\": {...}}, for the classes it names (default: tag.events.thresholds)")
    parser.add_argument("--hysteresis", type=float, metavar="R",
                        help="an event lasts while the probability stays at or above R times its threshold, R in "
                             "(0, 1]; 1: one threshold (default: tag.events.hysteresis, 0.5)")
    parser.add_argument("--min-duration", type=float, metavar="SECONDS",
                        help="drop events shorter than this (default: tag.events.min_duration, 0)")
    parser.add_argument("--merge-gap", type=float, metavar="SECONDS",
                        help="join events of one class at most this far apart (default: tag.events.merge_gap, 0)")
    add_out_dir(parser, "with --format audacity or raven: write one file per input here, named after the input "
                        "(in the same subfolder as below the PATH folder it was found in), each written atomically "
                        "when its file is tagged")
    parser.add_argument("--device", type=device_option, default="auto",
                        help="cpu, cuda, cuda:N or auto (default: the GPU when there is one)")
    parser.add_argument("--batch-size", type=positive_int, metavar="N",
                        help="segments per model batch (default: the run's tag.batch_size)")
    add_threads_option(parser)
    parser.add_argument("--checkpoint", default=BEST_CHECKPOINT,
                        help=f"checkpoint in RUN_DIR (default: {BEST_CHECKPOINT})")
    parser.add_argument("--shard", metavar="K/N", help="tag only shard K of N of the sorted file list and write "
                        "JSON lines to -o with .shard-K-of-N.jsonl in place of its extension, for soundtag merge "
                        "(automatic under torchrun)")
    add_strict_option(parser, "a file cannot be tagged (tagging stops there: JSON and CSV are not written, JSON "
                      "lines keep the files before it)")
    add_quiet_option(parser)
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


def device_option(text: str) -> str:
    """``--device``: cpu, cuda, cuda:N or auto."""
    if not re.fullmatch(r"cpu|auto|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r}: give cpu, cuda, cuda:N or auto")
    return text


def output_format(fmt: str | None, output: str | None, sharded: bool) -> str:
    """The format: ``--format``, else -o's extension (.json, .jsonl, .csv), else json (jsonl when
    sharded); a ``--format`` that contradicts -o's extension is refused."""
    suffix = Path(output).suffix.lower().lstrip(".") if output else ""
    implied = suffix if suffix in FORMATS else None
    if fmt and implied and fmt != implied and not sharded:
        raise SoundtagError(f"--format {fmt} contradicts -o {output} (a .{implied} file); give -o a .{fmt} name "
                            "or leave --format out")
    return fmt or ("jsonl" if sharded else implied or "json")


def check_device(name: str, exported: bool) -> None:
    """Refuse a device that is not here, or a GPU for an exported graph (which runs on the CPU)."""
    if exported and name not in ("cpu", "auto"):
        raise SoundtagError(f"--device {name}: an exported model runs on the CPU (onnxruntime or TorchScript); "
                            "tag with the run folder to use a GPU")
    if name.startswith("cuda"):
        import torch

        index = int(name.partition(":")[2] or 0)
        if not torch.cuda.is_available():
            raise SoundtagError(f"--device {name}: CUDA is not available here")
        if index >= torch.cuda.device_count():
            raise SoundtagError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")


def load_model(args: argparse.Namespace) -> SegmentTagger:
    """The tagger of RUN_DIR on ``--threads`` threads: an exported graph file by onnxruntime (torch is
    never imported for a ``.onnx`` file) or TorchScript, else a model or run folder by torch."""
    if Path(args.run_dir).is_file():
        from soundtag.inference.graph import ExportedTagger

        return ExportedTagger(args.run_dir, threads=resolved_threads(args.threads))
    from soundtag.inference.pretrained import load_tagger

    use_threads(args.threads)
    return load_tagger(args.run_dir, checkpoint=args.checkpoint, device=args.device)


def run(args: argparse.Namespace) -> int:
    """Tag every file; write JSON lines as they come, or JSON or CSV in one go; list the ones that failed."""
    from tqdm.auto import tqdm

    from soundtag.audio import display_name, is_audio_file
    from soundtag.data import find_audio_files
    from soundtag.errors import AudioError
    from soundtag.outputs import NOT_FINITE, check_output, has_non_finite, run_files

    if args.top_k is not None and args.top_k <= 0:
        raise SoundtagError("--top-k must be positive")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:  # NaN fails too
        raise SoundtagError(f"--threshold {args.threshold:g}: give a probability from 0 to 1")
    segment, hop = seconds_option(args.segment, "--segment"), seconds_option(args.hop, "--hop")
    if segment is not None and hop is not None and hop > segment:
        raise SoundtagError(f"--hop {hop:g} is longer than --segment {segment:g}: the audio between segments "
                            "would go untagged")
    files = find_audio_files(args.paths)
    model_file = Path(args.run_dir).is_file()
    shard = shard_of(args)
    fmt = output_format(args.format, args.output, bool(shard))
    targets = track_targets(fmt, files, args.paths, args.output, args.out_dir)
    if shard:
        from soundtag.inference.shards import shard_items, shard_path

        if not args.output:
            raise SoundtagError("sharded tagging needs -o FILE (each shard writes FILE.shard-K-of-N.jsonl)")
        if fmt != "jsonl":
            raise SoundtagError(f"sharded tagging writes JSON lines for soundtag merge; give --format {fmt} to "
                                "soundtag merge instead")
        args.output = str(shard_path(args.output, *shard))
    if args.resume and (fmt != "jsonl" or not args.output):
        raise SoundtagError("--resume continues JSON lines: give -o FILE.jsonl")
    if args.output:
        inputs = [*files, *([args.run_dir] if model_file else run_files(args.run_dir))]
        check_output(args.output, inputs=inputs, searched=[p for p in args.paths if Path(p).is_dir()],
                     reads=is_audio_file, option="-o")
    check_device(args.device, model_file)
    tagger = load_model(args)
    if args.batch_size:
        tagger.batch_size = args.batch_size
    framewise = tagger.default_framewise if args.framewise is None else args.framewise
    events = event_settings(args, fmt, tagger)
    provenance = tagger.provenance(segment, hop, args.top_k, framewise, args.threshold, events)
    if shard:
        files = shard_items(files, *shard)
    lines = None
    if fmt == "jsonl":
        lines = JsonLines(args.output, provenance, args.resume)
        files = [f for f in files if display_name(f) not in lines.recorded]
    elif targets is not None:
        lines = LabelTracks(fmt, targets, provenance["sample_rate"] / 2)
    results, failures = [], []
    hours = 0.0
    bar = tqdm(total=len(files), unit="file", desc="tagging", disable=True if args.quiet else None)
    try:
        for tags in tagger.tag_files(files, segment, hop, args.top_k, framewise, args.threshold, events):
            record = ({"file": display_name(tags.path), "error": tags.problem} if isinstance(tags, AudioError)
                      else tags.to_dict())
            if "error" not in record and has_non_finite(record):
                record = {"file": record["file"], "error": NOT_FINITE}
            if "error" in record and args.strict:
                raise InputsFailed(f"could not tag {record['file']}: {record['error']} (--strict)")
            (failures if "error" in record else results).append(record)
            if lines is not None:
                lines.write(record)
            if "error" not in record:
                hours += tags.duration / 3600
                bar.set_postfix(audio_h=f"{hours:.3f}", refresh=False)
            bar.update()
    finally:
        bar.close()
        if lines is not None:
            lines.close()
    if lines is None:
        text = render(results, failures, fmt, provenance)
        if args.output:
            from soundtag.fileio import atomic_write_text

            atomic_write_text(args.output, text)
        else:
            sys.stdout.write(text)
    for failure in failures:
        warn(f"could not tag {failure['file']}: {failure['error']}")
    for record in results:
        if record.get("silent"):
            warn(f"{record['file']}: silent (every sample is 0): its tags say nothing about it")
    earlier = len(lines.recorded) if lines is not None else 0
    failed_before = lines.failed_before if lines is not None else 0
    if args.output or args.out_dir:
        kept = f" ({earlier} already there)" if earlier else ""
        print(f"tagged {len(results)} file(s), {len(failures)} failed{kept}; wrote {args.output or args.out_dir}",
              file=sys.stderr)
    return exit_status(len(failures) + failed_before, len(results) + earlier - failed_before)


class JsonLines:
    """JSON lines written as results arrive: to stdout, or to a file whose first line is the provenance
    record (``{"soundtag": {...}}``) and which every record is appended to and flushed, so a killed job
    keeps each finished file (no atomic rename: it cannot stream). ``resume`` keeps what an earlier
    run of the same settings wrote (:attr:`recorded` names its files), cutting a half-written last line.
    """

    def __init__(self, output: str | None, provenance: dict, resume: bool) -> None:
        self.recorded: set[str] = set()
        self.failed_before = 0
        """How many of the :attr:`recorded` files are error records."""
        if output is None:
            self.handle = sys.stdout
            return
        from soundtag.fileio import WriteError, describe_os_error

        path = Path(output)
        keep = 0
        if resume and path.exists():
            keep = self._read_earlier(path, provenance)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if keep:
                with open(path, "r+b") as handle:
                    handle.truncate(keep)
                self.handle = open(path, "a", encoding="utf-8", newline="")
            else:
                self.handle = open(path, "w", encoding="utf-8", newline="")
                self.write({PROVENANCE_KEY: provenance})
        except OSError as exc:
            raise WriteError(path, f"cannot be written, {describe_os_error(exc)}", exc.errno) from None

    def _read_earlier(self, path: Path, provenance: dict) -> int:
        """The bytes of ``path`` to keep (its complete lines; 0: start over), after checking that it
        was written with ``provenance``'s run and settings; fills :attr:`recorded`."""
        from soundtag.inference.shards import is_provenance, record_problem

        data = path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]  # a last line without its newline was cut by a kill
        lines = complete.split(b"\n")[:-1]
        if not lines:
            return 0
        try:
            head = json.loads(lines[0])
        except ValueError:
            head = None
        if not is_provenance(head):
            raise SoundtagError(f"{path}: its first line is not a soundtag provenance record; --resume continues "
                                "only JSON lines written by soundtag tag -o")
        earlier = head[PROVENANCE_KEY]
        for key in RESUME_KEYS:
            if earlier.get(key) != provenance.get(key):
                raise SoundtagError(f"{path}: written with another {key} ({earlier.get(key)!r}, now "
                                    f"{provenance.get(key)!r}); --resume continues only the same run and settings")
        for number, line in enumerate(lines[1:], 2):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            problem = record_problem(record)
            if problem:
                raise SoundtagError(f"{path}:{number}: not a soundtag tag record ({problem}); --resume cannot "
                                    "continue it")
            self.recorded.add(record["file"])
            self.failed_before += "error" in record
        return len(complete)

    def write(self, record: dict) -> None:
        self.handle.write(json.dumps(record, allow_nan=False) + "\n")
        self.handle.flush()

    def close(self) -> None:
        if self.handle is not sys.stdout:
            self.handle.close()


def event_settings(args: argparse.Namespace, fmt: str, tagger: SegmentTagger) -> EventsConfig | None:
    """The event settings of this job: the run's ``tag.events`` with the event options given; None
    without ``--events`` or a format that implies it. Checked against the tagger (labels of
    ``--event-thresholds``, frame-wise outputs) before any output is written."""
    import dataclasses

    given = [option_name(dest) for dest in EVENT_OPTIONS.values() if getattr(args, dest) is not None]
    if not (args.events or fmt in TRACK_FORMATS):
        if given or args.event_thresholds:  # else they would be dropped without a word
            options = ", ".join(given + ["--event-thresholds"] * bool(args.event_thresholds))
            raise ConfigError(f"{options}: event options apply to events; add --events (or --format audacity|raven)")
        return None
    base = tagger.default_events
    changes = {name: getattr(args, dest) for name, dest in EVENT_OPTIONS.items() if getattr(args, dest) is not None}
    if args.event_thresholds:
        changes["thresholds"] = {**base.thresholds, **read_event_thresholds(args.event_thresholds)}
    try:
        events = dataclasses.replace(base, **changes)
    except ConfigError as exc:  # the settings' own checks, said of the options that gave the values
        raise ConfigError(flag_names(str(exc), args.event_thresholds)) from None
    tagger.event_reader(events)
    return events


def flag_names(message: str, thresholds_file: str | None) -> str:
    """A ``tag.events`` check's message with each setting named by the option that set it.

    >>> flag_names("tag.events.min_duration must be >= 0, got -1.0", None)
    '--min-duration must be >= 0, got -1.0'
    """
    for name, dest in EVENT_OPTIONS.items():
        message = message.replace(f"tag.events.{name} ", f"{option_name(dest)} ")
    return message.replace("tag.events.thresholds:", f"--event-thresholds {thresholds_file}:")


def option_name(dest: str) -> str:
    """The command-line spelling of an option's destination (``min_duration``: ``--min-duration``)."""
    return "--" + dest.replace("_", "-")


def read_event_thresholds(path: str) -> dict:
    """The per-class thresholds of ``--event-thresholds FILE``: a JSON object ``{label: threshold}``, or one
    with such an object under ``"thresholds"`` (a run's ``thresholds.json``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SoundtagError(f"--event-thresholds {path}: cannot be read as JSON ({exc})") from None
    data = data.get("thresholds", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise SoundtagError(f"--event-thresholds {path}: not a JSON object of label: threshold")
    return data


def track_targets(fmt: str, files: list[Path], paths: list[str], output: str | None,
                  out_dir: str | None) -> dict | None:
    """Where each file's Audacity label track or Raven selection table goes (display name -> (input, output
    file, or None for stdout)), or None for the other formats. ``--out-dir DIR``: one per input, named
    after it with :data:`TRACK_FORMATS`'s ending in place of its extension, in DIR itself for a file
    given by name and in the same subfolder of DIR for a file found in a folder of ``paths``;
    ``-o FILE`` or stdout: one input only."""
    import os

    from soundtag.audio import display_name
    from soundtag.outputs import check_output

    if fmt not in TRACK_FORMATS:
        if out_dir:
            raise SoundtagError(f"--out-dir is for one file per input (--format {' or '.join(TRACK_FORMATS)}); "
                                f"give --format {fmt} an output file with -o")
        return None
    if output and out_dir:
        raise SoundtagError("give -o FILE (one input) or --out-dir DIR (one file per input), not both")
    if not out_dir:
        if len(files) > 1:
            raise SoundtagError(f"--format {fmt} writes one file per input: give --out-dir DIR for {len(files)} "
                                "files (-o FILE or stdout take one)")
        return {display_name(f): (f, Path(output) if output else None) for f in files}
    check_output(out_dir, inputs=files, folder=True, option="--out-dir")
    roots = [os.path.abspath(p) for p in paths if os.path.isdir(p)]
    targets = {}
    for path in files:
        folder = os.path.dirname(os.path.abspath(path))
        root = next((r for r in roots if os.path.commonpath([r, folder]) == r), folder)
        target = Path(out_dir, os.path.relpath(folder, root), Path(path).stem + TRACK_FORMATS[fmt])
        clash = next((f for f, t in targets.values() if t == target), None)
        if clash is not None:
            raise SoundtagError(f"--out-dir {out_dir}: {clash} and {path} would both write {target}; tag them "
                                "separately")
        targets[display_name(path)] = (path, target)
    return targets


class LabelTracks:
    """Audacity label tracks or Raven selection tables (:data:`TRACK_FORMATS`), one per tagged file, each
    written (atomically, to its place in ``targets``, see :func:`track_targets`) as soon as its file is
    tagged; a file that failed gets none (it is reported on stderr as in every format). Raven
    selections span 0 to ``high_freq`` Hz. Nothing is resumed: :attr:`recorded` stays empty."""

    def __init__(self, fmt: str, targets: dict, high_freq: float) -> None:
        self.fmt, self.targets, self.high_freq = fmt, targets, high_freq
        self.recorded: set[str] = set()
        self.failed_before = 0

    def write(self, record: dict) -> None:
        import os

        from soundtag.fileio import atomic_write_text
        from soundtag.inference.events import Event, audacity_labels, raven_selections

        if "error" in record:
            return
        source, target = self.targets[record["file"]]
        events = [Event(**event) for event in record["events"]]
        text = (audacity_labels(events) if self.fmt == "audacity"
                else raven_selections(events, os.path.abspath(source), self.high_freq))
        if target is None:
            sys.stdout.write(text)
        else:
            atomic_write_text(target, text)

    def close(self) -> None:
        """Nothing to close: each file is written whole."""


def render(results: list[dict], failures: list[dict], fmt: str, provenance: dict | None = None) -> str:
    """The output text: one JSON document (with ``provenance`` first when given), JSON lines (the
    provenance record first when given), or CSV rows (clip and segment level, and one row of level
    ``error`` per failed file; a clip or segment given no label, as a multi-label run may say, is one
    row with empty rank, label and probability). JSON never holds NaN or infinity (a record with them
    is refused here: the callers turn it into an error record first); CSV text cells never start a
    formula (:func:`soundtag.outputs.spreadsheet_cell`)."""
    from soundtag.outputs import spreadsheet_cell

    if fmt == "json":
        head = {"provenance": provenance} if provenance else {}
        return json.dumps({**head, "files": results, "failed": failures}, indent=1, allow_nan=False) + "\n"
    if fmt == "jsonl":
        head = [{PROVENANCE_KEY: provenance}] if provenance else []
        return "".join(json.dumps(item, allow_nan=False) + "\n" for item in head + results + failures)
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
        rows += [[item["file"], "event", e["onset"], e["offset"], "", e["label"], e["probability"], ""]
                 for e in item.get("events", [])]
    rows += [[item["file"], "error", "", "", "", "", "", item["error"]] for item in failures]
    writer.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def register_export(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export", help="export a run as one graph file, or as a model folder to share",
        description="Write the run's feature front-end and CNN as one ONNX or TorchScript graph that takes "
                    "(batch, samples) waveforms at the run's sample rate, or (--format hf) a Hugging Face-style "
                    "model folder: model.safetensors, config.json and a model card README.md with the run's test "
                    "metrics (from soundtag evaluate), which soundtag.Tagger.from_pretrained loads from disk. "
                    "soundtag tag runs either.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train")
    parser.add_argument("--format", choices=("onnx", "torchscript", "hf"), default="onnx",
                        help="onnx or torchscript: one graph file; hf: a model folder (default: onnx)")
    parser.add_argument("-o", "--output", metavar="PATH", required=True,
                        help="the file (onnx, torchscript) or folder (hf) to write, atomically; never RUN_DIR, a "
                             "file of it or (hf) a folder inside it. An hf folder that exists must be empty or an "
                             "earlier export, which is replaced")
    parser.add_argument("--checkpoint", default=BEST_CHECKPOINT,
                        help=f"checkpoint in RUN_DIR (default: {BEST_CHECKPOINT})")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export, and say where on stderr."""
    from soundtag.inference.export import export_run

    path = export_run(args.run_dir, args.format, args.output, args.checkpoint)
    what = "model folder" if args.format == "hf" else "model"
    print(f"wrote {args.format} {what} to {path}", file=sys.stderr)
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """Join shard outputs into one file."""
    from soundtag.fileio import atomic_write_text
    from soundtag.inference.shards import read_shards, shard_provenance
    from soundtag.outputs import check_output

    check_output(args.output, inputs=args.shards, option="-o")
    records = read_shards(args.shards)
    results = [r for r in records if "error" not in r]
    failures = [r for r in records if "error" in r]
    atomic_write_text(args.output, render(results, failures, args.format, shard_provenance(args.shards)))
    print(f"merged {len(records)} record(s) from {len(args.shards)} shard(s) into {args.output}", file=sys.stderr)
    return 0
