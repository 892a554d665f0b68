"""The Python API's two whole-run steps, as ``soundtag train`` and ``soundtag evaluate`` do them: train a
run folder from a config, and score a run on a corpus split. Both are reached as ``soundtag.train``
and ``soundtag.evaluate``; tagging is :class:`soundtag.Tagger`.
"""

from __future__ import annotations

from pathlib import Path

from soundtag.config import RunConfig, load_config
from soundtag.data import read_corpus
from soundtag.inference import Tagger, evaluate_split
from soundtag.runs import BEST_CHECKPOINT, RunFolder
from soundtag.training import TrainResult, start_run

SPLITS = ("test", "train")


def train(config: RunConfig | str | Path, out_dir: str | Path, progress: bool = False) -> TrainResult:
    """Train the run of ``config`` (a :class:`~soundtag.config.RunConfig`, or a YAML file read with
    :func:`~soundtag.config.load_config`) in ``out_dir``; a folder holding a run of the same config is
    resumed (or left as it is when finished), another config is refused (see :mod:`soundtag.runs`).
    ``progress`` shows progress bars. Returns where training ended: best score, epoch, history."""
    if not isinstance(config, RunConfig):
        config = load_config(config)
    result, _ = start_run(config, out_dir, progress)
    return result


def evaluate(run_dir: str | Path, corpus: str | Path | None = None, split: str = "test",
             checkpoint: str = BEST_CHECKPOINT, progress: bool = False) -> dict:
    """Score the run in ``run_dir`` on ``split`` (``test`` or ``train``) of ``corpus`` (a corpus folder or
    manifest CSV; by default the run's own ``data.corpus``), as ``soundtag evaluate`` does, and return its
    metrics (e.g. ``map3`` and ``accuracy``, or ``lwlrap`` and ``map`` of a multi-label run), which are
    also written to the run's ``eval-<split>/metrics.json``. The pictures are the command's alone."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    config = RunFolder(run_dir).read_config()
    tagger = Tagger.from_run(run_dir, checkpoint=checkpoint)
    _, metrics = evaluate_split(tagger, read_corpus(corpus or config.data.corpus), split,
                                config.data.cache_dir, progress)
    return metrics
