"""Audio stage: decode any file to mono float32, resample, and cut long files into segments."""

from soundtag.audio.decode import AUDIO_EXTENSIONS, AudioInfo, audio_info, is_audio_file, load_audio
from soundtag.audio.resample import resample
from soundtag.audio.segment import Segment, stream_segments

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioInfo",
    "Segment",
    "audio_info",
    "is_audio_file",
    "load_audio",
    "resample",
    "stream_segments",
]
