"""Features stage: the seed's spectrogram, log-mel, MFCC and raw waveform, batched with torch.stft."""

from soundtag.features.transforms import (
    MFCC,
    FeatureTransform,
    LogMel,
    Raw,
    Spectrogram,
    build_transform,
    extract_batch,
)

__all__ = ["MFCC", "FeatureTransform", "LogMel", "Raw", "Spectrogram", "build_transform", "extract_batch"]
