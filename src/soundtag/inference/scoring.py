"""Score a run's best model on a corpus split: ``eval-<split>/metrics.json`` beside the run, and the
probabilities an ensemble combines. (Pictures of the scores are drawn by ``soundtag.reports``.)
"""

from __future__ import annotations

import json
from pathlib import Path

from soundtag.data import Corpus, empty_split_reason, read_corpus
from soundtag.ensemble import RunScores
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text
from soundtag.inference.evaluate import EvaluationResult, evaluate_clips
from soundtag.inference.tagger import Tagger
from soundtag.runs import RunFolder


def other_corpus_name(run_corpus: str | Path, corpus: Corpus) -> str | None:
    """The folder name of ``corpus`` when it is not ``run_corpus`` (the corpus a run was trained on),
    else None."""
    own = Path(run_corpus).expanduser().resolve()
    here = Path(corpus.root).expanduser().resolve()
    return None if here == own else here.name


def evaluation_dir(run_dir: str | Path, corpus: Corpus, split: str) -> Path:
    """Where :func:`evaluate_split` writes the scores of the run in ``run_dir`` on ``corpus``'s ``split``."""
    folder = RunFolder(run_dir)
    return folder.evaluation_dir(split, other_corpus_name(folder.read_config().data.corpus, corpus))


def evaluate_split(tagger: Tagger, corpus: Corpus, split: str, cache_dir: str | None, progress: bool = True
                   ) -> tuple[EvaluationResult, dict]:
    """Score a run on the ``test`` or ``train`` clips of ``corpus``; write ``eval-<split>/metrics.json``,
    or ``eval-<split>-<corpus name>/metrics.json`` when ``corpus`` is not the run's own (see
    :meth:`~soundtag.runs.RunFolder.evaluation_dir`). Clips of labels the run does not know are
    counted in ``n_unknown_label`` and described by ``result.describe_unknown()``. A multi-label run on a
    multi-label corpus is scored on its clips without labels too (they hold none of the classes)."""
    if tagger.run_dir is None:
        raise SoundtagError("evaluate_split writes beside a run: load the tagger with Tagger.from_run")
    clips = corpus.test if split == "test" else corpus.train
    if not clips:
        raise SoundtagError(f"{corpus.root}: {empty_split_reason(corpus, split)}")
    result = evaluate_clips(tagger, clips, cache_dir or tagger.config.data.cache_dir, progress,
                            negatives=corpus.multi_label)
    result.corpus_name = other_corpus_name(tagger.config.data.corpus, corpus)
    if not result.fnames:
        unknown = f" ({result.describe_unknown()})" if result.unknown else ""
        raise SoundtagError(f"{corpus.root}: none of the {split} clips could be evaluated{unknown}")
    metrics = {"split": split, "corpus": str(corpus.root), **result.metrics()}
    out = RunFolder(tagger.run_dir).evaluation_dir(split, result.corpus_name)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    return result, metrics


def score_run(run_dir: str | Path, corpus_dir: str | None = None, cache_dir: str | None = None,
              progress: bool = True) -> RunScores:
    """Test-split probabilities of a run's best model, with its validation score
    (``eval-test/metrics.json`` is written beside it)."""
    tagger = Tagger.from_run(run_dir)
    if tagger.multi_label:
        raise SoundtagError(f"{run_dir}: a multi-label run; ensembles combine single-label runs scored by MAP@3")
    corpus = read_corpus(corpus_dir or tagger.config.data.corpus)
    result, _ = evaluate_split(tagger, corpus, "test", cache_dir, progress)
    return RunScores(Path(run_dir), RunFolder(run_dir).best_score(), result.fnames, result.probabilities,
                     result.targets, result.labels)
