"""Training stage: metrics, validation split, checkpoints, windowed prediction and the trainer."""

from soundtag.training.checkpoint import (
    checkpoint_weights,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    weights_mismatch,
)
from soundtag.training.metrics import accuracy, confusion, map_at_k, per_class_average_precision, top_k
from soundtag.training.run import (
    PreparedRun,
    feature_bins,
    prepare_training,
    resume_run,
    seed_everything,
    start_run,
    window_frames,
)
from soundtag.training.split import validation_split
from soundtag.training.loop import EpochLoop, NonFiniteError, TrainResult
from soundtag.training.trainer import Trainer, TrainingSet, resolve_device
from soundtag.training.windows import clip_windows, predict_clips, window_starts

__all__ = [
    "EpochLoop",
    "NonFiniteError",
    "PreparedRun",
    "Trainer",
    "TrainResult",
    "TrainingSet",
    "accuracy",
    "checkpoint_weights",
    "clip_windows",
    "confusion",
    "feature_bins",
    "load_checkpoint",
    "load_weights",
    "map_at_k",
    "per_class_average_precision",
    "predict_clips",
    "prepare_training",
    "resolve_device",
    "resume_run",
    "save_checkpoint",
    "seed_everything",
    "start_run",
    "top_k",
    "validation_split",
    "weights_mismatch",
    "window_frames",
    "window_starts",
]
