"""Ensemble stage: combine class probabilities of several runs."""

from soundtag.ensemble.combine import METHODS, combine_probabilities, select_runs

__all__ = ["METHODS", "combine_probabilities", "select_runs"]
