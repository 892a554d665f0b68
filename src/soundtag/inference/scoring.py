"""Score a run's best model on a corpus split: ``eval-<split>/metrics.json`` beside the run, and the
probabilities an ensemble combines. (Pictures of the scores are drawn by ``soundtag.reports``.)
"""

from __future__ import annotations

import json
from pathlib import Path

from soundtag.data import Corpus, read_corpus
from soundtag.ensemble import RunScores
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.inference.evaluate import EvaluationResult, evaluate_clips
from soundtag.inference.tagger import Tagger
from soundtag.runs import RunFolder


def evaluate_split(tagger: Tagger, corpus: Corpus, split: str, cache_dir: str | None, progress: bool = True
                   ) -> tuple[EvaluationResult, dict]:
    """Score a run on the ``test`` or ``train`` clips of ``corpus``; write ``eval-<split>/metrics.json``."""
    if tagger.run_dir is None:
        raise SoundtagError("evaluate_split writes beside a run: load the tagger with Tagger.from_run")
    clips = corpus.test if split == "test" else corpus.train
    if not clips:
        raise SoundtagError(f"{corpus.root}: no {split} clips to evaluate")
    result = evaluate_clips(tagger, clips, cache_dir or tagger.config.data.cache_dir, progress)
    if not result.fnames:
        raise SoundtagError(f"{corpus.root}: none of the {split} clips could be evaluated")
    metrics = {"split": split, "corpus": str(corpus.root), **result.metrics()}
    out = RunFolder(tagger.run_dir).evaluation_dir(split)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    return result, metrics


def score_run(run_dir: str | Path, corpus_dir: str | None = None, cache_dir: str | None = None,
              progress: bool = True) -> RunScores:
    """Test-split probabilities of a run's best model, with its validation score
    (``eval-test/metrics.json`` is written beside it)."""
    tagger = Tagger.from_run(run_dir)
    corpus = read_corpus(corpus_dir or tagger.config.data.corpus)
    result, _ = evaluate_split(tagger, corpus, "test", cache_dir, progress)
    return RunScores(Path(run_dir), RunFolder(run_dir).best_score(), result.fnames, result.probabilities,
                     result.targets, result.labels)
