"""Data stage: corpora and label maps, the on-disk feature cache, extraction, and batching."""

from soundtag.data.cache import FeatureCache, default_cache_dir
from soundtag.data.corpus import (
    Clip,
    Corpus,
    LabelMap,
    clips_of,
    describe_rejected,
    empty_split_reason,
    find_audio_files,
    is_corpus,
    read_corpus,
    read_folder,
    safe_audio_path,
)
from soundtag.data.dataset import Example, FeatureDataset, collate_whole, examples_from, fit_width, make_loader
from soundtag.data.extract import ExtractionReport, cache_features
from soundtag.data.selection import choose_training_clips, examples_for, read_extra_labels

__all__ = [
    "Clip",
    "Corpus",
    "Example",
    "ExtractionReport",
    "FeatureCache",
    "FeatureDataset",
    "LabelMap",
    "cache_features",
    "choose_training_clips",
    "clips_of",
    "collate_whole",
    "default_cache_dir",
    "describe_rejected",
    "empty_split_reason",
    "examples_for",
    "examples_from",
    "find_audio_files",
    "fit_width",
    "is_corpus",
    "make_loader",
    "read_corpus",
    "read_extra_labels",
    "read_folder",
    "safe_audio_path",
]
