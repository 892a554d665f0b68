"""soundtag: train, evaluate and run general-purpose audio taggers from noisily labelled sound.

The Python API, next to the ``soundtag`` command::

    import soundtag

    result = soundtag.train(soundtag.load_config("configs/demo.yaml"), "runs/demo")
    metrics = soundtag.evaluate("runs/demo")
    tagger = soundtag.Tagger.from_run("runs/demo")
    tags = tagger.tag_file("clip.flac")          # or tagger.tag_array(samples, sample_rate)

``import soundtag`` stays light: torch and the stages are imported when a name below is first used
(the errors excepted, which are plain exceptions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from soundtag.errors import AudioError, ConfigError, CorpusError, SoundtagError
from soundtag.lazy import lazy_attributes

__version__ = "0.1.0"

#: Names given lazily, each with the module that defines it.
_LAZY = {
    "Tagger": "soundtag.inference.tagger",
    "FileTags": "soundtag.inference.segments",
    "SegmentTags": "soundtag.inference.segments",
    "RunConfig": "soundtag.config",
    "load_config": "soundtag.config",
    "TrainResult": "soundtag.training.loop",
    "train": "soundtag.api",
    "evaluate": "soundtag.api",
}

__all__ = ["AudioError", "ConfigError", "CorpusError", "SoundtagError", "__version__", *_LAZY]

if TYPE_CHECKING:
    from soundtag.api import evaluate, train
    from soundtag.config import RunConfig, load_config
    from soundtag.inference.segments import FileTags, SegmentTags
    from soundtag.inference.tagger import Tagger
    from soundtag.training.loop import TrainResult


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), listed=__all__)
