"""Audio stage: decode any file to mono float32, resample, and cut long files into segments, reading
every file as a stream of bounded blocks."""

from soundtag.audio.decode import (
    AUDIO_EXTENSIONS,
    MAX_PEAK,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioInfo,
    AudioStream,
    audio_info,
    is_audio_file,
    load_audio,
)
from soundtag.audio.files import check_file, display_name
from soundtag.audio.resample import resample
from soundtag.audio.segment import (
    Segment,
    Windower,
    split_signal,
    stream_layouts,
    stream_segments,
    stream_windows,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "MAX_PEAK",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "AudioInfo",
    "AudioStream",
    "Segment",
    "Windower",
    "audio_info",
    "check_file",
    "display_name",
    "is_audio_file",
    "load_audio",
    "resample",
    "split_signal",
    "stream_layouts",
    "stream_segments",
    "stream_windows",
]
