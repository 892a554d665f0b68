"""Models stage: the 2018 recipe's CNNs, found by name in a registry."""

from soundtag.models.cnn import BlockTagger
from soundtag.models.registry import MODELS, build_model, count_parameters, model_summary

__all__ = ["MODELS", "BlockTagger", "build_model", "count_parameters", "model_summary"]
