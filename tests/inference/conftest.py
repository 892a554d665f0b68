"""Fixtures of the inference tests: one tiny trained demo run shared by every test here."""

from __future__ import annotations

import pytest

from soundtag.training import start_run
from tests.training.tiny_run import shared_cache_dir, single_thread_torch, tiny_config


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="session")
def feature_cache_dir(tmp_path_factory):
    return shared_cache_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, feature_cache_dir):
    """A run folder trained for one epoch on the demo corpus (tiny model, 1 s windows)."""
    run_dir = tmp_path_factory.mktemp("tiny-run")
    with single_thread_torch():
        start_run(tiny_config(feature_cache_dir, "train.epochs=1"), run_dir, progress=False)
    return run_dir
