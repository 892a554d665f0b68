"""Inference stage: load a trained run and tag clips, files and whole folders."""

from soundtag.inference.evaluate import EvaluationResult, evaluate_clips, write_submission
from soundtag.inference.scoring import evaluation_dir, evaluate_split, score_run
from soundtag.inference.tagger import FileTags, SegmentTags, Tagger

__all__ = ["EvaluationResult", "FileTags", "SegmentTags", "Tagger", "evaluate_clips", "evaluate_split",
           "evaluation_dir", "score_run", "write_submission"]
