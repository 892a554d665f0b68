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

from soundtag.cli.common import warn
from soundtag.errors import SoundtagError
from soundtag.runs import BEST_CHECKPOINT


SEGMENT_SECONDS = (0.01, 86400.0)
"""Bounds of ``--segment`` and ``--hop``: 10 ms (one frame of the usual 10 ms feature hop) to a day."""

CSV_HEADER = ["file", "level", "start", "end", "rank", "label", "probability", "error"]
FORMATS = ("json", "jsonl", "csv")
PROVENANCE_KEY = "soundtag"
"""The key of the provenance record that starts a JSON lines output (``{"soundtag": {...}}``)."""
RESUME_KEYS = ("run_digest", "checkpoint", "sample_rate", "segment", "hop", "framewise", "file_window", "top_k",
               "thresholds")
"""The provenance fields that ``--resume`` requires to be the same (the run and its settings)."""


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
    parser.add_argument("--format", choices=FORMATS,
                        help="output format (default: from -o's extension .json, .jsonl or .csv, else json; sharded "
                             "tagging always writes jsonl). A file that cannot be tagged is a record with an error "
                             "(a CSV row of level 'error'); CSV cells starting with = + - @ get a leading ' so "
                             "spreadsheets show them as text")
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
    parser.add_argument("--device", type=device_option, default="auto",
                        help="cpu, cuda, cuda:N or auto (default: the GPU when there is one)")
    parser.add_argument("--batch-size", type=positive_int, metavar="N",
                        help="segments per model batch (default: the run's tag.batch_size)")
    parser.add_argument("--threads", type=positive_int, metavar="N", help="CPU threads of torch (torch.set_num_threads)")
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


def positive_int(text: str) -> int:
    """An option's whole number of at least 1 (``--batch-size``, ``--threads``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least 1")
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


def run(args: argparse.Namespace) -> int:
    """Tag every file; write JSON lines as they come, or JSON or CSV in one go; list the ones that failed."""
    from tqdm.auto import tqdm

    from soundtag.audio import display_name, is_audio_file
    from soundtag.data import find_audio_files
    from soundtag.errors import AudioError
    from soundtag.inference import Tagger
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
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if model_file:
        from soundtag.inference.export import ExportedTagger

        tagger = ExportedTagger(args.run_dir)
    else:
        tagger = Tagger.from_run(args.run_dir, checkpoint=args.checkpoint, device=args.device)
    if args.batch_size:
        tagger.batch_size = args.batch_size
    framewise = tagger.default_framewise if args.framewise is None else args.framewise
    provenance = tagger.provenance(segment, hop, args.top_k, framewise, args.threshold)
    if shard:
        files = shard_items(files, *shard)
    lines = None
    if fmt == "jsonl":
        lines = JsonLines(args.output, provenance, args.resume)
        files = [f for f in files if display_name(f) not in lines.recorded]
    results, failures = [], []
    hours = 0.0
    bar = tqdm(total=len(files), unit="file", desc="tagging", disable=args.quiet)
    try:
        for tags in tagger.tag_files(files, segment, hop, args.top_k, framewise, args.threshold):
            record = ({"file": display_name(tags.path), "error": tags.problem} if isinstance(tags, AudioError)
                      else tags.to_dict())
            if "error" not in record and has_non_finite(record):
                record = {"file": record["file"], "error": NOT_FINITE}
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
    if args.output:
        kept = f" ({earlier} already there)" if earlier else ""
        print(f"tagged {len(results)} file(s), {len(failures)} failed{kept}; wrote {args.output}", file=sys.stderr)
    return 0 if results or earlier or not files else 1


class JsonLines:
    """JSON lines written as results arrive: to stdout, or to a file whose first line is the provenance
    record (``{"soundtag": {...}}``) and which every record is appended to and flushed, so a killed job
    keeps each finished file (no atomic rename: it cannot stream). ``resume`` keeps what an earlier
    run of the same settings wrote (:attr:`recorded` names its files), cutting a half-written last line.
    """

    def __init__(self, output: str | None, provenance: dict, resume: bool) -> None:
        self.recorded: set[str] = set()
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
        return len(complete)

    def write(self, record: dict) -> None:
        self.handle.write(json.dumps(record, allow_nan=False) + "\n")
        self.handle.flush()

    def close(self) -> None:
        if self.handle is not sys.stdout:
            self.handle.close()


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
    from soundtag.inference.shards import read_shards, shard_provenance
    from soundtag.outputs import check_output

    check_output(args.output, inputs=args.shards, option="-o")
    records = read_shards(args.shards)
    results = [r for r in records if "error" not in r]
    failures = [r for r in records if "error" in r]
    atomic_write_text(args.output, render(results, failures, args.format, shard_provenance(args.shards)))
    print(f"merged {len(records)} record(s) from {len(args.shards)} shard(s) into {args.output}", file=sys.stderr)
    return 0
