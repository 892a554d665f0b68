"""``soundtag review``: a local web page where a person verifies, most doubted first, the labels of a
corpus's unverified clips; the decisions go to ``REVIEW_DIR/reviewed.csv`` (``soundtag train --reviewed``)."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from soundtag.cli.common import add_out_dir, add_quiet_option, warn
from soundtag.errors import SoundtagError

if TYPE_CHECKING:
    import pandas as pd

    from soundtag.config import RunConfig
    from soundtag.data import Corpus
    from soundtag.labels.review.ranking import ModelProbabilities

def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``review`` subcommand."""
    parser = subparsers.add_parser(
        "review", help="verify doubtful labels by ear in a local web page",
        description="Rank the corpus's unverified clips by how likely their label is wrong (confident learning, "
                    "label spreading and, with --run, the run's model), serve them on a local web page with audio, "
                    "log-mel picture and suggestions, and record each key press in REVIEW_DIR/reviewed.csv. Prints "
                    "the address to open (with its access token) on stdout.")
    parser.add_argument("corpus", nargs="?", metavar="CORPUS",
                        help="corpus folder or manifest CSV (default: the corpus of --run or --experiment)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", dest="run_dir", metavar="RUN_DIR", help="also rank and suggest with this run's model "
                        "(default: none; suggestions from confident learning's out-of-fold probabilities)")
    source.add_argument("--experiment", dest="experiment_dir", metavar="EXP_DIR", help="use this experiment's "
                        "cleaning outputs (spread-SCHEME/promoted.csv, recipe/clean-confident/promoted.csv) and its "
                        "runs/promoted model where present (default: none)")
    add_out_dir(parser, "review folder: reviewed.csv, ranking.csv, pictures/ (default: RUN_DIR-review or "
                "EXP_DIR-review beside it, else ./<corpus name>-review)", metavar="REVIEW_DIR")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this "
                        "machine only; 0.0.0.0 opens the page to the network, with a warning)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: 0, a free one)")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: the run's "
                        "data.cache_dir, else $XDG_CACHE_HOME/soundtag or ~/.cache/soundtag)")
    parser.add_argument("--rank-again", action="store_true", help="compute the ranking anew (default: reuse "
                        "REVIEW_DIR/ranking.csv when it was made from the same corpus, labels and run)")
    add_quiet_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Rank (or reuse the ranking), then serve the page until Ctrl-C."""
    require_server_packages()
    from soundtag.config import LogMelConfig
    from soundtag.data import read_corpus
    from soundtag.labels.review.decisions import DecisionLog
    from soundtag.labels.review.pictures import Pictures
    from soundtag.labels.review.server import ReviewSession, create_app, new_token
    from soundtag.runs import RunFolder, hold_lock

    config, source_dir = source_config(args)
    corpus_path = args.corpus or (config.data.corpus if source_dir else None)
    if not corpus_path:
        raise SoundtagError("review needs a CORPUS (or --run RUN_DIR / --experiment EXP_DIR to take theirs)")
    corpus = read_corpus(corpus_path)
    review_dir = review_folder(args, corpus, source_dir)
    cache_dir = str(Path(args.cache_dir).resolve()) if args.cache_dir else config.data.cache_dir
    with hold_lock(RunFolder(review_dir)):
        log = DecisionLog(review_dir)
        if log.torn:
            warn(f"{log.path}: its last line was cut off by an interrupted write; that decision is dropped")
        ranking = ranked(args, config, corpus, review_dir, cache_dir, source_dir)
        if ranking.empty:
            raise SoundtagError(f"{corpus.root}: no unverified train clip could be ranked; nothing to review")
        features = config.features if isinstance(config.features, LogMelConfig) else LogMelConfig()
        pictures = Pictures(review_dir / "pictures", config.audio, features, cache_dir)
        source = f"ranked with {args.run_dir or args.experiment_dir}" if source_dir else "ranked by the cleaners"
        session = ReviewSession(corpus, ranking, log, pictures, source)
        token = new_token()
        serve(create_app(session, token), args.host, args.port, token, review_dir, len(ranking))
        counts = session.counts()
    print(f"stopped: {counts['reviewed']} of {counts['clips']} clips reviewed, {counts['changed']} labels changed; "
          f"train with --reviewed {log.path}", file=sys.stderr)
    return 0


def require_server_packages() -> None:
    """Starlette and uvicorn (the ``review`` extra), or one line saying how to install them."""
    import importlib.util

    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise SoundtagError(f"review needs {' and '.join(missing)}: pip install 'soundtag[review]'")


def source_config(args: argparse.Namespace) -> tuple[RunConfig, Path | None]:
    """The config of ``--run`` or ``--experiment`` (the defaults without), and that folder."""
    from soundtag.config import RunConfig, load_config
    from soundtag.runs import RunFolder

    if args.run_dir:
        return RunFolder(args.run_dir).read_config(), Path(args.run_dir)
    if args.experiment_dir:
        path = Path(args.experiment_dir) / "config.yaml"
        if not path.is_file():
            raise SoundtagError(f"--experiment {args.experiment_dir}: no config.yaml; is it a `soundtag experiment` "
                                "folder?")
        return load_config(path), Path(args.experiment_dir)
    return RunConfig(), None


def review_folder(args: argparse.Namespace, corpus: Corpus, source_dir: Path | None) -> Path:
    """``--out-dir``, or the default beside the run or experiment (else in the working folder), checked: never
    inside the corpus, and writable."""
    from soundtag.outputs import check_output

    root = Path(corpus.root)
    default = (source_dir.parent / f"{source_dir.resolve().name}-review" if source_dir
               else Path(f"{(root if root.is_dir() else root.parent).resolve().name}-review"))
    folder = Path(args.out_dir) if args.out_dir else default
    base = (root if root.is_dir() else root.parent).resolve()
    if folder.resolve() == base or base in folder.resolve().parents:
        raise SoundtagError(f"--out-dir {folder}: lies inside the corpus {base}; a review never writes there")
    return check_output(folder, inputs=[root] + ([source_dir] if source_dir else []), folder=True,
                        option="--out-dir")


def ranked(args: argparse.Namespace, config: RunConfig, corpus: Corpus, review_dir: Path, cache_dir: str | None,
           source_dir: Path | None) -> pd.DataFrame:
    """The ranking saved in the review folder when it was made from the same inputs, else a new one (saved)."""
    from soundtag.labels.review.ranking import (
        experiment_promoted,
        rank_unverified,
        ranking_key,
        read_ranking,
        write_ranking,
    )

    model_dir = Path(args.run_dir) if args.run_dir else source_dir / "runs" / "promoted" if source_dir else None
    key = ranking_key(corpus, source_dir, model_dir)
    table = None if args.rank_again else read_ranking(review_dir, key)
    if table is not None:
        return table
    print(f"ranking the unverified clips of {corpus.root}...", file=sys.stderr)
    model = model_probabilities(model_dir, corpus, cache_dir, not args.quiet)
    promoted = experiment_promoted(source_dir, config.clean.groups) if args.experiment_dir else None
    table = rank_unverified(corpus, config.clean, config.audio, cache_dir, config.seed, config.data.num_workers,
                            model, promoted, not args.quiet)
    write_ranking(table, review_dir, key)
    return table


def model_probabilities(model_dir: Path | None, corpus: Corpus, cache_dir: str | None, progress: bool
                        ) -> ModelProbabilities | None:
    """The probabilities of the unverified clips from the model of ``model_dir`` (``--run``, or an
    experiment's runs/promoted), None without one."""
    from soundtag.inference import Tagger
    from soundtag.inference.evaluate import clip_probabilities
    from soundtag.labels.review.ranking import ModelProbabilities

    if model_dir is None or not (model_dir / "best.pt").is_file():
        return None
    tagger = Tagger.from_run(model_dir)
    clips, probs, _ = clip_probabilities(tagger, [c for c in corpus.train if not c.verified], cache_dir, progress)
    return ModelProbabilities([c.fname for c in clips], probs, tagger.labels)


def serve(app, host: str, port: int, token: str, review_dir: Path, clips: int) -> None:
    """Listen on ``host:port`` (a free port for 0), print the address with the token, serve until Ctrl-C (or
    SIGTERM)."""
    import uvicorn

    if not is_loopback(host):
        warn(f"--host {host}: the review page is open to other machines; anyone with the address and its "
             "token can hear the corpus and record decisions")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections made as soon as the address is printed wait for the server
    except OSError as exc:
        sock.close()
        raise SoundtagError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"{clips} clips to review; decisions go to {review_dir / 'reviewed.csv'}; Ctrl-C stops", file=sys.stderr)
    print(f"http://{shown}:{sock.getsockname()[1]}/?token={token}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the Ctrl-C again once it has shut down: the normal way to stop
        pass


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
