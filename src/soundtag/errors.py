"""Errors that soundtag reports to a user as one line, never as a traceback.

Every error soundtag raises on purpose is a :class:`SoundtagError` (``except soundtag.SoundtagError``
catches them all); three kinds say where the problem lies:

- :class:`ConfigError`: a config file or a ``--set`` override;
- :class:`CorpusError`: a corpus folder, manifest or CSV;
- :class:`AudioError`: one audio file (or array), named in :attr:`~AudioError.path`, with the
  problem in :attr:`~AudioError.problem`.

Anything else (a ``ValueError`` from a wrong argument, an ``OSError``) is a bug or a programming
error, not a problem of the user's data.
"""

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
