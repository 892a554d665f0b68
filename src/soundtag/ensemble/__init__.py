"""Ensemble stage: combine class probabilities of several runs."""

from soundtag.ensemble.combine import METHODS, combine_probabilities, select_runs
from soundtag.ensemble.runs import EnsembleResult, RunScores, ensemble_runs, write_ensemble

__all__ = ["METHODS", "EnsembleResult", "RunScores", "combine_probabilities", "ensemble_runs", "select_runs",
           "write_ensemble"]
