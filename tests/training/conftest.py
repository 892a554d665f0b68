"""Fixtures of the training tests: single-threaded torch and the shared tiny feature cache."""

import pytest

from tests.training.tiny_run import shared_cache_dir, single_thread_torch


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield


@pytest.fixture(scope="session")
def feature_cache_dir(tmp_path_factory):
    return shared_cache_dir(tmp_path_factory)
