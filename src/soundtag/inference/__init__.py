"""Inference stage: load a trained run and tag clips, files and whole folders.

Names are imported when first used (PEP 562): tagging with an exported ONNX graph
(:mod:`soundtag.inference.graph`) goes through this package without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from soundtag.lazy import lazy_attributes

_LAZY = {
    "EvaluationResult": "soundtag.inference.evaluate",
    "evaluate_clips": "soundtag.inference.evaluate",
    "write_submission": "soundtag.inference.evaluate",
    "evaluation_dir": "soundtag.inference.scoring",
    "evaluate_split": "soundtag.inference.scoring",
    "score_run": "soundtag.inference.scoring",
    "FileTags": "soundtag.inference.segments",
    "SegmentTags": "soundtag.inference.segments",
    "Tagger": "soundtag.inference.tagger",
}

if TYPE_CHECKING:
    from soundtag.inference.evaluate import EvaluationResult, evaluate_clips, write_submission
    from soundtag.inference.scoring import evaluate_split, evaluation_dir, score_run
    from soundtag.inference.segments import FileTags, SegmentTags
    from soundtag.inference.tagger import Tagger


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = ["EvaluationResult", "FileTags", "SegmentTags", "Tagger", "evaluate_clips", "evaluate_split",
           "evaluation_dir", "score_run", "write_submission"]
