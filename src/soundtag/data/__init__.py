"""Data stage: corpora in their layouts and label maps, the splits a layout does not give, the on-disk
feature cache, extraction, and batching.

The corpus names are imported at once; the rest (which needs torch) when first used, so that commands
that only read a corpus (``soundtag corpus``) start without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from soundtag.lazy import lazy_attributes

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

_LAZY = {
    "FeatureCache": "soundtag.data.cache",
    "default_cache_dir": "soundtag.data.cache",
    "Example": "soundtag.data.dataset",
    "FeatureDataset": "soundtag.data.dataset",
    "collate_whole": "soundtag.data.dataset",
    "examples_from": "soundtag.data.dataset",
    "fit_width": "soundtag.data.dataset",
    "make_loader": "soundtag.data.dataset",
    "ExtractionReport": "soundtag.data.extract",
    "cache_features": "soundtag.data.extract",
    "choose_training_clips": "soundtag.data.selection",
    "examples_for": "soundtag.data.selection",
    "read_extra_labels": "soundtag.data.selection",
    "write_split": "soundtag.data.splits",
}

if TYPE_CHECKING:
    from soundtag.data.cache import FeatureCache, default_cache_dir
    from soundtag.data.dataset import Example, FeatureDataset, collate_whole, examples_from, fit_width, make_loader
    from soundtag.data.extract import ExtractionReport, cache_features
    from soundtag.data.selection import choose_training_clips, examples_for, read_extra_labels
    from soundtag.data.splits import write_split


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


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
    "write_split",
]
