"""Features stage: the 2018 recipe's spectrogram, log-mel, MFCC and raw waveform, batched with torch.stft.
Each kind is a config class and a transform registered together (:func:`register_feature`)."""

from soundtag.features.registry import register_feature
from soundtag.features.transforms import (
    MFCC,
    FeatureTransform,
    LogMel,
    LogMelConfig,
    MfccConfig,
    Raw,
    RawConfig,
    Spectrogram,
    SpectrogramConfig,
    build_transform,
    extract_batch,
)

__all__ = [
    "MFCC",
    "FeatureTransform",
    "LogMel",
    "LogMelConfig",
    "MfccConfig",
    "Raw",
    "RawConfig",
    "Spectrogram",
    "SpectrogramConfig",
    "build_transform",
    "extract_batch",
    "register_feature",
]
