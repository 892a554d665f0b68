"""Training stage: metrics, validation split, checkpoints, windowed prediction and the trainer."""

from soundtag.training.checkpoint import load_checkpoint, save_checkpoint
from soundtag.training.metrics import accuracy, confusion, map_at_k, per_class_average_precision, top_k
from soundtag.training.run import (
    CONFIG_FILE,
    LABEL_MAP_FILE,
    feature_bins,
    prepare_training,
    resume_run,
    start_run,
    window_frames,
)
from soundtag.training.split import validation_split
from soundtag.training.loop import EpochLoop, TrainResult
from soundtag.training.trainer import Trainer, TrainingSet, resolve_device
from soundtag.training.windows import clip_windows, predict_clips, window_starts

__all__ = [
    "CONFIG_FILE",
    "EpochLoop",
    "LABEL_MAP_FILE",
    "Trainer",
    "TrainResult",
    "TrainingSet",
    "accuracy",
    "clip_windows",
    "confusion",
    "feature_bins",
    "load_checkpoint",
    "map_at_k",
    "per_class_average_precision",
    "predict_clips",
    "prepare_training",
    "resolve_device",
    "resume_run",
    "save_checkpoint",
    "start_run",
    "top_k",
    "validation_split",
    "window_frames",
    "window_starts",
]
