"""Training stage: metrics, validation split, checkpoints, windowed prediction and the trainer.

Names are imported when first used (PEP 562), so that a module that needs one torch-free helper (e.g.
:func:`~soundtag.training.metrics.top_k`) does not import torch with the trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from soundtag.lazy import lazy_attributes

_LAZY = {
    "checkpoint_weights": "soundtag.training.checkpoint",
    "load_checkpoint": "soundtag.training.checkpoint",
    "load_weights": "soundtag.training.checkpoint",
    "save_checkpoint": "soundtag.training.checkpoint",
    "weights_mismatch": "soundtag.training.checkpoint",
    "accuracy": "soundtag.training.metrics",
    "choose_thresholds": "soundtag.training.metrics",
    "confusion": "soundtag.training.metrics",
    "f1_scores": "soundtag.training.metrics",
    "lwlrap": "soundtag.training.metrics",
    "map_at_k": "soundtag.training.metrics",
    "mean_average_precision": "soundtag.training.metrics",
    "per_class_average_precision": "soundtag.training.metrics",
    "top_k": "soundtag.training.metrics",
    "PreparedRun": "soundtag.training.run",
    "feature_bins": "soundtag.training.run",
    "prepare_training": "soundtag.training.run",
    "resume_run": "soundtag.training.run",
    "seed_everything": "soundtag.training.run",
    "start_run": "soundtag.training.run",
    "window_frames": "soundtag.training.run",
    "validation_split": "soundtag.training.split",
    "EpochLoop": "soundtag.training.loop",
    "NonFiniteError": "soundtag.training.loop",
    "TrainResult": "soundtag.training.loop",
    "Trainer": "soundtag.training.trainer",
    "TrainingSet": "soundtag.training.trainer",
    "resolve_device": "soundtag.training.trainer",
    "target_matrix": "soundtag.training.trainer",
    "activation": "soundtag.training.windows",
    "clip_windows": "soundtag.training.windows",
    "predict_clips": "soundtag.training.windows",
    "window_starts": "soundtag.training.windows",
}

if TYPE_CHECKING:
    from soundtag.training.checkpoint import (
        checkpoint_weights, load_checkpoint, load_weights, save_checkpoint, weights_mismatch
    )
    from soundtag.training.metrics import (
        accuracy, choose_thresholds, confusion, f1_scores, lwlrap, map_at_k, mean_average_precision,
        per_class_average_precision, top_k
    )
    from soundtag.training.run import (
        PreparedRun, feature_bins, prepare_training, resume_run, seed_everything, start_run, window_frames
    )
    from soundtag.training.split import validation_split
    from soundtag.training.loop import EpochLoop, NonFiniteError, TrainResult
    from soundtag.training.trainer import Trainer, TrainingSet, resolve_device, target_matrix
    from soundtag.training.windows import activation, clip_windows, predict_clips, window_starts


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "EpochLoop",
    "NonFiniteError",
    "PreparedRun",
    "Trainer",
    "TrainResult",
    "TrainingSet",
    "accuracy",
    "activation",
    "checkpoint_weights",
    "choose_thresholds",
    "clip_windows",
    "confusion",
    "f1_scores",
    "feature_bins",
    "load_checkpoint",
    "load_weights",
    "lwlrap",
    "map_at_k",
    "mean_average_precision",
    "per_class_average_precision",
    "predict_clips",
    "prepare_training",
    "resolve_device",
    "resume_run",
    "save_checkpoint",
    "seed_everything",
    "start_run",
    "target_matrix",
    "top_k",
    "validation_split",
    "weights_mismatch",
    "window_frames",
    "window_starts",
]
