"""Errors that soundtag reports to a user as one line, never as a traceback."""

from __future__ import annotations

from pathlib import Path


class SoundtagError(Exception):
    """A problem with the user's input or settings, worded for the user."""


class ConfigError(SoundtagError):
    """A config file or a ``--set`` override is invalid."""


class CorpusError(SoundtagError):
    """A corpus folder or one of its CSV files is missing or malformed."""


class AudioError(SoundtagError):
    """An audio file cannot be decoded or holds unusable samples."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
