"""``soundtag embed``: export a run's clip and segment embeddings of audio files as one ``.npz``."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from soundtag.cli.common import (
    InputsFailed,
    add_output_file,
    add_quiet_option,
    add_strict_option,
    add_threads_option,
    exit_status,
    positive_int,
    use_threads,
    warn,
)
from soundtag.errors import SoundtagError
from soundtag.runs import BEST_CHECKPOINT


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``embed`` subcommand."""
    from soundtag.cli.tag import device_option

    parser = subparsers.add_parser(
        "embed", help="export clip and segment embeddings of audio files",
        description="Write the model's embeddings (its last hidden vector, model.embed) of every file to one .npz: "
                    "'files' (names), 'clip' (n_files, dim), 'segment' (n_segments, dim) with 'segment_file' "
                    "(index into files), 'segment_start' and 'segment_end' (seconds); files that could not be read "
                    "in 'failed' and 'failed_error'. Segments are the windows of the file-level tags (the training "
                    "window, a short trailing piece joined to the window before it); a clip embedding is their "
                    "duration-weighted mean, as a file's tags are.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by soundtag train, or a model folder "
                        "written by soundtag export --format hf")
    parser.add_argument("paths", metavar="PATH", nargs="+", help="audio files or folders")
    add_output_file(parser, "the .npz to write (atomically; never one of the inputs)", required=True)
    parser.add_argument("--checkpoint", default=BEST_CHECKPOINT,
                        help=f"checkpoint in RUN_DIR (default: {BEST_CHECKPOINT})")
    parser.add_argument("--device", type=device_option, default="auto",
                        help="cpu, cuda, cuda:N or auto (default: auto, the GPU when there is one)")
    parser.add_argument("--batch-size", type=positive_int, metavar="N",
                        help="segments per model batch (default: the run's tag.batch_size)")
    add_strict_option(parser, "a file cannot be embedded (nothing is written)")
    add_threads_option(parser)
    add_quiet_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Embed every file and write the arrays in one go."""
    import numpy as np
    from tqdm.auto import tqdm

    from soundtag.audio import display_name, is_audio_file
    from soundtag.cli.tag import check_device
    from soundtag.data import find_audio_files
    from soundtag.errors import AudioError
    from soundtag.fileio import atomic_write
    from soundtag.inference.pretrained import load_tagger
    from soundtag.outputs import NOT_FINITE, check_output, run_files

    if Path(args.output).suffix.lower() != ".npz":
        raise SoundtagError(f"-o {args.output}: embeddings are written as .npz; give a name ending in .npz")
    if Path(args.run_dir).is_file():
        raise SoundtagError(f"{args.run_dir}: embeddings need a run folder (an exported graph gives probabilities only)")
    files = find_audio_files(args.paths)
    check_output(args.output, inputs=[*files, *run_files(args.run_dir)],
                 searched=[p for p in args.paths if Path(p).is_dir()], reads=is_audio_file, option="-o")
    check_device(args.device, exported=False)
    use_threads(args.threads)
    tagger = load_tagger(args.run_dir, checkpoint=args.checkpoint, device=args.device)
    if args.batch_size:
        tagger.batch_size = args.batch_size
    names, clips, segments, owners, starts, ends, failed, errors = [], [], [], [], [], [], [], []
    for path in tqdm(files, unit="file", desc="embedding", disable=True if args.quiet else None):
        try:
            clip, windows, rows = tagger.file_embeddings(path)
        except AudioError as exc:
            clip, windows, rows, problem = None, [], None, exc.problem
        else:
            problem = None if np.isfinite(clip).all() and np.isfinite(rows).all() else NOT_FINITE
        if problem:
            if args.strict:
                raise InputsFailed(f"could not embed {display_name(path)}: {problem} (--strict: nothing written)")
            warn(f"could not embed {display_name(path)}: {problem}")
            failed.append(display_name(path))
            errors.append(problem)
            continue
        owners += [len(names)] * len(windows)
        names.append(display_name(path))
        clips.append(clip.astype(np.float32))
        segments.append(rows.astype(np.float32))
        starts += [w.start for w in windows]
        ends += [w.end for w in windows]
    dim = clips[0].shape[0] if clips else 0
    arrays = {
        "files": np.array(names, dtype=str), "clip": np.stack(clips) if clips else np.zeros((0, dim), np.float32),
        "segment": np.concatenate(segments) if segments else np.zeros((0, dim), np.float32),
        "segment_file": np.array(owners, dtype=np.int64), "segment_start": np.array(starts, dtype=np.float64),
        "segment_end": np.array(ends, dtype=np.float64), "failed": np.array(failed, dtype=str),
        "failed_error": np.array(errors, dtype=str),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_write(args.output, "wb") as handle:
        handle.write(buffer.getbuffer())
    print(f"embedded {len(names)} file(s) ({len(owners)} segments, {dim} dimensions), {len(failed)} failed; "
          f"wrote {args.output}", file=sys.stderr)
    return exit_status(len(failed), len(names))
