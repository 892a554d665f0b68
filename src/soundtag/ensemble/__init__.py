"""Ensemble stage: combine class probabilities of several runs."""

from soundtag.ensemble.combine import METHODS, combine_probabilities, select_runs
from soundtag.ensemble.runs import (
    EnsembleResult,
    RunScores,
    collapse_reason,
    ensemble_runs,
    top_class_share,
    write_ensemble,
)

__all__ = ["METHODS", "EnsembleResult", "RunScores", "collapse_reason", "combine_probabilities", "ensemble_runs",
           "select_runs", "top_class_share", "write_ensemble"]
