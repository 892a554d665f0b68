"""Training stage: metrics, validation split, checkpoints, windowed prediction and the trainer."""

from soundtag.training.checkpoint import (
    checkpoint_weights,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    weights_mismatch,
)
from soundtag.training.metrics import (
    accuracy,
    choose_thresholds,
    confusion,
    f1_scores,
    lwlrap,
    map_at_k,
    mean_average_precision,
    per_class_average_precision,
    top_k,
)
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
from soundtag.training.trainer import Trainer, TrainingSet, resolve_device, target_matrix
from soundtag.training.windows import activation, clip_windows, predict_clips, window_starts

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
